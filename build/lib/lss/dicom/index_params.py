"""The indexer's parameters and version: what a cached manifest depends on besides the files themselves.

Kept free of pandas and pydicom so that ``lss-index --help`` starts at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from lss.errors import ConfigError
from lss.manifest import BAND_SIZE, MODALITIES

INDEX_VERSION = 5
"""Bump whenever labelling, weighting or series assembly changes: cached manifests then re-index.
3: volumes (.mha/.nii/.nii.gz), the modality_source column, the weighting CSV. 4: the fast header path.
5: STIR as its own weighting, the fat_suppressed column."""

NORMAL_LUMBAR_IVD_WIDTH_MM = 40.0
"""Paper ref. 18 (Zhou et al. 2000, Eur Spine J 9:242-248, digitised CT of L1-L5): lumbar end-plate,
hence disc, widths of about 40 mm at L1 rising to about 50 mm at L5. We take the smallest (40 mm) so
the check is strict. Our reading of the reference; the figure could not be re-checked offline."""


@dataclass(frozen=True)
class IndexParams:
    """The indexer's own parameters; with INDEX_VERSION they key the cached manifest of a root."""

    band_size: int = BAND_SIZE
    ivd_width_mm: float = NORMAL_LUMBAR_IVD_WIDTH_MM
    stir_as: str | None = None
    """None keeps STIR series apart; T2 (or T1) files them under that weighting."""

    def __post_init__(self) -> None:
        if self.stir_as not in (None, *MODALITIES):
            raise ConfigError(f"index.stir_as={self.stir_as} is not one of null, {', '.join(MODALITIES)}")

    def as_key(self) -> str:
        return (
            f"index-v{INDEX_VERSION}|band_size={self.band_size}|ivd_width_mm={float(self.ivd_width_mm)}"
            f"|stir_as={self.stir_as}"
        )
