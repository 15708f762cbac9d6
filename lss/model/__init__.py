"""Selectors: the contract and registry (selector.py), backbones, parameter groups, checkpoint files and the
selectors themselves (module.py: the paper's per-slice classifier; series_selector.py)."""
