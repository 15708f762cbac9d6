"""Train Mid-vs-Lateral classifiers: `python train.py --help`, sweeps with `-m 'seed=range(20)' modality=T1,T2`."""

import hydra
from omegaconf import DictConfig

from lss.entry import one_line_user_errors


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
@one_line_user_errors
def main(cfg: DictConfig) -> None:
    from lss.training import train  # imported here so `--help` and config errors answer fast

    train(cfg)


if __name__ == "__main__":
    main()
