"""The session phantom's identity marker, searched for in every output by the privacy tests."""

PATIENT_MARKER = "Zqxprivacymarker"
"""The session phantom's PatientName/PatientID carry this, so tests can search every output for it."""
