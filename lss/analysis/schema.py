"""The four metrics of Table 3 (Eqs 1-4), the vocabulary every analysis step shares."""

METRICS = {"accuracy": "Accuracy", "precision": "Precision", "recall": "Recall", "f1": "F1-Score"}
"""Tidy column name -> Table 3 row label; MLflow logs each as ``test/<name>``."""
