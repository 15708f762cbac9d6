"""Runs -> statistics -> tables and figures (paper Table 3, Figs 5-7)."""
