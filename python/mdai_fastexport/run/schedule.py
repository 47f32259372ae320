"""Scheduling: where the jobs of a run execute.

* one worker: in this process, job by job;
* the default, several workers: joblib's ``multiprocessing`` backend, whose
  workers are forked from this process on Linux — nothing to import, no
  interpreter start-up to wait for, the index inherited — fed batches in waves
  (joblib returns a pool's results as a list, so waves keep progress moving);
  where processes are not forked by default (macOS, Python >= 3.14's
  ``forkserver``), joblib's default backend (loky) with pickled batches;
* any other joblib backend (``loky``, ``threading``, ``dask`` for a
  ``dask.distributed`` cluster): joblib's generator of results, batch by batch.

Jobs are independent and deterministic, so the files do not depend on where
they were built.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import joblib

from ..index import ExportIndex
from ..plan import Job
from .workers import (
    JobOutcome,
    batch_ranges,
    image_cache,
    make_batch,
    run_batch,
    run_job,
    run_shared_batch,
    share,
)

#: Batches handed to the forked pool at once, per worker.
WAVE_PER_WORKER = 2


class Progress:
    """A progress bar on stderr: files, annotations written, skips so far, ETA."""

    def __init__(self, total: int, enabled: bool) -> None:
        self._bar: Any = None
        self.enabled = bool(enabled and total)
        self.annotations = 0
        self.skips = 0
        if enabled and total:
            from tqdm import tqdm

            tqdm.monitor_interval = 0  # no monitor thread: worker processes are forked
            self._bar = tqdm(total=total, unit="file", dynamic_ncols=True)

    def update(self, outcome: JobOutcome) -> None:
        if outcome.file is not None:
            self.annotations += outcome.file.annotations
        self.skips += len(outcome.skips)
        if self._bar is not None:
            self._bar.set_postfix(annotations=self.annotations, skips=self.skips, refresh=False)
            self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


class _Headers(Mapping[str, Mapping[str, Any]]):
    """The index's instance headers as a read-only mapping (no copy)."""

    def __init__(self, index: ExportIndex) -> None:
        self._instances = index.instances

    def __getitem__(self, uid: str) -> Mapping[str, Any]:
        return self._instances[uid].tags

    def __iter__(self) -> Iterator[str]:
        return iter(self._instances)

    def __len__(self) -> int:
        return len(self._instances)


#: Set while this process forks a pool: the children then reset their signal handlers.
_FORKING_POOL = False


def _after_fork_in_child() -> None:
    """In a child forked for a pool: SIGINT ignored (Ctrl-C reaches the whole process group
    and the parent stops the pool), SIGTERM the default (``Pool.terminate`` sends it).
    Otherwise a worker inherits the CLI's handler raising
    :class:`~mdai_fastexport.errors.Interrupted`: terminate does not stop it, and the run
    hangs joining it or it prints a traceback. (A signal that reaches the child before this
    runs meets the inherited handler, which therefore checks the process id.)"""
    if _FORKING_POOL:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


@contextlib.contextmanager
def _forking_pool() -> Iterator[None]:
    """Children forked inside this block (the pool's workers, and any it replaces) start
    with worker signal handlers."""
    global _FORKING_POOL
    _FORKING_POOL = True
    try:
        yield
    finally:
        _FORKING_POOL = False


def outcomes(
    jobs: list[Job],
    positions: list[int],
    index: ExportIndex,
    out_dir: Path,
    n_jobs: int,
    backend: str | None,
    progress: Progress,
) -> Iterator[JobOutcome]:
    """Run ``jobs`` (at plan ``positions``), yielding outcomes as they finish (any order).

    Stops scheduling after a job reports a full disk.
    """
    if backend is None:
        workers = min(joblib.effective_n_jobs(n_jobs), len(jobs))
    else:  # -1 means every core of the backend's workers (a dask cluster's), not this machine's
        with joblib.parallel_config(backend=backend):
            workers = min(joblib.effective_n_jobs(n_jobs), len(jobs))
    if workers <= 1 and backend is None:
        image_of = image_cache(_Headers(index))
        for job, k in zip(jobs, positions, strict=True):
            r = run_job(job, k, image_of, out_dir)
            yield r
            if r.disk_full:
                return
        return
    if backend is None and multiprocessing.get_start_method() == "fork":
        # forked workers inherit the jobs and headers: a batch is a range of jobs
        ranges = batch_ranges(jobs, workers)
        calls = [
            joblib.delayed(run_shared_batch)(a, b, positions[a:b], str(out_dir)) for a, b in ranges
        ]
        share(jobs, _Headers(index))
        try:
            with (
                _forking_pool(),
                joblib.Parallel(n_jobs=workers, backend="multiprocessing") as parallel,
            ):
                share(None, None)
                # results come back a wave at a time: short waves keep a progress bar moving,
                # without one a single wave leaves no core idle between waves
                wave = workers * WAVE_PER_WORKER if progress.enabled else len(calls)
                for start in range(0, len(calls), wave):
                    finished = parallel(calls[start : start + wave])
                    for results in finished:
                        yield from results
                    if any(r.disk_full for results in finished for r in results):
                        return  # every outcome of the wave is in: files written are listed
        finally:
            share(None, None)
        return
    # batches carry their headers, parsed as joblib dispatches them (a few per worker
    # ahead), so the headers of the whole project are never in memory at once
    calls = (
        joblib.delayed(run_batch)(make_batch(jobs[a:b], index), positions[a:b], str(out_dir))
        for a, b in batch_ranges(jobs, workers)
    )
    # parallel_config, not Parallel(backend=...): joblib 1.6's dask backend only works this way
    with joblib.parallel_config(backend=backend):
        parallel = joblib.Parallel(n_jobs=workers, return_as="generator_unordered")
        for results in parallel(calls):
            yield from results
            if any(r.disk_full for r in results):
                return
