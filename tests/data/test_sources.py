"""Several sources in one run: a user's own series and a public set train together, and the run says how each did."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.training import composed, finished_runs, tiny_overrides
from lss.data.sources import data_sources
from lss.errors import ConfigError
from lss.phantom import write_phantom


@pytest.fixture(scope="module")
def second_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Another repository of other patients (other UIDs): the "new site" next to the shared phantom."""
    root = tmp_path_factory.mktemp("site_b") / "site_b"
    write_phantom(root, n_patients=4, seed=11)
    return root


def test_one_root_is_one_source_named_after_its_folder(phantom_dir: Path) -> None:
    (source,) = data_sources(str(phantom_dir), str(phantom_dir / "labels.csv"), None)
    assert source.name == phantom_dir.name and source.labels == phantom_dir / "labels.csv" and source.weighting is None


def test_a_single_labels_file_serves_every_root_and_a_list_gives_one_per_root(tmp_path: Path) -> None:
    roots = [str(tmp_path / "a"), str(tmp_path / "b" / "a")]
    shared = data_sources(roots, "labels.csv", None)
    assert [source.labels for source in shared] == [Path("labels.csv")] * 2
    assert [source.name for source in shared] == ["a", "a-2"]  # same folder name, still two sources
    listed = data_sources(roots, ["a.csv", None], ["w.csv", None])
    assert [source.labels for source in listed] == [Path("a.csv"), None]
    assert [source.weighting for source in listed] == [Path("w.csv"), None]


def test_a_weighting_list_longer_than_the_roots_is_refused_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"data.weighting lists 3 files for 2 data.root entries"):
        data_sources([str(tmp_path / "a"), str(tmp_path / "b")], None, ["1.csv", "2.csv", "3.csv"])


def test_a_list_of_roots_with_one_missing_is_refused_before_a_run_opens(phantom_dir: Path, tmp_path: Path) -> None:
    from lss.training import train

    missing = tmp_path / "not-there"
    overrides = [*tiny_overrides(phantom_dir, tmp_path), f"data.root=[{phantom_dir},{missing}]", "data.labels=null"]
    with pytest.raises(ConfigError, match=f"data.root={missing} does not exist"):
        train(composed(overrides, tmp_path / "job"))
    assert not (tmp_path / "mlflow.db").exists()


def test_sources_that_share_a_sop_instance_uid_are_refused(phantom_dir: Path, tmp_path: Path) -> None:
    from lss.training import train

    copy = tmp_path / "copy"
    copy.symlink_to(phantom_dir, target_is_directory=True)
    labels = phantom_dir / "labels.csv"
    overrides = [*tiny_overrides(phantom_dir, tmp_path), f"data.root=[{phantom_dir},{copy}]", f"data.labels={labels}"]
    with pytest.raises(ConfigError, match=r"SOP Instance UIDs occur in more than one of data\.root"):
        train(composed(overrides, tmp_path / "job"))


def test_a_two_source_run_splits_patients_across_both_and_logs_metrics_per_source(
    phantom_dir: Path, second_site: Path, tmp_path: Path
) -> None:
    from lss.training import train

    overrides = [
        *tiny_overrides(phantom_dir, tmp_path),
        f"data.root=[{phantom_dir},{second_site}]",
        f"data.labels=[{phantom_dir / 'labels.csv'},{second_site / 'labels.csv'}]",
        "data.test_fraction=0.5",
        "selector=series",
        "modality=T2",
        "seed=0",
    ]
    metrics = train(composed(overrides, tmp_path / "job"))
    for source in (phantom_dir.name, second_site.name):
        for name in ("test/mid_hit", "test/mid_hit_1", "test/mid_error_mm", "test/mid_hit_centre"):
            assert 0 <= metrics[f"{name}/{source}"] <= (1 if "hit" in name else 100), (name, source)
    run = finished_runs(f"sqlite:///{tmp_path / 'mlflow.db'}").iloc[0]
    assert run[f"metrics.test/mid_hit/{second_site.name}"] == metrics[f"test/mid_hit/{second_site.name}"]
    assert "dicom" in run["tags.lss.data_source"] or "phantom" in run["tags.lss.data_source"]
