"""mdai-fastexport: MD.ai annotation exports → DICOM SEG and DICOM SR (TID 1500).

Data path, one module per step: :mod:`load` (orjson) → :mod:`index` (compact
indices, flat geometry) → :mod:`plan` (work items) → :mod:`raster` (Rust) →
:mod:`seg` / :mod:`sr` (highdicom) → :mod:`write` (atomic) → :mod:`report`,
driven by :mod:`run` (joblib). Public entry points: :func:`export_seg`,
:func:`export_sr`, :class:`SR_SEG_Export` and the ``mdai-fastexport`` CLI.
"""

from __future__ import annotations

from ._version import __version__
from .api import SR_SEG_Export, export_seg, export_sr
from .errors import (
    ExportError,
    GeometryError,
    InputFormatError,
    InputMismatchError,
    Interrupted,
    OptionError,
    OutputError,
    StrictModeError,
)
from .index import RasterOptions
from .report import RunReport, Skip, WrittenFile

__all__ = [
    "ExportError",
    "GeometryError",
    "InputFormatError",
    "InputMismatchError",
    "Interrupted",
    "OptionError",
    "OutputError",
    "RasterOptions",
    "RunReport",
    "SR_SEG_Export",
    "Skip",
    "StrictModeError",
    "WrittenFile",
    "__version__",
    "export_seg",
    "export_sr",
]
