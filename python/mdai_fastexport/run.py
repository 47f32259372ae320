"""Step 7: run the planned jobs (in parallel with joblib) and assemble the report.

Jobs are grouped into batches (:func:`make_batches`), each batch shipped to a
worker once with the headers of every instance its jobs reference, so a header
crosses the process boundary once per batch however many annotators' files
use it, and a worker builds each source image's geometry once per batch. A
batch is big enough to amortise the shipping (about four batches per worker,
balanced by the jobs' cost estimates) and small enough to keep both cores busy
to the end. ``n_jobs=1`` runs in-process, job by job. Any joblib backend works
(``"dask"`` runs the batches on a ``dask.distributed`` cluster); jobs are
independent and deterministic, so the files do not depend on the backend or the
number of workers.
"""

from __future__ import annotations

import errno
import os
import signal
import sys
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import joblib

from .errors import (
    ExportError,
    GeometryError,
    Interrupted,
    OptionError,
    OutputError,
    StrictModeError,
)
from .images import SourceImage, source_image
from .index import ExportIndex, RasterOptions, build_index
from .load import PathLike, load_annotations, load_metadata
from .plan import DEFAULT_MEMORY_BUDGET, Job, SegJob, plan_seg, plan_sr
from .report import RunReport, Skip, WrittenFile
from .write import write_bytes, write_chunks

OutputFormat = Literal["SEG", "SR"]
BATCHES_PER_WORKER = 8
#: Batches handed to a forked pool at once (per worker): the pool's result list comes back
#: when the whole wave is done, so waves are kept short to keep the progress bar moving.
WAVE_PER_WORKER = 2


@dataclass(slots=True)
class WorkBatch:
    """Jobs for one worker call, with each referenced header once."""

    jobs: list[Job]
    headers: dict[str, Mapping[str, Any]]


@dataclass(slots=True)
class JobOutcome:
    """What one job produced: its file (or None), skips and warnings."""

    order: int
    file: WrittenFile | None = None
    skips: list[Skip] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    disk_full: bool = False
    internal_error: bool = False


def make_batches(jobs: Sequence[Job], index: ExportIndex, workers: int) -> list[WorkBatch]:
    """Consecutive jobs cut into batches of about equal cost, ``BATCHES_PER_WORKER`` per
    worker, never splitting the jobs of one series (SEG) or study (SR): they share headers."""
    total = sum(j.cost for j in jobs)
    target = total / max(1, workers * BATCHES_PER_WORKER)
    batches: list[WorkBatch] = []
    current: list[Job] = []
    cost = 0.0
    for k, job in enumerate(jobs):
        current.append(job)
        cost += job.cost
        following = jobs[k + 1] if k + 1 < len(jobs) else None
        if cost >= target and (following is None or _unit(following) != _unit(job)):
            batches.append(_batch(current, index))
            current, cost = [], 0.0
    if current:
        batches.append(_batch(current, index))
    return batches


def _unit(job: Job) -> str:
    return job.series_uid if isinstance(job, SegJob) else job.study_uid


def _batch(jobs: list[Job], index: ExportIndex) -> WorkBatch:
    uids = {uid for job in jobs for uid in job.instance_uids}
    return WorkBatch(jobs, {uid: index.instances[uid].tags for uid in sorted(uids)})


def _image_cache(headers: Mapping[str, Mapping[str, Any]]) -> Callable[[str], SourceImage]:
    cache: dict[str, SourceImage] = {}

    def image_of(uid: str) -> SourceImage:
        img = cache.get(uid)
        if img is None:
            img = source_image(uid, headers[uid])
            cache[uid] = img
        return img

    return image_of


def _job_skip(job: Job, reason: str, detail: str) -> Skip:
    """A skip for a whole file: the file name, the cause, the study (and source series)."""
    series = job.series_uid if isinstance(job, SegJob) else None
    return Skip(reason, f"{job.filename} not written: {detail}", None, job.study_uid, series)


def run_job(
    job: Job, order: int, image_of: Callable[[str], SourceImage], out_dir: Path
) -> JobOutcome:
    """Build and write one file; every failure becomes a skip, never a raise."""
    out = JobOutcome(order)
    try:
        if isinstance(job, SegJob):
            from .seg import build_seg

            seg = build_seg(job, image_of)
            write_chunks(out_dir, job.filename, seg.part10)
            out.skips, out.warnings = seg.skips, seg.warnings
            out.file = WrittenFile(
                path=job.filename,
                kind="SEG",
                dataset_id=job.dataset_id,
                study_uid=job.study_uid,
                series_uid=job.series_uid,
                annotator_id=job.annotator.key,
                label_groups=job.label_groups,
                sop_instance_uid=job.sop_instance_uid,
                series_instance_uid=job.series_instance_uid,
                annotations=seg.annotations,
                segments=seg.segments,
                frames=seg.frames,
                bytes=len(seg.part10),
            )
        else:
            from .sr import build_sr

            sr = build_sr(job, image_of)
            write_chunks(out_dir, job.filename, sr.part10)
            out.warnings = sr.warnings
            out.file = WrittenFile(
                path=job.filename,
                kind="SR",
                dataset_id=job.dataset_id,
                study_uid=job.study_uid,
                series_uid=None,
                annotator_id=job.annotator.key,
                label_groups=tuple(sorted({lab.group_name for lab in job.labels.values()})),
                sop_instance_uid=job.sop_instance_uid,
                series_instance_uid=job.series_instance_uid,
                annotations=sr.annotations,
                measurement_groups=sr.measurement_groups,
                bytes=len(sr.part10),
            )
    except GeometryError as exc:
        out.skips = [_job_skip(job, "invalid_geometry", str(exc))]
    except ExportError as exc:
        out.skips = [_job_skip(job, "build_failed", str(exc))]
    except OSError as exc:
        out.disk_full = exc.errno == errno.ENOSPC
        out.skips = [_job_skip(job, "write_failed", f"{exc.strerror or exc} ({out_dir})")]
    except Exception as exc:  # a bug: reported as such (exit code 3), the run goes on
        where = traceback.extract_tb(exc.__traceback__)[-1]
        out.internal_error = True
        out.skips = [
            _job_skip(
                job,
                "internal_error",
                f"{type(exc).__name__}: {exc} (at {Path(where.filename).name}:{where.lineno}); "
                "please report this",
            )
        ]
    return out


def _die_with_parent() -> None:
    """Ask Linux to kill this worker when the process that started it dies (a killed run
    must not leave workers behind); a no-op elsewhere."""
    if sys.platform != "linux":
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def run_batch(batch: WorkBatch, orders: list[int], out_dir: str) -> list[JobOutcome]:
    """Worker entry point: run every job of ``batch`` with one image cache."""
    _die_with_parent()
    image_of = _image_cache(batch.headers)
    out = Path(out_dir)
    results = []
    for job, order in zip(batch.jobs, orders, strict=True):
        r = run_job(job, order, image_of, out)
        results.append(r)
        if r.disk_full:
            break
    return results


def _batch_orders(batches: list[WorkBatch]) -> list[list[int]]:
    orders, k = [], 0
    for b in batches:
        orders.append(list(range(k, k + len(b.jobs))))
        k += len(b.jobs)
    return orders


def _outcomes(
    jobs: list[Job],
    index: ExportIndex,
    out_dir: Path,
    n_jobs: int,
    backend: str | None,
    progress: bool,
) -> Iterator[JobOutcome]:
    """Run ``jobs``, yielding outcomes as they finish (in any order).

    * one worker: in-process, job by job;
    * default backend: joblib's ``multiprocessing`` backend, whose workers are
      forked from this process on Linux (nothing to import, no start-up to wait
      for), fed batches in waves of one per worker so progress advances;
    * any other joblib backend (``loky``, ``threading``, ``dask``): joblib's
      generator of results, batch by batch.
    """
    workers = min(joblib.effective_n_jobs(n_jobs), len(jobs))
    bar = None

    def advance(n: int) -> None:
        if bar is not None:
            bar.update(n)

    try:
        if workers <= 1 and backend is None:
            if progress:
                bar = _progress_bar(len(jobs))
            image_of = _image_cache({uid: inst.tags for uid, inst in index.instances.items()})
            for k, job in enumerate(jobs):
                r = run_job(job, k, image_of, out_dir)
                advance(1)
                yield r
                if r.disk_full:
                    return
            return
        batches = make_batches(jobs, index, workers)
        orders = _batch_orders(batches)
        calls = [
            joblib.delayed(run_batch)(b, o, str(out_dir))
            for b, o in zip(batches, orders, strict=True)
        ]
        if backend is None:
            # the pool forks before the progress bar starts its thread
            with joblib.Parallel(n_jobs=workers, backend="multiprocessing") as parallel:
                if progress:
                    bar = _progress_bar(len(jobs))
                wave = workers * WAVE_PER_WORKER
                for start in range(0, len(calls), wave):
                    for results in parallel(calls[start : start + wave]):
                        advance(len(results))
                        yield from results
                        if any(r.disk_full for r in results):
                            return
            return
        if progress:
            bar = _progress_bar(len(jobs))
        parallel = joblib.Parallel(n_jobs=workers, backend=backend, return_as="generator_unordered")
        for results in parallel(calls):
            advance(len(results))
            yield from results
            if any(r.disk_full for r in results):
                return
    finally:
        if bar is not None:
            bar.close()


def _progress_bar(total: int) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, unit="file", dynamic_ncols=True)


def check_options(
    n_jobs: object, backend: object, frame_base: object, memory_budget: object
) -> None:
    """Validate run options the same way for the API and the CLI.

    Raises:
        OptionError: the option and its value are named.
    """
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs == 0:
        raise OptionError(
            f"n_jobs must be a non-zero integer (1 = in-process, -1 = all cores), not {n_jobs!r}"
        )
    if backend is not None:
        from joblib.parallel import BACKENDS

        known = sorted({*BACKENDS, "dask"})
        if not isinstance(backend, str) or backend not in known:
            raise OptionError(f"unknown backend {backend!r}; one of {', '.join(known)}")
    if frame_base not in (0, 1) or isinstance(frame_base, bool):
        raise OptionError(f"frame_base must be 0 or 1, not {frame_base!r}")
    if isinstance(memory_budget, bool) or not isinstance(memory_budget, int) or memory_budget <= 0:
        raise OptionError(
            f"memory_budget must be a positive number of bytes, not {memory_budget!r}"
        )


def _prepare_output(out: Path, fmt: str) -> list[str]:
    """Create/check the output folder, remove our temporary files left by a killed run, and
    return the names of this format's files already there.

    Raises:
        OutputError: the folder cannot be created or written.
    """
    if out.exists() and not out.is_dir():
        raise OutputError(f"the output path {out} exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the output folder {out}: {exc.strerror or exc}") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise OutputError(f"the output folder {out} is not writable")
    existing = []
    for p in out.iterdir():
        if p.name.startswith(f".DICOM_{fmt}_") and p.name.endswith(".tmp"):
            p.unlink(missing_ok=True)
        elif p.name.startswith(f"DICOM_{fmt}_") and p.name.endswith(".dcm"):
            existing.append(p.name)
    return sorted(existing)


def _write_report(report: RunReport, out: Path) -> None:
    try:
        write_bytes(report.to_json(), out, report.name)
    except OSError as exc:
        raise OutputError(
            f"cannot write {out / report.name}: {exc.strerror or exc}; "
            f"{len(report.files)} file(s) were written before"
        ) from None


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
    frame_base: int = 0,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    clean: bool = False,
) -> RunReport:
    """Run a whole export: load → index → plan → (rasterise →) build → write → report.

    Raises:
        OptionError: an option has an invalid value (nothing read or written).
        InputFormatError: a file is unreadable or not the expected export.
        InputMismatchError: the files do not describe the same data.
        StrictModeError: ``strict`` and there were problems; nothing was written.
        OutputError: the output folder cannot be used, or the report cannot be written.
        Interrupted: a signal stopped the run (the report of what finished is written).
    """
    fmt = str(output_format).upper()
    if fmt not in ("SEG", "SR"):
        raise OptionError(f'output format must be "SEG" or "SR", not {output_format!r}')
    check_options(n_jobs, backend, frame_base, memory_budget)
    ann = load_annotations(annotations)
    meta = load_metadata(metadata)
    index = build_index(ann, meta, raster, frame_base=frame_base)
    report = RunReport(output_format=fmt, output_dir=str(Path(out_dir).resolve()))
    report.inputs = dict(index.counts)
    report.warnings.extend(index.warnings)
    report.skips.extend(_relevant_skips(index, fmt))

    jobs: list[Any]
    if fmt == "SEG":
        jobs, plan_skips = plan_seg(index, combine_label_groups, memory_budget)
        report.skips.extend(plan_skips)
    else:
        jobs = plan_sr(index)
    report.inputs["jobs"] = len(jobs)

    if strict and report.skips:
        problems = [f"[{s.reason}] {s.detail}" for s in report.skips]
        raise StrictModeError(
            f"strict mode: {len(problems)} problem(s) in the inputs, nothing written; first: "
            + problems[0],
            problems,
        )

    out = Path(out_dir)
    existing = _prepare_output(out, fmt)
    outcomes: list[JobOutcome] = []
    try:
        for r in _outcomes(jobs, index, out, n_jobs, backend, progress):
            outcomes.append(r)
    except (Interrupted, KeyboardInterrupt) as exc:
        report.interrupted = (
            signal.Signals(exc.signum).name if isinstance(exc, Interrupted) else "SIGINT"
        )
        _collect(report, jobs, outcomes)
        _prepare_output(out, fmt)  # temporary files of the jobs cut short
        _write_report(report, out)
        raise
    except Exception as exc:  # the pool itself failed (a worker killed, e.g. out of memory)
        _collect(report, jobs, outcomes)
        _record_unfinished(report, jobs, out, exc)
    else:
        _collect(report, jobs, outcomes)
    written = {f.path for f in report.files}
    report.stale = [name for name in existing if name not in written]
    if clean:
        for name in report.stale:
            (out / name).unlink(missing_ok=True)
        report.removed, report.stale = report.stale, []
    _write_report(report, out)
    return report


def _collect(report: RunReport, jobs: list[Job], outcomes: list[JobOutcome]) -> None:
    """Fold the job outcomes into the report, in job order."""
    outcomes.sort(key=lambda r: r.order)
    for r in outcomes:
        if r.file is not None:
            report.files.append(r.file)
        report.skips.extend(r.skips)
        report.warnings.extend(r.warnings)
        report.internal_errors += r.internal_error
    finished = {r.order for r in outcomes}
    report.not_written = [j.filename for k, j in enumerate(jobs) if k not in finished]
    if report.not_written and any(r.disk_full for r in outcomes):
        report.skips.append(
            Skip(
                "write_failed",
                f"{len(report.not_written)} file(s) not attempted after the disk filled up: "
                + ", ".join(report.not_written[:3])
                + (" ..." if len(report.not_written) > 3 else ""),
            )
        )
    report.inputs["exported_annotations"] = sum(f.annotations for f in report.files)


def _record_unfinished(report: RunReport, jobs: list[Job], out: Path, exc: Exception) -> None:
    """Jobs whose results never came back: one skip for them all; files some of them may
    already have written are removed, so the folder holds exactly what the report lists
    (a re-run writes them again, byte for byte)."""
    cause = f"{type(exc).__name__}: {exc}"
    for name in report.not_written:
        (out / name).unlink(missing_ok=True)
    report.skips.append(
        Skip(
            "worker_failed",
            f"the worker pool failed ({cause}); {len(report.not_written)} file(s) not written: "
            + ", ".join(report.not_written[:3])
            + (" ..." if len(report.not_written) > 3 else ""),
        )
    )


#: Skip reasons that matter to SEG whatever the label (the rest only for local labels).
_SEG_ALWAYS = {
    "unknown_label",
    "invalid_annotation",
    "unknown_scope",
    "unsupported_mode",
    "video_dataset",
}


def _relevant_skips(index: ExportIndex, fmt: str) -> list[Skip]:
    """Index skips that matter for this output: SEG ignores global labels' problems."""
    if fmt == "SR":
        return list(index.skips)
    out = []
    for s in index.skips:
        if (
            s.reason in _SEG_ALWAYS
            or s.sop_uid is not None
            or s.reason
            in (
                "null_data",
                "invalid_geometry",
                "non_finite_vertex",
                "empty_geometry",
                "frame_out_of_range",
                "invalid_frame",
                "missing_frame_number",
            )
        ):
            out.append(s)
    return out


__all__ = [
    "JobOutcome",
    "OutputFormat",
    "WorkBatch",
    "make_batches",
    "run_batch",
    "run_export",
    "run_job",
]
