"""report.html: one self-contained page to check a selection at a glance and label it by clicking, written by every
predict.py run.

Per scored series, a strip of all its slices (the preprocessed images the model saw) with the
calibrated p_mid under each, the chosen Mid band outlined, the Grad-CAM overlays when computed, and a
"review" flag (``review.py``); flagged series come first, a summary sits at the top. A reader clicks a
series' mid slice or confirms the proposed one and exports a labels CSV (``labelling.py``). Images are
embedded as base64 PNG, the CSS and the script are inline, so the file opens from disk with no network.
Series are named by their SeriesInstanceUID only: no patient attribute is shown.
"""

from __future__ import annotations

import base64
import datetime
import html
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

from lss.manifest import BAND_SIZE, MID
from lss.selection.labelling import LABELS_FILE_NAME, SCRIPT, TRAIN_HINT, labelling_data, series_labelling

THUMBNAIL_PX = 96
STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.5rem; background: #f6f7f9;
       color: #1f2328; }
h1 { font-size: 1.4rem; margin: 0 0 .5rem; }
h2 { font-size: 1rem; margin: 0 0 .4rem; font-family: ui-monospace, monospace; word-break: break-all; }
table.summary { border-collapse: collapse; margin: .5rem 0 1rem; background: #fff; }
table.summary td { border: 1px solid #d0d7de; padding: .25rem .6rem; }
table.summary td:first-child { color: #57606a; }
.counts { display: flex; gap: .75rem; flex-wrap: wrap; margin: .5rem 0 1rem; }
.count { background: #fff; border: 1px solid #d0d7de; border-radius: 6px; padding: .5rem .9rem; }
.count b { display: block; font-size: 1.4rem; }
.count.flagged b { color: #c4320a; }
section.series { background: #fff; border: 1px solid #d0d7de; border-left: 6px solid #2da44e; border-radius: 6px;
                 margin: 0 0 1rem; padding: .75rem; }
section.series.flagged { border-left-color: #c4320a; }
.badge { display: inline-block; border-radius: 1em; padding: 0 .6em; font-size: .8rem; color: #fff;
         background: #2da44e; margin-right: .5rem; }
.flagged .badge { background: #c4320a; }
.facts { color: #57606a; font-size: .85rem; margin: 0 0 .5rem; }
.strip { display: flex; flex-wrap: wrap; align-items: flex-start; gap: 4px; }
.band { display: flex; gap: 4px; outline: 3px solid #e3b341; outline-offset: 2px; border-radius: 3px;
        margin: 0 4px; }
figure { margin: 0; width: 96px; text-align: center; font-size: .75rem; }
figure img { width: 96px; height: auto; display: block; background: #000; }
figure.mid-slice figcaption { font-weight: bold; }
.bar { height: 4px; background: #eaeef2; }
.bar span { display: block; height: 4px; background: #0969da; }
.saliency { display: flex; gap: 1rem; margin-top: .75rem; }
.saliency figure { width: 192px; }
.saliency img { width: 192px; }
table.skipped { border-collapse: collapse; font-size: .85rem; background: #fff; }
table.skipped td, table.skipped th { border: 1px solid #d0d7de; padding: .2rem .5rem; text-align: left; }
.toolbar { position: sticky; top: 0; z-index: 1; display: flex; gap: .75rem; align-items: center; flex-wrap: wrap;
           background: #fff; border: 1px solid #d0d7de; border-radius: 6px; padding: .5rem .9rem; margin: 0 0 1rem; }
.toolbar .hint { color: #57606a; font-size: .85rem; flex: 1 1 30rem; }
button { font: inherit; font-size: .85rem; border: 1px solid #d0d7de; border-radius: 6px; background: #f6f8fa;
         padding: .2rem .7rem; cursor: pointer; }
button#export { background: #2da44e; border-color: #2a8c46; color: #fff; }
button:disabled { opacity: .5; cursor: default; }
.labelling { display: flex; gap: .5rem; align-items: center; margin: 0 0 .5rem; font-size: .85rem; }
.label-state { color: #57606a; }
section.series.reviewed { border-left-color: #0969da; }
section.reviewed .label-state { color: #0969da; font-weight: bold; }
.unplaceable { color: #c4320a; font-size: .85rem; margin: 0 0 .5rem; }
figure.clickable { cursor: pointer; }
figure.clickable:hover img { outline: 2px solid #57606a; outline-offset: -2px; }
figure.labelled img { outline: 3px solid #0969da; outline-offset: -3px; }
figure.labelled-mid img { outline-width: 6px; outline-offset: -6px; }
figure.labelled-mid figcaption { color: #0969da; }
"""


def png_data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def thumbnail(pixels: np.ndarray) -> str:
    """A uint8 grey (H, W) slice as an embedded PNG no wider than THUMBNAIL_PX."""
    image = Image.fromarray(np.asarray(pixels, dtype=np.uint8))
    if image.width > THUMBNAIL_PX:
        image = image.resize(
            (THUMBNAIL_PX, round(image.height * THUMBNAIL_PX / image.width)), Image.Resampling.BILINEAR
        )
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return png_data_uri(buffer.getvalue())


def slice_figure(row: pd.Series, image: np.ndarray, mid_slice_index: int, clickable: bool) -> str:
    p_mid = float(row["p_mid"])
    is_mid_slice = int(row["slice_index"]) == mid_slice_index
    title = f"slice_index {int(row['slice_index'])}, {row['label']}, p_mid {p_mid:.3f}"
    css = ("mid-slice" if is_mid_slice else "slice") + (" clickable" if clickable else "")
    return (
        f'<figure class="{css}" data-slice="{int(row["slice_index"])}" title="{html.escape(title)}">'
        f'<img alt="slice {int(row["slice_index"])}" src="{thumbnail(image)}">'
        f'<div class="bar"><span style="width:{100 * p_mid:.0f}%"></span></div>'
        f"<figcaption>{int(row['slice_index'])}{' mid' if is_mid_slice else ''} · {p_mid:.2f}</figcaption></figure>"
    )


def runs_of_mid(slices: pd.DataFrame) -> Iterator[tuple[bool, pd.DataFrame]]:
    """Consecutive slices grouped by whether they were chosen as Mid, so each chosen band gets one outline."""
    is_mid = (slices["label"] == MID).to_numpy()
    starts = np.flatnonzero(np.r_[True, is_mid[1:] != is_mid[:-1]])
    for start, stop in zip(starts, [*starts[1:], len(slices)]):
        yield bool(is_mid[start]), slices.iloc[start:stop]


def run_part(series_uid: str, parts: dict[str, str]) -> str:
    """Which part of the model's training run a series was in (``lss.data.split_file.part_of_series``)."""
    part = parts.get(series_uid)
    return f"in the model's {part} split" if part else "not in the model's training run"


def labelling_controls(labelling: dict[str, Any]) -> str:
    """Confirm / clear and what the reader chose, or why this series cannot be labelled by a click."""
    if labelling["unplaceable"]:
        return f'<p class="unplaceable">Cannot be labelled here: {html.escape(labelling["unplaceable"])}.</p>'
    proposed = labelling["proposed"]
    confirm = (
        f'<button class="confirm">Confirm mid slice {proposed}</button>'
        if proposed is not None
        else '<button class="confirm" disabled>No slice proposed</button>'
    )
    return (
        f'<div class="labelling">{confirm}<button class="clear" disabled>Clear</button>'
        '<span class="label-state">not reviewed</span><span>(or click the mid slice)</span></div>'
    )


def series_section(
    number: int,
    facts: pd.Series,
    slices: pd.DataFrame,
    images: np.ndarray,
    explained: pd.DataFrame,
    output_dir: Path,
    parts: dict[str, str] | None,
    labelling: dict[str, Any],
) -> str:
    """One series: its facts, labelling controls, strip of slices and Grad-CAM overlays; ``number`` is its place on
    the page, by which the script finds it; ``parts`` (the run's split.json read by series) adds which part of the
    run it was in."""
    flagged = bool(facts["review"])
    mid_slice_index = int(facts["mid_slice_index"])
    clickable = not labelling["unplaceable"]
    strip = []
    for chosen, run in runs_of_mid(slices.sort_values("slice_index")):
        figures = "".join(
            slice_figure(row, images[position], mid_slice_index, clickable) for position, row in run.iterrows()
        )
        strip.append(f'<div class="band" title="chosen Mid band">{figures}</div>' if chosen else figures)
    saliency = "".join(
        f'<figure><img alt="Grad-CAM of slice {item.slice_index}" '
        f'src="{png_data_uri((output_dir / item.png).read_bytes())}">'
        f"<figcaption>Grad-CAM for {item.label}, slice {item.slice_index}</figcaption></figure>"
        for item in explained[explained["series_uid"] == facts["series_uid"]].itertuples()
    )
    badge = "review" if flagged else "ok"
    reason = f" — {html.escape(str(facts['review']))}" if flagged else ""
    return (
        f'<section class="series{" flagged" if flagged else ""}" data-series="{number}">'
        f'<h2><span class="badge">{badge}</span>{html.escape(str(facts["series_uid"]))}</h2>'
        f'<p class="facts">{html.escape(str(facts["modality"]))}, {int(facts["n_slices"])} slices; '
        f"Mid: {facts['mid_slice_indices']}; "
        f"mid slice {mid_slice_index}; band mean p_mid {float(facts['band_p_mid']):.3f}"
        + (f"; {run_part(str(facts['series_uid']), parts)}" if parts is not None else "")
        + f"{reason}</p>"
        f"{labelling_controls(labelling)}"
        f'<div class="strip">{"".join(strip)}</div>'
        + (f'<div class="saliency">{saliency}</div>' if saliency else "")
        + "</section>"
    )


def table_row(*cells: object) -> str:
    return "<tr>" + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in cells) + "</tr>"


def review_order(scored: pd.DataFrame) -> pd.DataFrame:
    """Flagged series first, each group from the least to the most sure band."""
    ordered = scored.assign(not_flagged=scored["review"] == "").sort_values(["not_flagged", "band_p_mid", "series_uid"])
    return ordered.drop(columns="not_flagged")


def write_report(
    path: Path,
    predictions: pd.DataFrame,
    series: pd.DataFrame,
    images: np.ndarray,
    explained: pd.DataFrame,
    about: dict[str, str],
    n_skipped_files: int,
    parts: dict[str, str] | None = None,
) -> Path:
    """Write the page; ``images`` are aligned with ``predictions`` rows, ``about`` is shown as the summary table,
    ``parts`` (series UID -> train/val/test of the model's training run) when the model came from a run."""
    scored = review_order(series[series["status"] == "selected"])
    others = series[series["status"] != "selected"]
    n_flagged = int((scored["review"] != "").sum())
    counts = [
        ("series to review", n_flagged, "count flagged"),
        ("series not flagged", len(scored) - n_flagged, "count"),
        ("slices scored", len(predictions), "count"),
        ("chosen as Mid", int((predictions["label"] == MID).sum()), "count"),
        ("series of another modality, not scored", len(others), "count"),
        ("input files skipped (skipped.csv)", n_skipped_files, "count"),
    ]
    by_series = predictions.groupby("series_uid")
    slices_of = [by_series.get_group(uid) for uid in scored["series_uid"]]
    labelling = [
        series_labelling(str(uid), slices, None if pd.isna(mid) else int(mid))
        for uid, slices, mid in zip(scored["series_uid"], slices_of, scored["mid_slice_index"])
    ]
    sections = "".join(
        series_section(number, facts, slices, images, explained, path.parent, parts, labelling[number])
        for number, ((_, facts), slices) in enumerate(zip(scored.iterrows(), slices_of))
    )
    n_placeable = sum(not series["unplaceable"] for series in labelling)
    toolbar = (
        f'<div class="toolbar"><span><b id="progress">0 of {n_placeable}</b> series reviewed</span>'
        f'<button id="export" disabled>Export {LABELS_FILE_NAME} (0 series)</button>'
        '<span class="hint">Click the mid-sagittal slice of a series, or confirm the proposed one. The CSV labels '
        f"the Mid band of {BAND_SIZE} slices around it Mid and the series' other slices Lateral; series not "
        f"reviewed are left out. Train on it: <code>{html.escape(TRAIN_HINT)}</code></span></div>"
        if n_placeable
        else ""
    )
    count_boxes = "".join(f'<div class="{css}"><b>{value}</b>{label}</div>' for label, value, css in counts)
    about = {**about, "written": datetime.datetime.now().isoformat(timespec="seconds")}
    about_rows = "".join(table_row(key, value) for key, value in about.items())
    skipped_rows = "".join(table_row(row.series_uid, row.status) for row in others.itertuples())
    not_scored = (
        f'<h2>Not scored</h2><table class="skipped"><tr><th>series</th><th>why</th></tr>{skipped_rows}</table>'
        if len(others)
        else ""
    )
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,"><title>lss review: Mid sagittal slices</title><style>{STYLE}</style></head>
<body><h1>Mid sagittal slices: review</h1>
<div class="counts">{count_boxes}</div>
<table class="summary">{about_rows}</table>
{toolbar}
{sections or "<p>No series of the model's modality was found.</p>"}
{not_scored}
<script type="application/json" id="lss-labelling">{labelling_data(labelling)}</script>
<script>{SCRIPT}</script>
</body></html>
"""
    path.write_text(page, encoding="utf-8")
    return path
