"""What every entry point (train.py, analyze.py, predict.py) does with a ``UserError`` and with SIGTERM / SIGINT."""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import NoReturn, TypeVar

from lss.errors import Interrupted, UserError

T = TypeVar("T")
FULL_ERROR_ENV = "HYDRA_FULL_ERROR"
INTERRUPTING_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def user_error_in(error: BaseException) -> UserError | None:
    """The UserError behind ``error``, also when a library re-raised it (Hydra's ``instantiate`` wraps errors)."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, UserError):
            return cause
        cause = cause.__cause__
    return None


def exit_with_one_line(message: str, code: int = 1) -> NoReturn:
    print(f"Error: {' '.join(message.split())}", file=sys.stderr, flush=True)
    raise SystemExit(code) from None


@contextlib.contextmanager
def signals_interrupt() -> Iterator[None]:
    """SIGTERM (what SLURM sends at a time limit, and ``kill``) and SIGINT raise ``Interrupted``, so the job's run
    ends KILLED and the sweep stops with 128 + the signal number instead of being cut off (SIGTERM's default) or
    taken for a failure. A second signal acts at once. Only the main thread can receive signals."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {number: signal.getsignal(number) for number in INTERRUPTING_SIGNALS}

    def interrupt(number: int, frame: FrameType | None) -> None:
        for restored, handler in previous.items():
            signal.signal(restored, handler)
        Interrupted.received = Interrupted(signal.Signals(number).name, 128 + number)
        if not Interrupted.held:  # held: the job claiming its run raises it as soon as the run can end KILLED
            raise Interrupted.received

    for number in INTERRUPTING_SIGNALS:
        signal.signal(number, interrupt)
    try:
        yield
    finally:
        Interrupted.received = None
        for number, handler in previous.items():
            signal.signal(number, handler)


def one_line_user_errors(task: Callable[..., T]) -> Callable[..., T]:
    """Print a ``UserError`` as the last line (``Error: ...``) and exit 1; an interrupt as one line and exit 128 + the
    signal number (143 for SIGTERM, 130 for SIGINT).

    ``HYDRA_FULL_ERROR=1`` keeps the traceback; any other exception is a bug and keeps it always.
    """

    @functools.wraps(task)
    def reporting(*args: object, **kwargs: object) -> T:
        try:
            with signals_interrupt():
                return task(*args, **kwargs)
        except Interrupted as interrupt:
            exit_with_one_line(
                f"interrupted by {interrupt.signal_name}; what had finished is kept: run the same command again "
                "to do the rest (train.py skips FINISHED jobs with resume=true)",
                interrupt.exit_code,
            )
        except Exception as error:
            user_error = user_error_in(error)
            if user_error is None or os.environ.get(FULL_ERROR_ENV) == "1":
                raise
            exit_with_one_line(str(user_error))

    return reporting
