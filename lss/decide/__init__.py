"""From scores to decisions, and how good they were: the Mid rule, series helpers, metrics, calibration, and the
label-free mid-plane estimate.

Every selector (lss/model/selector.py) hands its p_mid here; validation, test and predict.py decide by the
same rule (``mid_rule``). Knows no network and no DICOM: plain arrays, tensors and DataFrames.
"""
