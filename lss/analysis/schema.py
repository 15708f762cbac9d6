"""The vocabulary shared by every analysis step: the two groups and the four metrics of Table 3."""

MODALITIES = ("T1", "T2")
"""Table 3 compares T1-weighted against T2-weighted runs; differences are T2 - T1."""

METRICS = {"accuracy": "Accuracy", "precision": "Precision", "recall": "Recall", "f1": "F1-Score"}
"""Tidy column name -> Table 3 row label, Eqs. (1)-(4); MLflow logs each as ``test/<name>``."""
