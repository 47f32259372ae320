"""Public Python API: typed functions and the drop-in ``SR_SEG_Export`` class."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .errors import OptionError
from .index import RasterOptions
from .load import PathLike
from .plan import DEFAULT_MEMORY_BUDGET
from .report import RunReport
from .run import OutputFormat, run_export
from .shards import WHOLE, Shard, parse_shard


def export_seg(
    annotations: PathLike | dict[str, Any],
    metadata: PathLike | dict[str, Any],
    out_dir: PathLike,
    *,
    combine_label_groups: bool = True,
    n_jobs: int = -1,
    strict: bool = False,
    raster: RasterOptions | None = None,
    backend: str | None = None,
    progress: bool = False,
    frame_base: int = 0,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    clean: bool = False,
    resume: bool = False,
    shard: Shard | str | None = None,
) -> RunReport:
    """Write one DICOM SEG per annotator per annotated series (per label group too when
    ``combine_label_groups`` is False) into ``out_dir`` and return the run report.

    Args:
        annotations: Path of the MD.ai annotation export, or the parsed dict.
        metadata: Path of the MD.ai DICOM metadata export, or the parsed dict.
        out_dir: Output folder (created if needed); ``report.json`` is written there too.
        combine_label_groups: One SEG per series and annotator with every label group
            (True), or one per label group as well (False).
        n_jobs: Worker processes (joblib semantics: -1 = all cores, 1 = in-process).
        strict: Fail before writing anything if any annotation would be skipped.
        raster: Stroke width / point radius for ``line`` and ``location`` annotations.
        backend: joblib backend name (e.g. ``"dask"`` with a connected
            ``dask.distributed.Client``); None for joblib's default.
        progress: Show a progress bar on stderr.
        frame_base: 0 (MD.ai's convention: ``frameNumber`` 0 is the first frame) or 1 for
            exports that count frames from 1 (the report warns when numbers look 1-based).
        memory_budget: Bytes one SEG may need while it is built (packed frames plus one
            frame); larger ones are skipped with reason ``too_large``.
        clean: Remove files of this format that an earlier run left in ``out_dir`` and
            this run did not write (by default they are listed as ``stale``).
        resume: Reuse the files an earlier (killed or partial) run into ``out_dir``
            finished when their inputs are unchanged; rebuild the rest.
        shard: Run only shard ``"I/N"`` (or a :class:`~mdai_fastexport.shards.Shard`) of the
            plan; see ``merge-reports``.

    Returns:
        The run report, also written as ``out_dir/report.seg.json`` (``report.sr.json``).

    Raises:
        OptionError, InputFormatError, InputMismatchError, StrictModeError, OutputError:
            see :mod:`mdai_fastexport.errors`; nothing is raised for a single bad annotation
            or file (those are skips in the report).
    """
    return run_export(
        "SEG",
        annotations,
        metadata,
        out_dir,
        combine_label_groups=combine_label_groups,
        n_jobs=n_jobs,
        strict=strict,
        raster=raster,
        backend=backend,
        progress=progress,
        frame_base=frame_base,
        memory_budget=memory_budget,
        clean=clean,
        resume=resume,
        shard=_shard(shard),
    )


def export_sr(
    annotations: PathLike | dict[str, Any],
    metadata: PathLike | dict[str, Any],
    out_dir: PathLike,
    *,
    n_jobs: int = -1,
    strict: bool = False,
    backend: str | None = None,
    progress: bool = False,
    frame_base: int = 0,
    clean: bool = False,
    resume: bool = False,
    shard: Shard | str | None = None,
) -> RunReport:
    """Write one TID 1500 Comprehensive SR per annotator per annotated study into
    ``out_dir`` and return the run report. Arguments as in :func:`export_seg`."""
    return run_export(
        "SR",
        annotations,
        metadata,
        out_dir,
        n_jobs=n_jobs,
        strict=strict,
        backend=backend,
        progress=progress,
        frame_base=frame_base,
        clean=clean,
        resume=resume,
        shard=_shard(shard),
    )


def _shard(shard: Shard | str | None) -> Shard:
    if shard is None:
        return WHOLE
    return shard if isinstance(shard, Shard) else parse_shard(shard)


class SR_SEG_Export:
    """Drop-in replacement for ``mdai``'s ``SR_SEG_Export``: exports on construction.

    Args:
        output_format: ``"SR"`` or ``"SEG"``.
        annotation_json: Path of the annotation export.
        metadata_json: Path of the DICOM metadata export.
        combine_label_groups: As in the original (SEG only).
        output_dir: Output folder; default ``SR_OUTPUT`` / ``SEG_OUTPUT`` in the
            current working directory.

    Attributes:
        report: The :class:`RunReport` of the export.
        output_dir: The folder written to.
    """

    def __init__(
        self,
        output_format: OutputFormat,
        annotation_json: PathLike,
        metadata_json: PathLike,
        combine_label_groups: bool = True,
        output_dir: PathLike | None = None,
    ) -> None:
        fmt = str(output_format).upper()
        if fmt not in ("SR", "SEG"):
            raise OptionError(
                f'Invalid output format {output_format!r}. Must be either "SR" or "SEG"'
            )  # a ValueError too, as the original raises
        self.output_format = fmt
        self.output_dir = Path(output_dir) if output_dir is not None else Path(f"{fmt}_OUTPUT")
        self.report: RunReport = run_export(
            fmt,  # type: ignore[arg-type]
            annotation_json,
            metadata_json,
            self.output_dir,
            combine_label_groups=combine_label_groups,
        )
