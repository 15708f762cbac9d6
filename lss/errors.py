"""Errors a user can fix (a path, a setting, the data): entry points print them as one line, no traceback.

Anything else is a bug in lss and keeps its traceback.
"""

from __future__ import annotations

from typing import ClassVar


class UserError(Exception):
    """The message alone says what was expected, what was found and what to do."""


class ConfigError(UserError, ValueError):
    """A config value or a path it names cannot work; raised before any training starts."""


class Interrupted(BaseException):
    """SIGTERM (a SLURM time limit, ``kill``) or SIGINT (Ctrl+C) ended the job: not an error of the job.

    A BaseException, like KeyboardInterrupt, so that no ``except Exception`` on the way swallows it. A signal that
    lands in code whose exceptions Python ignores (an at-fork hook, a ``__del__``) is still kept in ``received``, and
    the job raises it again before it ends its run FINISHED.
    """

    received: ClassVar[Interrupted | None] = None
    held: ClassVar[bool] = False
    """While True the handler only records the signal in ``received``: the job raises it once its run can end KILLED."""

    def __init__(self, signal_name: str, exit_code: int) -> None:
        super().__init__(signal_name)
        self.signal_name = signal_name
        self.exit_code = exit_code
