"""Exceptions raised by mdai-fastexport.

Every error a user can cause with their input is an :class:`ExportError` with a
message that names the offending file, annotation, label or UID, so the CLI can
print it without a traceback.
"""

from __future__ import annotations


class ExportError(Exception):
    """Base class of every error this package raises on purpose."""


class OptionError(ExportError, ValueError):
    """An option has an invalid value (``n_jobs=0``, a negative line width, an unknown
    backend, ...); raised before anything is read or written."""


class InputFormatError(ExportError):
    """A JSON file cannot be read or is not an MD.ai export of the expected kind."""


class InputMismatchError(ExportError):
    """The annotation export and the metadata export do not describe the same data."""


class OutputError(ExportError):
    """The output folder cannot be used: not a folder, not writable, or the disk is full."""


class StrictModeError(ExportError):
    """``strict=True`` and the inputs have problems that would lead to skipped work."""

    def __init__(self, message: str, problems: list[str]) -> None:
        super().__init__(message)
        self.problems = problems


class GeometryError(ExportError):
    """An annotation's geometry cannot be rasterised (e.g. a non-finite vertex)."""


class Interrupted(BaseException):
    """The run was stopped by a signal (SIGINT, SIGTERM); raised from the signal handler the
    CLI installs. ``report`` is the path of the report of what finished (marked
    interrupted) when files were being written, None when the run was stopped before."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"interrupted by signal {signum}")
        self.signum = signum
        self.report: str | None = None
