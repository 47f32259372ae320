"""Step 7 of the data path: run a whole export and write its report.

:func:`run_export` drives load → index → plan → (rasterise →) build → write,
then writes the manifest. Where the jobs run is :mod:`.schedule`'s business,
what a job does :mod:`.workers`'.

Around the jobs it keeps the output folder true:

* temporary files of an earlier killed run are removed; files of this format
  that the plan does not produce are reported as ``stale`` (or removed with
  ``clean``);
* every finished file gets a line in the run journal (:mod:`..journal`);
  ``resume`` reuses files whose recorded input digest matches the plan's;
* a shard (:mod:`..shards`) runs its part of the plan and writes its own
  manifest;
* an interruption (SIGINT/SIGTERM) stops the workers, removes temporary files
  and writes the report of what finished, marked interrupted; a failed worker
  pool is one skip, and files it may have left are removed.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
from pathlib import Path
from typing import IO, Any, Literal

from ..errors import Interrupted, OptionError, OutputError, StrictModeError
from ..index import ExportIndex, RasterOptions, build_index
from ..journal import Journal, journal_name, read_journals, record, reusable
from ..load import PathLike, load_annotations, load_metadata
from ..plan import DEFAULT_MEMORY_BUDGET, Job, add_digests, plan_seg, plan_sr
from ..report import RunReport, Skip, fold_warnings
from ..shards import WHOLE, Shard, plan_digest, select
from ..write import write_bytes
from .schedule import Progress, outcomes
from .workers import JobOutcome, WorkBatch, make_batch, run_batch, run_job

OutputFormat = Literal["SEG", "SR"]

__all__ = [
    "JobOutcome",
    "OutputFormat",
    "WorkBatch",
    "check_options",
    "make_batch",
    "run_batch",
    "run_export",
    "run_job",
]


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
        from joblib.parallel import BACKENDS, EXTERNAL_BACKENDS

        known = sorted({*BACKENDS, *EXTERNAL_BACKENDS})
        if not isinstance(backend, str) or backend not in known:
            raise OptionError(f"unknown backend {backend!r}; one of {', '.join(known)}")
        if backend == "dask":
            _check_dask()
    if frame_base not in (0, 1) or isinstance(frame_base, bool):
        raise OptionError(f"frame_base must be 0 or 1, not {frame_base!r}")
    if isinstance(memory_budget, bool) or not isinstance(memory_budget, int) or memory_budget <= 0:
        raise OptionError(
            f"memory_budget must be a positive number of bytes, not {memory_budget!r}"
        )


def _check_dask() -> None:
    """joblib's dask backend needs dask.distributed and a connected client.

    Raises:
        OptionError: what is missing, and how to get it.
    """
    try:
        from distributed import get_client
    except ImportError:
        raise OptionError(
            "backend 'dask' needs dask.distributed: pip install 'mdai-fastexport[dask]'"
        ) from None
    try:
        get_client()
    except ValueError:
        raise OptionError(
            "backend 'dask' needs a dask.distributed Client: create one first (Client("
            "'tcp://scheduler:8786') or Client(LocalCluster())), or use the CLI's "
            "--backend dask [--scheduler ADDRESS]"
        ) from None
    from joblib.parallel import EXTERNAL_BACKENDS

    EXTERNAL_BACKENDS["dask"]()  # registers joblib's DaskDistributedBackend


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
    """Write the run report; when it cannot be written (a full disk), remove the files this
    run wrote so that none is left that no report lists, and say so.

    Raises:
        OutputError: the report could not be written.
    """
    try:
        write_bytes(report.to_json(), out, report.name)
    except OSError as exc:
        reused = set(report.reused)  # listed by the earlier run's report, still in place
        removed = 0
        for f in report.files:
            if f.path not in reused:
                with contextlib.suppress(OSError):
                    (out / f.path).unlink(missing_ok=True)
                    removed += 1
        raise OutputError(
            f"cannot write {out / report.name}: {exc.strerror or exc}; the {removed} file(s) "
            "this run wrote were removed so that none is left unlisted"
        ) from None


def _plan(
    index: ExportIndex, fmt: str, combine_label_groups: bool, memory_budget: int
) -> tuple[list[Job], list[Skip]]:
    if fmt == "SEG":
        jobs, skips = plan_seg(index, combine_label_groups, memory_budget)
        return list(jobs), skips
    return list(plan_sr(index)), []


def _trim_heap() -> None:
    """Give the heap's free pages back to the system (glibc only; elsewhere a no-op).

    Reading the exports frees many small objects (each annotation's and header's parse);
    glibc keeps most of those pages, about a third of the index's size, which every
    forked worker would then count as its own.
    """
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass


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
    resume: bool = False,
    shard: Shard = WHOLE,
    log: IO[str] | None = None,
) -> RunReport:
    """Run a whole export: load → index → plan → (rasterise →) build → write → report.

    Args:
        resume: Reuse files an earlier run into ``out_dir`` finished, when their recorded
            input digest matches (see :mod:`..journal`).
        shard: Run only this shard of the plan (see :mod:`..shards`).
        log: Write one JSON line per finished file to this stream (``--log-json``).
        Other arguments: see :func:`..api.export_seg`.

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
    index = build_index(
        load_annotations(annotations), load_metadata(metadata), raster, frame_base=frame_base
    )
    _trim_heap()
    report = RunReport(output_format=fmt, output_dir=str(Path(out_dir).resolve()))
    report.inputs = dict(index.counts)
    report.warnings.extend(index.warnings)
    plan, plan_skips = _plan(index, fmt, combine_label_groups, memory_budget)
    if shard.index == 0:  # problems of the inputs are reported by the first shard only
        report.skips.extend(_relevant_skips(index, fmt))
        report.skips.extend(plan_skips)
    report.inputs["jobs"] = len(plan)
    names = [j.filename for j in plan]
    positions = select([j.cost for j in plan], names, shard)
    jobs = [plan[k] for k in positions]
    if shard.count > 1:
        report.shard = {
            "index": shard.index,
            "count": shard.count,
            "plan_digest": plan_digest(names),
            "plan": names,
            "planned": [j.filename for j in jobs],
        }

    if strict and report.skips:
        problems = [f"[{s.reason}] {s.detail}" for s in report.skips]
        raise StrictModeError(
            f"strict mode: {len(problems)} problem(s) in the inputs, nothing written; first: "
            + problems[0],
            problems,
        )

    out = Path(out_dir)
    _prepare_output(out, fmt)
    add_digests(index, jobs)
    done: list[JobOutcome] = []
    todo: list[tuple[int, Job]] = []
    previous = read_journals(out, fmt) if resume else {}
    for k, job in zip(positions, jobs, strict=True):
        again = reusable(previous.get(job.filename), job.digest, out)
        if again is not None:
            done.append(JobOutcome(k, file=again, reused=True))
        else:
            todo.append((k, job))
    journal = Journal(out / journal_name(fmt, shard.suffix), log)
    for r in done:
        journal.write(record(r.file, plan[r.order].digest))  # type: ignore[arg-type]
    bar = Progress(len(jobs), progress)
    for r in done:
        bar.update(r)
    running = outcomes([j for _, j in todo], [k for k, _ in todo], index, out, n_jobs, backend, bar)
    try:
        for r in running:
            done.append(r)
            bar.update(r)
            if r.file is not None:
                journal.write(record(r.file, plan[r.order].digest))
    except (Interrupted, KeyboardInterrupt) as exc:
        running.close()  # stops the pool: no worker writes after this
        bar.close()
        journal.close()
        report.interrupted = (
            signal.Signals(exc.signum).name if isinstance(exc, Interrupted) else "SIGINT"
        )
        _collect(report, plan, positions, done)
        _remove_unreported(report, out)
        _prepare_output(out, fmt)  # temporary files of the jobs cut short
        report.stale = _stale(out, fmt, report, set(names), {j.filename for j in jobs})
        _write_report(report, out)
        if isinstance(exc, Interrupted):
            exc.report = str(out / report.name)
        raise
    except Exception as exc:  # the pool itself failed (a worker killed, e.g. out of memory)
        running.close()
        _collect(report, plan, positions, done)
        _record_unfinished(report, out, exc)
    else:
        _collect(report, plan, positions, done)
    finally:
        bar.close()
        journal.close()
    digest_of = {j.filename: j.digest for j in jobs}
    journal.rewrite([record(f, digest_of[f.path]) for f in report.files])
    report.stale = _stale(out, fmt, report, set(names), set(digest_of))
    if clean:
        for name in report.stale:
            (out / name).unlink(missing_ok=True)
        report.removed, report.stale = report.stale, []
    _write_report(report, out)
    return report


def _stale(out: Path, fmt: str, report: RunReport, planned: set[str], mine: set[str]) -> list[str]:
    """This format's files in ``out`` that the run did not write and nothing else claims:
    files no job of the plan makes (an earlier run's annotators, series, label groups), and
    earlier copies of files this run (shard) was to make but did not (it failed or was
    skipped this time). Files of other shards are theirs to report."""
    written = {f.path for f in report.files}
    return [
        name
        for name in _prepare_output(out, fmt)
        if name not in written and (name not in planned or name in mine)
    ]


def _remove_unreported(report: RunReport, out: Path) -> None:
    """Remove the files of jobs whose outcome never reached this process (a worker had
    renamed its file into place when the run was stopped): unverified, they would be in
    the folder but not in the report. A re-run (or ``--resume``) writes them again."""
    for name in report.not_written:
        (out / name).unlink(missing_ok=True)


def _collect(
    report: RunReport, plan: list[Job], positions: list[int], done: list[JobOutcome]
) -> None:
    """Fold the outcomes into the report, in plan order."""
    done.sort(key=lambda r: r.order)
    for r in done:
        if r.file is not None:
            report.files.append(r.file)
            if r.reused:
                report.reused.append(r.file.path)
        report.skips.extend(r.skips)
        report.warnings.extend(r.warnings)
        report.internal_errors += r.internal_error
    report.warnings = fold_warnings(report.warnings)
    finished = {r.order for r in done}
    report.not_written = [plan[k].filename for k in positions if k not in finished]
    if report.shard is not None:
        written = {f.path for f in report.files}
        report.shard["failed"] = [
            plan[k].filename for k in positions if k in finished and plan[k].filename not in written
        ]
    if report.not_written and any(r.disk_full for r in done):
        report.skips.append(
            Skip(
                "write_failed",
                f"{len(report.not_written)} file(s) not attempted after the disk filled up: "
                + _some(report.not_written),
            )
        )
    report.inputs["exported_annotations"] = sum(f.annotations for f in report.files)


def _record_unfinished(report: RunReport, out: Path, exc: Exception) -> None:
    """Jobs whose results never came back: one skip for them all; files some of them may
    already have written are removed, so the folder holds exactly what the report lists
    (a re-run writes them again, byte for byte)."""
    _remove_unreported(report, out)
    report.skips.append(
        Skip(
            "worker_failed",
            f"the worker pool failed ({type(exc).__name__}: {exc}); "
            f"{len(report.not_written)} file(s) not written: " + _some(report.not_written),
        )
    )


def _some(names: list[str]) -> str:
    """The first three of ``names``, and " ..." when there are more."""
    return ", ".join(names[:3]) + (" ..." if len(names) > 3 else "")


#: Index skips that concern SEG by their reason: problems of any label, and of geometry and
#: frames (which only local annotations have); any other concerns SEG when it names an
#: instance.
_SEG_REASONS = {
    "unknown_label",
    "invalid_annotation",
    "unknown_scope",
    "unsupported_mode",
    "video_dataset",
    "null_data",
    "invalid_geometry",
    "non_finite_vertex",
    "empty_geometry",
    "frame_out_of_range",
    "invalid_frame",
    "missing_frame_number",
}


def _relevant_skips(index: ExportIndex, fmt: str) -> list[Skip]:
    """Index skips that matter for this output: SEG ignores global labels' problems."""
    if fmt == "SR":
        return list(index.skips)
    return [s for s in index.skips if s.reason in _SEG_REASONS or s.sop_uid is not None]
