"""Per-series decisions over per-slice scores: which slice is the mid plane, and whether a reader should check it."""
