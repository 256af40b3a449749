"""User-facing errors: each becomes one line on stderr and a distinct exit code.

Raise these (never bare exceptions) for anything a user can cause or fix: bad
files, unknown models, missing artifacts, no disk, out of memory. The CLI and the
TUI print ``str(error)`` and nothing else.
"""

from __future__ import annotations


class UserError(Exception):
    """Something the user can fix; printed as one line, exit code ``exit_code``."""

    exit_code: int = 2


class DataError(UserError):
    """The data file is missing, empty, undecodable, or unusable for the task."""

    exit_code = 2


class ConfigError(UserError):
    """A profile, goals file, plan or option is invalid."""

    exit_code = 2


class ModelNotFoundError(UserError):
    """A model reference could not be resolved offline."""

    exit_code = 3


class ArtifactError(UserError):
    """An artifact folder is missing, corrupt, from another version, or already exists."""

    exit_code = 4


class ResourceError(UserError):
    """Out of memory, out of disk, or a device that is not there."""

    exit_code = 5


class Cancelled(UserError):
    """The user interrupted the work (Ctrl-C, Escape); what was done is kept."""

    exit_code = 130
