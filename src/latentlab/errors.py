"""The errors a user can fix: each message names the problem and what to do, and a stage prints it as one line."""

from __future__ import annotations


class LatentlabError(RuntimeError):
    """A problem with the user's input or machine, not a bug: `cli.run` prints the message, no traceback."""


class ConfigError(LatentlabError, ValueError):
    """A problem in params.yaml; the message names the key and what to do."""


class DataError(LatentlabError):
    """A raw file is missing, damaged or unreadable; the message says which and what to do."""


class InputError(LatentlabError):
    """A stage input (a metrics file, prepared data, a checkpoint) is missing, unreadable or of the wrong kind."""


class CheckpointError(InputError):
    """A checkpoint or other tensor file is unreadable or was written by another version of the code."""


class OutputError(LatentlabError):
    """An output could not be written (read-only folder, full disk); every output is left as it was."""
