"""A realistic DICOM phantom of the paper's sagittal lumbar-spine MRI repository (§3, Tables 1-2).

It comes with its Mid / Lateral truth (labels.csv, series_truth.csv).
"""

from lss.dicom.phantom.writer import PhantomResult, phantom_parameters, write_phantom

__all__ = ["PhantomResult", "phantom_parameters", "write_phantom"]
