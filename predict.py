"""Select the Mid sagittal slices of new studies: `python predict.py run_id=ID input=DIR output=DIR`."""

from lss.launch.apps import predict_app

if __name__ == "__main__":
    predict_app()
