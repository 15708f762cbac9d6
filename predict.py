"""Select the Mid sagittal slices of new studies: `python predict.py run_id=ID input=DIR output=DIR`."""

import hydra
from omegaconf import DictConfig

from lss.entry import one_line_user_errors


@hydra.main(version_base="1.3", config_path="conf", config_name="predict")
@one_line_user_errors
def main(cfg: DictConfig) -> None:
    from lss.selection.predict import predict  # imported here so `--help` and config errors answer fast

    predict(cfg)


if __name__ == "__main__":
    main()
