"""What a selection is asked to do, as one frozen record: predict.py builds it from conf/predict.yaml."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from omegaconf import DictConfig, OmegaConf

from lss.decide.mid_rule import MidRule
from lss.dicom.index_params import IndexParams
from lss.errors import ConfigError
from lss.selection.export import ExportMode


@dataclass(frozen=True)
class SelectionOptions:
    """The options of ``select_mid_slices``; each field is the conf/predict.yaml key of the same name."""

    index: IndexParams
    """How new studies are indexed (conf/index), and the Mid band's size."""
    mode: ExportMode
    mid_rule: MidRule
    allow_modality_mismatch: bool
    explain: bool
    review_threshold: float
    batch_size: int
    device: str
    cache_dir: Path | None
    progress: bool
    studies: tuple[str, ...] | None = None
    """With input=dicomweb://...: only these study UIDs (None: every study of the PACS)."""
    kos: bool | None = None
    """Write a KOS per study: None (``auto``) for a PACS input only."""
    store: bool = False
    """With input=dicomweb://...: send each study's KOS back to the PACS (STOW-RS)."""
    model_source: str = "(given in-process)"
    """How the model was named (``run_id=...``), for the review page."""
    run_split: Path | None = None
    """The split.json of the run that trained the model: the review page says which part each of its series was in."""

    @property
    def band_size(self) -> int:
        return self.index.band_size

    @classmethod
    def from_config(cls, cfg: DictConfig, model_source: str, run_split: Path | None = None) -> SelectionOptions:
        plain = cast(dict[str, Any], OmegaConf.to_container(cfg, resolve=True))
        return cls(
            index=IndexParams(**plain["index"]),
            mode=plain["mode"],
            mid_rule=plain["mid_rule"],
            allow_modality_mismatch=bool(plain["allow_modality_mismatch"]),
            explain=bool(plain["explain"]),
            review_threshold=float(plain["review_threshold"]),
            batch_size=int(plain["batch_size"]),
            device=str(plain["device"]),
            cache_dir=Path(plain["cache_dir"]) if plain["cache_dir"] is not None else None,
            progress=bool(plain["progress"]),
            studies=study_uids(plain["studies"]),
            kos=None if plain["kos"] == "auto" else bool(plain["kos"]),
            store=bool(plain["store"]),
            model_source=model_source,
            run_split=run_split,
        )


def study_uids(studies: list[Any] | None) -> tuple[str, ...] | None:
    """``studies=`` as UIDs; a number means Hydra read an unquoted UID such as 1.20 as 1.2, so it is refused."""
    if studies is None:
        return None
    if not isinstance(studies, list) or not all(isinstance(uid, str) for uid in studies):
        raise ConfigError(f"studies={studies} must be a list of quoted study UIDs: 'studies=[\"1.2.840.1\"]'")
    return tuple(studies)
