"""Table 3 and Figs. 5-7 from a training sweep in MLflow (see conf/analyze.yaml)."""

from pathlib import Path

import hydra
from omegaconf import DictConfig, ListConfig, OmegaConf

from lss.analysis.report import run_analysis
from lss.entry import one_line_user_errors
from lss.tracking import flatten

CONFIG_DIR = str(Path(__file__).resolve().parent / "conf")  # absolute: also found when imported


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="analyze")
@one_line_user_errors
def main(cfg: DictConfig) -> None:
    sweep_id = OmegaConf.to_container(cfg.sweep_id) if isinstance(cfg.sweep_id, ListConfig) else cfg.sweep_id
    run_analysis(
        output_dir=Path(cfg.output_dir),
        tracking_uri=cfg.mlflow.tracking_uri,
        experiment_name=cfg.mlflow.experiment_name,
        sweep_id=sweep_id,
        alpha=cfg.alpha,
        log_to_mlflow=cfg.log_to_mlflow,
        where=flatten(OmegaConf.to_container(cfg.where, resolve=True)),
    )


if __name__ == "__main__":
    main()
