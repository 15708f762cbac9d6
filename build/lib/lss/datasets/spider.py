"""SPIDER (sagittal lumbar MRI volumes with label masks) -> Mid labels: the slice with the largest spinal canal.

The masks label vertebrae 1-25, the spinal canal 100 and discs 201-225; the mid-sagittal plane is the one
that cuts the canal widest, so each volume's mid slice is the slice with the most canal voxels (the first
one on a tie), and the indexer's Mid band centres on it. A mask shares its image's file name, so labels.csv
names the image's series and slice by the synthetic UIDs lss/dicom/volumes.py derives from that name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lss.dicom.volumes import is_volume, read_volume_stack, volume_name, volume_series_uid, volume_sop_uid
from lss.errors import UserError
from lss.manifest import centre_index
from lss.text import markdown_table

VERTEBRA_LABELS, CANAL_LABEL, DISC_LABEL_BASE = range(1, 26), 100, 200
"""SPIDER's mask values: vertebrae 1-25, the spinal canal 100, discs 201-225."""
LABEL_COLUMNS = ["series_instance_uid", "mid_sop_instance_uid", "volume", "mid_frame", "n_slices", "canal_voxels"]
"""labels.csv: the indexer's per-series columns first, then the volume, its mid slice and that slice's canal area."""
STATUS_COLUMNS = ["volume", "status", "detail"]
LABELLED, NO_CANAL, UNREADABLE = "labelled", "no_canal", "unreadable"


@dataclass(frozen=True)
class SpiderLabels:
    """labels.csv and mask_status.csv (one row per mask file)."""

    labels: pd.DataFrame
    status: pd.DataFrame

    def write(self, out_dir: Path) -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        self.labels.to_csv(out_dir / "labels.csv", index=False)
        self.status.to_csv(out_dir / "mask_status.csv", index=False)

    def summary(self) -> str:
        counts = self.status["status"].value_counts()
        at_centre = int((self.labels["mid_frame"] == self.labels["n_slices"].map(centre_index)).sum())
        return (
            markdown_table(["status", "masks"], [[status, count] for status, count in counts.items()])
            + f"\n\nThe widest canal is on the volume's centre slice in {at_centre:,} of {len(self.labels):,} "
            "labelled volumes (what the centre rule assumes).\n"
        )


def spider_labels(masks_dir: Path) -> SpiderLabels:
    """Label every mask volume in ``masks_dir``; a mask without canal voxels or that cannot be read is counted."""
    masks_dir = Path(masks_dir)
    if not masks_dir.is_dir():
        raise UserError(f"--masks {masks_dir} is not a folder; point it at SPIDER's masks/ folder")
    masks = sorted(path for path in masks_dir.iterdir() if path.is_file() and is_volume(path))
    if not masks:
        raise UserError(f"--masks {masks_dir} holds no .mha, .nii or .nii.gz file; point it at SPIDER's masks/ folder")
    labels, status = [], []
    for path in masks:
        name = volume_name(path)
        try:
            canal_voxels = (read_volume_stack(path) == CANAL_LABEL).sum(axis=(1, 2))
        except Exception as error:  # one corrupt mask must not stop the others
            status.append({"volume": path.name, "status": UNREADABLE, "detail": f"{type(error).__name__}: {error}"})
            continue
        if not canal_voxels.any():
            status.append({"volume": path.name, "status": NO_CANAL, "detail": f"no voxel labelled {CANAL_LABEL}"})
            continue
        mid = int(np.argmax(canal_voxels))
        labels.append(
            {
                "series_instance_uid": volume_series_uid(name),
                "mid_sop_instance_uid": volume_sop_uid(name, mid),
                "volume": path.name,
                "mid_frame": mid,
                "n_slices": len(canal_voxels),
                "canal_voxels": int(canal_voxels[mid]),
            }
        )
        status.append({"volume": path.name, "status": LABELLED, "detail": f"slice {mid} of {len(canal_voxels)}"})
    return SpiderLabels(pd.DataFrame(labels, columns=LABEL_COLUMNS), pd.DataFrame(status, columns=STATUS_COLUMNS))
