"""New studies -> the trained model -> their Mid sagittal slices: what ``predict.py`` runs."""

from lss.selection.accuracy import selection_accuracy
from lss.selection.model_source import load_selector
from lss.selection.select import SelectionResult, select_mid_slices

__all__ = ["SelectionResult", "load_selector", "select_mid_slices", "selection_accuracy"]
