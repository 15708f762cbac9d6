"""What every entry point (train.py, analyze.py, predict.py) does with a ``UserError``."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import TypeVar

from lss.errors import UserError

T = TypeVar("T")
FULL_ERROR_ENV = "HYDRA_FULL_ERROR"


def user_error_in(error: BaseException) -> UserError | None:
    """The UserError behind ``error``, also when a library re-raised it (Hydra's ``instantiate`` wraps errors)."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, UserError):
            return cause
        cause = cause.__cause__
    return None


def one_line_user_errors(task: Callable[..., T]) -> Callable[..., T]:
    """Print a ``UserError`` as the last line (``Error: ...``) and exit 1.

    ``HYDRA_FULL_ERROR=1`` keeps the traceback; any other exception is a bug and keeps it always.
    """

    @functools.wraps(task)
    def reporting(*args: object, **kwargs: object) -> T:
        try:
            return task(*args, **kwargs)
        except Exception as error:
            user_error = user_error_in(error)
            if user_error is None or os.environ.get(FULL_ERROR_ENV) == "1":
                raise
            print(f"Error: {' '.join(str(user_error).split())}", file=sys.stderr, flush=True)
            raise SystemExit(1) from None

    return reporting
