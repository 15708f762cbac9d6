"""Train Mid-vs-Lateral classifiers: `python train.py --help`, sweeps with `-m 'seed=range(20)' modality=T1,T2`."""

from lss.launch.apps import train_app

if __name__ == "__main__":
    train_app()
