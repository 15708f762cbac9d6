"""`python -m lss.tracking ui`: the MLflow UI over lss's store (127.0.0.1 unless told otherwise)."""

from lss.tracking.ui import main

main()
