"""Errors a user can fix (a path, a setting, the data): entry points print them as one line, no traceback.

Anything else is a bug in lss and keeps its traceback.
"""


class UserError(Exception):
    """The message alone says what was expected, what was found and what to do."""


class ConfigError(UserError, ValueError):
    """A config value or a path it names cannot work; raised before any training starts."""
