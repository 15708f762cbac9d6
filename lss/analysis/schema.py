"""The four metrics of Table 3 (Eqs 1-4), the vocabulary every analysis step shares."""

METRICS = {"accuracy": "Accuracy", "precision": "Precision", "recall": "Recall", "f1": "F1-Score"}
"""Tidy column name -> Table 3 row label; MLflow logs each as ``test/<name>``."""

BASELINE_COMPARISONS = {
    "accuracy": ("accuracy_centre", "Accuracy (independent)"),
    "f1": ("f1_centre", "F1 (independent)"),
    "accuracy_band": ("accuracy_centre", "Accuracy (band)"),
    "f1_band": ("f1_centre", "F1 (band)"),
    "mid_hit": ("mid_hit_centre", "mid_hit (band)"),
    "mid_hit_1": ("mid_hit_1_centre", "mid_hit_1 (band)"),
    "mid_error_mm": ("mid_error_mm_centre", "mid_error_mm (band)"),
    "mid_plane_error_mm": ("mid_plane_error_mm_centre", "mid_plane_error_mm (band)"),
}
"""Model metric -> (the centre rule's metric on the same test slices, row label) of the baseline table."""
LOWER_IS_BETTER = {"mid_error_mm", "mid_plane_error_mm"}
EXTRA_METRICS = sorted({name for pair in BASELINE_COMPARISONS.items() for name in (pair[0], pair[1][0])} - set(METRICS))
"""``test/<name>`` metrics beyond the paper's four that the analysis reads."""
