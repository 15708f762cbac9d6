"""A realistic DICOM phantom of the paper's sagittal lumbar-spine MRI repository (§3, Tables 1-2).

It comes with its Mid / Lateral truth (labels.csv, series_truth.csv).
"""

from lss.phantom.writer import PhantomResult, write_phantom

__all__ = ["PhantomResult", "write_phantom"]
