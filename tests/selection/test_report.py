"""report.html: one self-contained page per selection, flagged series first, that a real browser renders cleanly and
a reader labels by clicking: the exported labels CSV trains a run on the series the reader reviewed, and no other."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from helpers.browser import chromium, driven_page, render
from helpers.selection import selection_options
from helpers.training import composed, finished_runs, tiny_overrides
from lss.decide.mid_rule import choose_mid
from lss.dicom.labels import read_labels_csv
from lss.errors import UserError
from lss.manifest import mid_band
from lss.selection import select_mid_slices
from lss.selection.report import write_report
from lss.selection.select import series_table

NO_CHROMIUM = "no Chromium on PATH (chromium, chromium-browser, google-chrome); .ci/run installs it"


class PageParts(HTMLParser):
    """Every tag with its attributes, to check what the page loads."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def parts_of(page: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = PageParts()
    parser.feed(page)
    return parser.tags


def scored_series(uid: str, p_mid: list[float], spacing_mm: float = 4.0) -> pd.DataFrame:
    """A scored series; ``spacing_mm`` NaN gives slices without positions."""
    table = pd.DataFrame(
        {
            "series_uid": uid,
            "sop_uid": [f"{uid}.{index}" for index in range(len(p_mid))],
            "slice_index": range(len(p_mid)),
            "n_slices": len(p_mid),
            "slice_location_mm": np.arange(len(p_mid)) * spacing_mm,
            "modality": "T1",
            "p_mid": p_mid,
        }
    )
    return table.assign(label=np.where(choose_mid(table, "band", 5), "Mid", "Lateral"))


def page_of(predictions: pd.DataFrame, out: Path) -> str:
    other = pd.DataFrame({"series_uid": ["1.2.3.9"] * 4, "modality": "T2", "reason": "skipped: T2 series, T1 model"})
    series = series_table(predictions, other, "band", 5, 0.5)
    images = np.random.default_rng(0).integers(0, 256, (len(predictions), 32, 32), dtype=np.uint8)
    explained = pd.DataFrame(columns=["row", "series_uid", "slice_index", "label", "png"])
    return write_report(out, predictions, series, images, explained, {"model": "constructed"}, 2).read_text()


def labelling_data(page: str) -> dict:
    match = re.search(r'<script type="application/json" id="lss-labelling">(.*?)</script>', page, flags=re.S)
    assert match is not None
    return json.loads(match.group(1))


SURE = [0.02, 0.1, 0.6, 0.9, 0.97, 0.9, 0.6, 0.1, 0.05, 0.02, 0.01]


@pytest.fixture
def constructed_page(tmp_path: Path) -> str:
    """A sure series (listed first in the tables), an unsure one, and a T2 series the T1 model did not score."""
    sure = scored_series("1.2.3.1", SURE)
    unsure = scored_series("1.2.3.2", [0.2, 0.3, 0.35, 0.4, 0.38, 0.3, 0.25, 0.2, 0.1])
    return page_of(pd.concat([sure, unsure], ignore_index=True), tmp_path / "report.html")


def test_flagged_series_come_first_each_with_a_strip_of_all_its_slices_and_its_band_outlined(
    constructed_page: str,
) -> None:
    unsure_at, sure_at = (
        constructed_page.rfind("<section", 0, constructed_page.index(f">{uid}<")) for uid in ("1.2.3.2", "1.2.3.1")
    )
    assert 0 < unsure_at < sure_at
    unsure, sure = constructed_page[unsure_at:sure_at], constructed_page[sure_at:]
    assert (
        '"badge">review<' in unsure and "chosen band&#x27;s mean p_mid 0.35 &lt; 0.5" in unsure
    )  # (.3+.35+.4+.38+.3)/5
    assert '"badge">ok<' in sure
    assert unsure.count("<img") == 9 and sure.count("<img") == 11
    assert sure.count('class="band"') == 1 and sure.count("· 0.97") == 1  # p_mid under each slice
    assert "<b>1</b>series to review" in constructed_page and "<b>1</b>series not flagged" in constructed_page
    assert "1.2.3.9" in constructed_page and "skipped: T2 series, T1 model" in constructed_page


def test_the_page_is_self_contained_embedded_images_inline_style_and_script_no_network(constructed_page: str) -> None:
    tags = parts_of(constructed_page)
    sources = [attrs["src"] for tag, attrs in tags if "src" in attrs]
    assert len(sources) == 20 and all(str(src).startswith("data:image/png;base64,") for src in sources)
    assert all(attrs.get("href", "data:").startswith("data:") for _, attrs in tags)
    assert not {"iframe", "object", "embed"} & {tag for tag, _ in tags}
    scripts = [attrs for tag, attrs in tags if tag == "script"]
    assert scripts == [{"type": "application/json", "id": "lss-labelling"}, {}]  # its data and its code, inline
    assert "http://" not in constructed_page and "https://" not in constructed_page


def test_the_page_carries_each_series_slice_uids_in_slice_order_and_the_mid_band_around_every_slice(
    constructed_page: str,
) -> None:
    data = labelling_data(constructed_page)
    assert data["columns"] == ["sop_instance_uid", "label"] and (data["mid"], data["lateral"]) == ("Mid", "Lateral")
    unsure, sure = data["series"]  # the page's order: flagged first
    assert sure["series_uid"] == "1.2.3.1" and sure["sop_uids"] == [f"1.2.3.1.{index}" for index in range(11)]
    assert sure["proposed"] == 4 and unsure["proposed"] == 3 and sure["unplaceable"] == ""
    assert sure["band_size"] == 5 and sure["band_starts"] == [mid_band(index, 11).start for index in range(11)]
    assert sure["band_starts"][:3] == [0, 0, 0] and sure["band_starts"][-2:] == [6, 6]  # the band stays inside
    assert '<b id="progress">0 of 2</b> series reviewed' in constructed_page


def test_a_series_without_slice_positions_says_it_cannot_be_labelled_and_offers_no_click(tmp_path: Path) -> None:
    located = scored_series("1.2.3.1", SURE)
    unlocated = scored_series("1.2.3.3", [0.1, 0.5, 0.9, 0.5, 0.1, 0.1], spacing_mm=float("nan"))
    page = page_of(pd.concat([located, unlocated], ignore_index=True), tmp_path / "report.html")
    section = page[page.rfind("<section", 0, page.index(">1.2.3.3<")) :].split("</section>", 1)[0]
    assert "Cannot be labelled here: its slices have no positions" in section
    assert "clickable" not in section and "<button" not in section and section.count("data-slice=") == 6
    unplaceable = next(series for series in labelling_data(page)["series"] if series["series_uid"] == "1.2.3.3")
    assert unplaceable["sop_uids"] == [] and "no positions" in unplaceable["unplaceable"]
    assert '<b id="progress">0 of 1</b> series reviewed' in page


@pytest.mark.skipif(chromium() is None, reason=NO_CHROMIUM)
def test_a_real_selection_with_saliency_renders_in_chromium_without_console_errors(
    model, new_studies: Path, trained_t1: dict, tmp_path: Path
) -> None:
    browser = chromium()
    assert browser is not None
    out, cache = tmp_path / "out", trained_t1["cache_dir"]
    result = select_mid_slices(
        model, new_studies, out, selection_options("mode=none", f"cache_dir={cache}", "progress=false", "explain=true")
    )
    overlays = sorted((out / "saliency").glob("*.png"))
    assert len(overlays) == 6  # the mid slice and the most Mid-like Lateral slice of each of the 3 T1 series
    page = result.report.read_text()
    assert page.count("Grad-CAM for Mid") == 3 and page.count("Grad-CAM for Lateral") == 3

    control = tmp_path / "control.html"
    control.write_text('<!doctype html><title>c</title><script>console.error("lss-console-probe")</script>')
    assert any("lss-console-probe" in line for line in render(browser, control, tmp_path / "control.png"))

    assert render(browser, result.report, tmp_path / "report.png") == []
    pixels = np.asarray(Image.open(tmp_path / "report.png").convert("RGB"))
    assert pixels.std() > 20 and len(np.unique(pixels.reshape(-1, 3), axis=0)) > 200  # drawn, not a blank page


@pytest.mark.slow
@pytest.mark.skipif(chromium() is None, reason=NO_CHROMIUM)
def test_a_reader_clicks_confirms_and_exports_labels_that_train_a_series_selector_on_the_reviewed_series_only(
    model, trained_t1: dict, phantom_dir: Path, new_studies: Path, tmp_path: Path
) -> None:
    from lss.training import train

    browser = chromium()
    assert browser is not None
    out = tmp_path / "out"
    options = selection_options("mode=none", f"cache_dir={trained_t1['cache_dir']}", "progress=false")
    report = select_mid_slices(model, phantom_dir, out, options).report
    predictions = pd.read_csv(out / "predictions.csv", dtype={"series_uid": str, "sop_uid": str})
    on_page = labelling_data(report.read_text())["series"]
    assert len(on_page) == 8  # the phantom's 8 sagittal T1 series
    proposed = on_page[0]["proposed"]
    clicked = proposed + 3 if proposed + 3 < len(on_page[0]["sop_uids"]) else proposed - 3
    with driven_page(browser) as (page, errors):
        page.goto(report.resolve().as_uri())
        assert page.inner_text("#progress") == "0 of 8" and page.locator("#export").is_disabled()
        page.click(f'section[data-series="0"] figure[data-slice="{clicked}"]')
        for number in range(1, 6):
            page.click(f'section[data-series="{number}"] button.confirm')
        assert page.inner_text("#progress") == "6 of 8"
        state = page.inner_text('section[data-series="0"] .label-state')
        assert state == f"corrected: mid slice {clicked} (proposed {proposed})"
        assert page.inner_text('section[data-series="1"] .label-state').startswith("confirmed: mid slice")
        assert page.locator('section[data-series="0"] figure.labelled').count() == 5
        with page.expect_download() as download:
            page.click("#export")
        assert download.value.suggested_filename == "labels.csv"
        labels_csv = tmp_path / "labels.csv"
        download.value.save_as(labels_csv)
        assert errors == []

    assert labels_csv.read_text().splitlines()[0] == "sop_instance_uid,label"
    labelled = read_labels_csv(labels_csv).per_slice
    reviewed = {series["series_uid"]: series["proposed"] for series in on_page[1:6]}
    reviewed[on_page[0]["series_uid"]] = clicked
    rows = predictions[predictions["series_uid"].isin(reviewed)]
    assert set(labelled) == set(rows["sop_uid"])  # every slice of a reviewed series, nothing of the other two
    for uid, slices in rows.groupby("series_uid"):
        band = mid_band(reviewed[uid], len(slices))
        expected = np.where(slices["slice_index"].isin(band), "Mid", "Lateral")
        assert [labelled[sop] for sop in slices["sop_uid"]] == list(expected), uid

    workdir = tmp_path / "train"
    overrides = [
        *tiny_overrides(phantom_dir, workdir),
        "modality=T1",
        "seed=0",
        "selector=series",
        f"data.labels={labels_csv}",
        "data.unlabelled=drop",
        "data.val_fraction=0.2",  # 6 labelled patients: 4 train, 1 val, 1 test
        "trainer.max_epochs=1",
    ]
    train(composed(overrides, workdir / "job"))
    run = finished_runs(f"sqlite:///{workdir / 'mlflow.db'}").iloc[0]
    assert run["status"] == "FINISHED"
    assert int(run["params.labels.from_csv"]) == len(labelled) and int(run["params.labels.from_rule"]) == 0
    assert sum(int(run[f"params.split.n_{part}"]) for part in ("train", "val", "test")) == len(labelled)

    elsewhere = tmp_path / "elsewhere"
    with pytest.raises(UserError, match=rf"data.labels={re.escape(str(labels_csv))} labels none of the"):
        train(composed([*tiny_overrides(new_studies, elsewhere), *overrides[2:]], elsewhere / "job"))
    assert finished_runs(f"sqlite:///{elsewhere / 'mlflow.db'}").empty
