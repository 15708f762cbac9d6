"""report.html: one self-contained page per selection, flagged series first, that a real browser renders cleanly."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from helpers.browser import chromium, render
from helpers.selection import selection_options
from lss.decide.mid_rule import choose_mid
from lss.selection import select_mid_slices
from lss.selection.report import write_report
from lss.selection.select import series_table


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


def scored_series(uid: str, p_mid: list[float]) -> pd.DataFrame:
    table = pd.DataFrame(
        {
            "series_uid": uid,
            "sop_uid": [f"{uid}.{index}" for index in range(len(p_mid))],
            "slice_index": range(len(p_mid)),
            "n_slices": len(p_mid),
            "modality": "T1",
            "p_mid": p_mid,
        }
    )
    return table.assign(label=np.where(choose_mid(table, "band", 5), "Mid", "Lateral"))


@pytest.fixture
def constructed_page(tmp_path: Path) -> str:
    """A sure series (listed first in the tables), an unsure one, and a T2 series the T1 model did not score."""
    sure = scored_series("1.2.3.1", [0.02, 0.1, 0.6, 0.9, 0.97, 0.9, 0.6, 0.1, 0.05, 0.02, 0.01])
    unsure = scored_series("1.2.3.2", [0.2, 0.3, 0.35, 0.4, 0.38, 0.3, 0.25, 0.2, 0.1])
    predictions = pd.concat([sure, unsure], ignore_index=True)
    other = pd.DataFrame({"series_uid": ["1.2.3.9"] * 4, "modality": "T2", "reason": "skipped: T2 series, T1 model"})
    series = series_table(predictions, other, "band", 5, 0.5)
    images = np.random.default_rng(0).integers(0, 256, (len(predictions), 32, 32), dtype=np.uint8)
    explained = pd.DataFrame(columns=["row", "series_uid", "slice_index", "label", "png"])
    path = write_report(tmp_path / "report.html", predictions, series, images, explained, {"model": "constructed"}, 2)
    return path.read_text()


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


def test_the_page_is_self_contained_embedded_images_inline_style_no_script_no_network(constructed_page: str) -> None:
    tags = parts_of(constructed_page)
    sources = [attrs["src"] for tag, attrs in tags if "src" in attrs]
    assert len(sources) == 20 and all(str(src).startswith("data:image/png;base64,") for src in sources)
    assert all(attrs.get("href", "data:").startswith("data:") for _, attrs in tags)
    assert not {"script", "iframe", "object", "embed"} & {tag for tag, _ in tags}
    assert "http://" not in constructed_page and "https://" not in constructed_page


@pytest.mark.skipif(
    chromium() is None, reason="no Chromium on PATH (chromium, chromium-browser, google-chrome); .ci/run installs it"
)
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
