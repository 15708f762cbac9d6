"""The review page as a labelling tool: a reader clicks a series' mid slice, or confirms the proposed one, and
exports a labels CSV that ``data.labels`` reads as it is.

The CSV is the per-slice kind (``SLICE_LABEL_COLUMNS``): the Mid band around the clicked slice is Mid, every other
slice of that series Lateral, and a series nobody reviewed has no row, so a run trained from it with
``data.unlabelled=drop`` learns only what a reader saw. The page carries, per series, its slices' SOP Instance UIDs
in slice order and where the Mid band around each slice starts (``lss.manifest.mid_band``): the band rule keeps
one owner, and the inline script only looks it up. Everything is inline, so the page works from ``file://``.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from lss.dicom.labels import SLICE_LABEL_COLUMNS, UNLABELLED_DROP
from lss.manifest import LATERAL, MID, mid_band

LABELS_FILE_NAME = "labels.csv"
"""What the page's export is saved as."""
TRAIN_HINT = f"python train.py data.root=DIR data.labels={LABELS_FILE_NAME} data.unlabelled={UNLABELLED_DROP}"


def unplaceable_reason(slices: pd.DataFrame) -> str:
    """Why a click cannot label this series ("" when it can): the band needs every slice's place in the stack,
    and a labels CSV names each slice by its own SOP Instance UID."""
    if slices["slice_location_mm"].isna().any():
        return "its slices have no positions, so the Mid band cannot be placed around a slice"
    if sorted(slices["slice_index"]) != list(range(int(slices["n_slices"].iloc[0]))):
        return f"only {len(slices)} of its {int(slices['n_slices'].iloc[0])} slices were scored"
    if slices["sop_uid"].duplicated().any():
        return "its slices share SOP Instance UIDs (frames of one file), and a labels CSV names a slice by that UID"
    return ""


def series_labelling(series_uid: str, slices: pd.DataFrame, proposed_mid_index: int | None) -> dict[str, Any]:
    """What the script needs to label one series: its slices' SOP Instance UIDs by slice_index, the proposed mid
    slice, and for each slice the first slice_index of the Mid band centred on it."""
    ordered = slices.sort_values("slice_index")
    reason = unplaceable_reason(ordered)
    n_slices = len(ordered)
    return {
        "series_uid": series_uid,
        "unplaceable": reason,
        "sop_uids": [] if reason else ordered["sop_uid"].astype(str).tolist(),
        "proposed": proposed_mid_index,
        "band_starts": [] if reason else [mid_band(index, n_slices).start for index in range(n_slices)],
        "band_size": len(mid_band(0, n_slices)),
    }


def labelling_data(series: list[dict[str, Any]]) -> str:
    """The page's data block: JSON that cannot close its <script> element early."""
    data = {"columns": list(SLICE_LABEL_COLUMNS), "mid": MID, "lateral": LATERAL, "file_name": LABELS_FILE_NAME}
    return json.dumps({**data, "series": series}).replace("</", "<\\/")


SCRIPT = """
(() => {
  const data = JSON.parse(document.getElementById('lss-labelling').textContent);
  const mids = new Map();  // series number on the page -> the slice_index a reader chose as mid
  let unsaved = false;
  const placeable = data.series.filter(series => !series.unplaceable).length;
  const sectionOf = number => document.querySelector(`section[data-series="${number}"]`);
  const inBand = (series, mid, index) =>
    index >= series.band_starts[mid] && index < series.band_starts[mid] + series.band_size;

  function show(number) {
    const series = data.series[number], section = sectionOf(number), mid = mids.get(number);
    section.classList.toggle('reviewed', mid !== undefined);
    for (const figure of section.querySelectorAll('figure[data-slice]')) {
      const index = Number(figure.dataset.slice);
      figure.classList.toggle('labelled', mid !== undefined && inBand(series, mid, index));
      figure.classList.toggle('labelled-mid', index === mid);
    }
    section.querySelector('.label-state').textContent = mid === undefined ? 'not reviewed'
      : mid === series.proposed ? `confirmed: mid slice ${mid}`
      : `corrected: mid slice ${mid} (proposed ${series.proposed})`;
    section.querySelector('button.clear').disabled = mid === undefined;
    document.getElementById('progress').textContent = `${mids.size} of ${placeable}`;
    const exportButton = document.getElementById('export');
    exportButton.disabled = mids.size === 0;
    exportButton.textContent = `Export ${data.file_name} (${mids.size} series)`;
  }

  function choose(number, mid) {
    if (mid === undefined) mids.delete(number); else mids.set(number, mid);
    unsaved = true;
    show(number);
  }

  const field = value => /[",\\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
  function labelsCsv() {
    const rows = [data.columns.join(',')];
    for (const number of [...mids.keys()].sort((a, b) => a - b)) {
      const series = data.series[number], mid = mids.get(number);
      series.sop_uids.forEach((sop, index) =>
        rows.push(`${field(sop)},${inBand(series, mid, index) ? data.mid : data.lateral}`));
    }
    return rows.join('\\n') + '\\n';
  }

  data.series.forEach((series, number) => {
    if (series.unplaceable) return;
    const section = sectionOf(number);
    section.addEventListener('click', event => {
      const figure = event.target.closest('figure[data-slice]');
      if (figure) choose(number, Number(figure.dataset.slice));
    });
    section.querySelector('button.confirm').addEventListener('click', () => choose(number, series.proposed));
    section.querySelector('button.clear').addEventListener('click', () => choose(number, undefined));
    show(number);
  });
  document.getElementById('export').addEventListener('click', () => {
    const link = document.createElement('a');
    link.href = URL.createObjectURL(new Blob([labelsCsv()], {type: 'text/csv'}));
    link.download = data.file_name;
    document.body.appendChild(link);
    link.click();
    link.remove();
    unsaved = false;
  });
  window.addEventListener('beforeunload', event => { if (unsaved) event.preventDefault(); });
})();
"""
"""Clicks choose a series' mid slice, the buttons confirm the proposal or clear it, export saves the labels CSV."""
