"""Backbone (timm), parameter groups, metrics, the Mid rule and the LightningModule."""
