"""Step 7: run the planned jobs (in parallel with joblib) and assemble the report.

``n_jobs=1`` runs in-process; any other value uses joblib's default process
backend, or whatever backend the caller selected (``backend="dask"`` runs on
a ``dask.distributed`` cluster the caller has connected to). Jobs are
independent and deterministic, so the files written do not depend on
``n_jobs`` or the backend.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import joblib

from .errors import ExportError, GeometryError, StrictModeError
from .index import ExportIndex, RasterOptions, build_index
from .load import PathLike, load_annotations, load_metadata
from .plan import SegJob, SrJob, plan_seg, plan_sr
from .report import RunReport, Skip, WrittenFile
from .write import write_bytes, write_dataset

OutputFormat = Literal["SEG", "SR"]
REPORT_NAME = "report.json"


def _build_and_write(build: Any, job: SegJob | SrJob, out_dir: str) -> Any:
    """``build(job)`` then write the dataset; returns the build's stats or a :class:`Skip`.

    Every failure becomes a skip naming the file and the cause, never a raise:
    one bad work item must not stop a run over thousands.
    """
    try:
        ds, stats = build(job)
        write_dataset(ds, Path(out_dir), job.filename)
    except GeometryError as exc:
        reason, detail = "invalid_geometry", str(exc)
    except ExportError as exc:
        reason, detail = "build_failed", str(exc)
    except Exception as exc:  # highdicom/pydicom refusing the input: report, don't crash
        reason, detail = "build_failed", f"{type(exc).__name__}: {exc}"
    else:
        return stats
    return _job_skip(job, reason, detail)


def _job_skip(job: SegJob | SrJob, reason: str, detail: str) -> Skip:
    """A skip for a whole file: the file name, the cause, the study (and source series)."""
    series = job.series_uid if isinstance(job, SegJob) else None
    return Skip(reason, f"{job.filename} not written: {detail}", None, job.study_uid, series)


def run_seg_job(job: SegJob, out_dir: str) -> WrittenFile | Skip:
    """Build and write one SEG; a failure becomes a :class:`Skip`, never a raise."""
    from .seg import build_seg

    stats = _build_and_write(build_seg, job, out_dir)
    if isinstance(stats, Skip):
        return stats
    return WrittenFile(
        path=job.filename,
        kind="SEG",
        dataset_id=job.dataset_id,
        study_uid=job.study_uid,
        series_uid=job.series_uid,
        annotator_id=job.annotator_id,
        label_groups=job.label_groups,
        sop_instance_uid=job.sop_instance_uid,
        series_instance_uid=job.series_instance_uid,
        annotations=stats.annotations,
        segments=stats.segments,
        frames=stats.frames,
    )


def run_sr_job(job: SrJob, out_dir: str) -> WrittenFile | Skip:
    """Build and write one SR; a failure becomes a :class:`Skip`, never a raise."""
    from .sr import build_sr

    stats = _build_and_write(build_sr, job, out_dir)
    if isinstance(stats, Skip):
        return stats
    return WrittenFile(
        path=job.filename,
        kind="SR",
        dataset_id=job.dataset_id,
        study_uid=job.study_uid,
        series_uid=None,
        annotator_id=job.annotator_id,
        label_groups=tuple(sorted({lab.group_name for lab in job.labels.values()})),
        sop_instance_uid=job.sop_instance_uid,
        series_instance_uid=job.series_instance_uid,
        annotations=stats.annotations,
        measurement_groups=stats.measurement_groups,
    )


def _results(
    fn: Any, jobs: list[Any], out_dir: str, n_jobs: int, backend: str | None, progress: bool
) -> Iterator[WrittenFile | Skip]:
    workers = min(joblib.effective_n_jobs(n_jobs), len(jobs))
    if workers <= 1 and backend is None:
        # starting worker processes costs more than one job: stay in-process
        it: Any = (fn(j, out_dir) for j in jobs)
    else:
        parallel = joblib.Parallel(n_jobs=workers, backend=backend, return_as="generator")
        it = parallel(joblib.delayed(fn)(j, out_dir) for j in jobs)
    if progress:
        from tqdm import tqdm

        it = tqdm(it, total=len(jobs), unit="file", dynamic_ncols=True)
    yield from it


def run_export(
    output_format: OutputFormat,
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
) -> RunReport:
    """Run a whole export: load → index → plan → (rasterise →) build → write → report.

    Raises:
        InputFormatError: a file is unreadable or not the expected export.
        InputMismatchError: the files do not describe the same data.
        StrictModeError: ``strict`` and there were problems; nothing was written.
    """
    fmt = str(output_format).upper()
    if fmt not in ("SEG", "SR"):
        raise ExportError(f'output format must be "SEG" or "SR", not {output_format!r}')
    ann = load_annotations(annotations)
    meta = load_metadata(metadata)
    index: ExportIndex = build_index(ann, meta, raster)
    report = RunReport(output_format=fmt, output_dir=str(Path(out_dir).resolve()))
    report.inputs = dict(index.counts)
    report.warnings.extend(index.warnings)
    relevant = _relevant_skips(index, fmt)
    report.skips.extend(relevant)

    jobs: list[Any]
    if fmt == "SEG":
        jobs, plan_skips = plan_seg(index, combine_label_groups)
        report.skips.extend(plan_skips)
        fn: Any = run_seg_job
    else:
        jobs = plan_sr(index)
        fn = run_sr_job
    report.inputs["jobs"] = len(jobs)

    if strict and report.skips:
        problems = [f"[{s.reason}] {s.detail}" for s in report.skips]
        raise StrictModeError(
            f"strict mode: {len(problems)} problem(s) in the inputs, nothing written; first: "
            + problems[0],
            problems,
        )

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    done = 0
    try:
        for result in _results(fn, jobs, str(out), n_jobs, backend, progress):
            done += 1
            if isinstance(result, WrittenFile):
                report.files.append(result)
            else:
                report.skips.append(result)
    except Exception as exc:  # the pool itself failed (a worker killed, e.g. out of memory)
        _record_unfinished(report, jobs[done:], out, f"{type(exc).__name__}: {exc}")
    write_bytes(report.to_json(), out, REPORT_NAME)
    return report


def _record_unfinished(report: RunReport, jobs: list[Any], out: Path, cause: str) -> None:
    """Jobs whose results never came back become skips; files some of them may already
    have written are removed so the folder holds exactly what the report lists (a re-run
    writes them again, byte for byte)."""
    report.warnings.append(f"the worker pool failed after {len(report.files)} file(s): {cause}")
    for job in jobs:
        (out / job.filename).unlink(missing_ok=True)
        report.skips.append(_job_skip(job, "worker_failed", f"the worker pool failed ({cause})"))


def _relevant_skips(index: ExportIndex, fmt: str) -> list[Skip]:
    """Index skips that matter for this output: SEG ignores global labels' problems."""
    if fmt == "SR":
        return list(index.skips)
    seg_reasons_for_any_label = {"unknown_label", "invalid_annotation"}
    out = []
    for s in index.skips:
        if (
            s.reason in seg_reasons_for_any_label
            or s.sop_uid is not None
            or s.reason
            in (
                "null_data",
                "invalid_geometry",
                "non_finite_vertex",
                "frame_out_of_range",
                "invalid_frame",
            )
        ):
            out.append(s)
    return out
