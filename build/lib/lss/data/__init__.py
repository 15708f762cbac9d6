"""Manifest -> splits -> cached tensors -> LightningDataModule. Knows no DICOM tags."""
