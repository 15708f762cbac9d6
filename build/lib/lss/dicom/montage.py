"""One PNG per series, slices in order, Mid outlined yellow and Lateral red (paper Fig. 2): labels at a glance."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from lss.dicom.pixels import DicomPixelError, read_slice_pixels
from lss.manifest import LATERAL, MID

LABEL_COLOURS = {MID: "yellow", LATERAL: "red", "": "grey"}


def write_series_montage(series_rows: pd.DataFrame, root: Path, out_path: Path) -> None:
    """Grid of the series' slices by slice_index, each framed in its label colour and titled with n·p."""
    rows = series_rows.sort_values("slice_index")
    n_columns = min(len(rows), max(5, math.ceil(math.sqrt(len(rows)))))
    n_rows = math.ceil(len(rows) / n_columns)
    figure, axes = plt.subplots(n_rows, n_columns, figsize=(2.2 * n_columns, 2.4 * n_rows), squeeze=False)
    figure.patch.set_facecolor("black")
    for axis in axes.flat:
        axis.set_axis_off()
    for axis, row in zip(axes.flat, rows.itertuples()):
        try:
            pixels = read_slice_pixels(root / row.path, int(row.frame))
            low, high = np.percentile(pixels, [1, 99])
            axis.imshow(pixels, cmap="gray", vmin=low, vmax=high if high > low else low + 1)
        except DicomPixelError:
            axis.text(0.5, 0.5, "unreadable", color="white", ha="center", va="center", transform=axis.transAxes)
        axis.set_axis_on()
        axis.set_xticks([])
        axis.set_yticks([])
        for spine in axis.spines.values():
            spine.set_edgecolor(LABEL_COLOURS.get(row.label, "grey"))
            spine.set_linewidth(4)
        axis.set_title(f"{row.slice_index + 1}: {row.slice_location_mm:.1f} mm", color="white", fontsize=8)
    first = rows.iloc[0]
    figure.suptitle(f"{first['modality']} series {first['series_uid']}", color="white", fontsize=9)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out_path, dpi=80, facecolor="black")
    plt.close(figure)
