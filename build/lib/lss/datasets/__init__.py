"""Adapters for the public lumbar-spine datasets: their annotations -> lss's labels and weighting CSVs.

One module per dataset (rsna2024, spider) and `lss-labels` (cli). They read images only through
lss/dicom (headers, volumes) and write the CSVs that `lss-index --labels/--weighting` reads.
"""
