"""lss: find the Mid sagittal slices of lumbar-spine MRI studies (Natalia & Sudirman)."""

__version__ = "0.1.0"
