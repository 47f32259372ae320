"""Worker side of a run: batches of jobs, and building and writing their files.

A :class:`WorkBatch` carries jobs with the headers of every instance they
reference, once, so a header crosses a process boundary once per batch however
many annotators' files use it; :func:`run_batch` builds each source image's
geometry once per batch. Every failure of a job becomes a skip in its
:class:`JobOutcome`, never a raise.
"""

from __future__ import annotations

import errno
import multiprocessing
import signal
import sys
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import ExportError, GeometryError
from ..images import SourceImage, source_image
from ..index import ExportIndex
from ..plan import Job, SegJob
from ..report import Skip, WrittenFile
from ..write import write_chunks

#: Batches per worker: enough to balance two cores to the end, few enough to amortise
#: shipping the headers.
BATCHES_PER_WORKER = 8


@dataclass(slots=True)
class WorkBatch:
    """Jobs for one worker call, with each referenced header once."""

    jobs: list[Job]
    headers: Mapping[str, Mapping[str, Any]]


@dataclass(slots=True)
class JobOutcome:
    """What one job produced: its file (or None), skips and warnings."""

    order: int
    file: WrittenFile | None = None
    reused: bool = False
    skips: list[Skip] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    disk_full: bool = False
    internal_error: bool = False


def batch_ranges(jobs: Sequence[Job], workers: int) -> list[tuple[int, int]]:
    """Consecutive jobs cut into ``(start, stop)`` batches of about equal cost,
    ``BATCHES_PER_WORKER`` per worker, never splitting the jobs of one series (SEG) or
    study (SR): they share headers."""
    total = sum(j.cost for j in jobs)
    target = total / max(1, workers * BATCHES_PER_WORKER)
    ranges: list[tuple[int, int]] = []
    start, cost = 0, 0.0
    for k, job in enumerate(jobs):
        cost += job.cost
        following = jobs[k + 1] if k + 1 < len(jobs) else None
        if following is None or (cost >= target and _unit(following) != _unit(job)):
            ranges.append((start, k + 1))
            start, cost = k + 1, 0.0
    return ranges


def make_batch(jobs: Sequence[Job], index: ExportIndex) -> WorkBatch:
    """Consecutive jobs (a range of :func:`batch_ranges`) as a batch that carries its
    headers, for workers that do not share this process's memory."""
    uids = {uid for job in jobs for uid in job.instance_uids}
    return WorkBatch(list(jobs), {uid: index.instances[uid].tags for uid in sorted(uids)})


def _unit(job: Job) -> str:
    return job.series_uid if isinstance(job, SegJob) else job.study_uid


#: Source images kept for reuse by later jobs (the annotators of one series, the studies
#: of one patient): a bound, so that memory follows the largest job, not the project.
IMAGE_CACHE_SIZE = 4096


def image_cache(
    headers: Mapping[str, Mapping[str, Any]], size: int = IMAGE_CACHE_SIZE
) -> Callable[[str], SourceImage]:
    """``uid -> SourceImage``, built from ``headers`` when first asked for and kept in a
    least-recently-used cache of ``size`` images."""

    @lru_cache(maxsize=size)
    def image_of(uid: str) -> SourceImage:
        return source_image(uid, headers[uid])

    return image_of


def job_skip(job: Job, reason: str, detail: str) -> Skip:
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
            from ..seg import build_seg

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
            from ..sr import build_sr

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
        out.skips = [job_skip(job, "invalid_geometry", str(exc))]
    except ExportError as exc:
        out.skips = [job_skip(job, "build_failed", str(exc))]
    except OSError as exc:
        out.disk_full = exc.errno == errno.ENOSPC
        out.skips = [job_skip(job, "write_failed", f"{exc.strerror or exc} ({out_dir})")]
    except Exception as exc:  # a bug: reported as such (exit code 3), the run goes on
        where = traceback.extract_tb(exc.__traceback__)[-1]
        out.internal_error = True
        out.skips = [
            job_skip(
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


#: The jobs and headers of the running export, for workers forked from this process: they
#: inherit them, so a batch is just a range of jobs (set by :func:`share` before forking);
#: and a flag in shared memory that the first worker to meet a full disk raises, so that
#: no worker begins another file.
_SHARED: tuple[Sequence[Job], Mapping[str, Mapping[str, Any]], Any] | None = None


def share(jobs: Sequence[Job] | None, headers: Mapping[str, Mapping[str, Any]] | None) -> None:
    """Make ``jobs`` and ``headers`` visible to workers forked after this call (None clears)."""
    global _SHARED
    if jobs is None or headers is None:
        _SHARED = None
    else:
        _SHARED = (jobs, headers, multiprocessing.RawValue("b", 0))


def run_shared_batch(start: int, stop: int, orders: list[int], out_dir: str) -> list[JobOutcome]:
    """Worker entry point in a forked worker: jobs ``start:stop`` of the shared run."""
    assert _SHARED is not None, "run_shared_batch needs share() before the workers fork"
    jobs, headers, disk_full = _SHARED
    return run_batch(WorkBatch(list(jobs[start:stop]), headers), orders, out_dir, disk_full)


def run_batch(
    batch: WorkBatch, orders: list[int], out_dir: str, disk_full: Any = None
) -> list[JobOutcome]:
    """Worker entry point: run every job of ``batch`` with one image cache, stopping at a
    full disk (``disk_full``: a flag shared by the pool's workers)."""
    _die_with_parent()
    image_of = image_cache(batch.headers)
    out = Path(out_dir)
    results = []
    for job, order in zip(batch.jobs, orders, strict=True):
        if disk_full is not None and disk_full.value:
            break  # another worker found the disk full: begin no other file
        r = run_job(job, order, image_of, out)
        results.append(r)
        if r.disk_full:
            if disk_full is not None:
                disk_full.value = 1
            break
    return results
