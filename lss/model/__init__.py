"""Backbone (timm), parameter groups, metrics, decoding and the LightningModule."""
