"""Everything that knows DICOM: headers, geometry, weighting, series, labels, pixels, the phantom.

Nothing else imports pydicom.
"""
