"""Benchmark: mdai-fastexport against mdai's own exporter, plain highdicom pipelines and the floor.

One run, this machine, the same generated exports for everyone; numbers are
printed, never asserted. Each measurement is a fresh ``python
benchmarks/run_pipeline.py`` process (so its import cost is paid the same way
and its peak RSS is its own); pipelines run one after the other.

Usage::

    python benchmarks/bench_export.py [--sizes small,medium,large] [--only ours,mdai]
        [--skip base-sr@large] [--mdai-sizes small,medium] [--baseline-sizes small,medium,large]
        [--timeout 600] [--jobs 1,2] [--with-multiframe] [--keep DIR]

The default runs every pipeline at every size except the highdicom baselines
at the large size (``--baseline-sizes small,medium,large`` adds them: about 9
more minutes on 2 cores); it takes about 8 min on a quiet 2-core machine,
``--sizes small,medium`` about 5. A pipeline that fails or passes ``--timeout``
gets its error in its row; one that is not run says why.

Pipelines (keys for ``--only`` / ``--skip``; a prefix selects several):

* ``ours-seg-jN`` / ``ours-sr-jN``: ``export_seg`` / ``export_sr`` with ``n_jobs=N``.
* ``mdai-seg`` / ``mdai-sr``: PyPI ``mdai==0.16.0`` ``SegExport`` / ``SrExport``,
  offline (its dicom-standard download served from PyPI ``dicom-standard``) with
  its pandas row-reuse bug worked around (see ``mdai_wrapper.py``);
  ``mdai-seg-asis`` runs it as shipped, to show what the bug does.
* ``base-seg`` / ``base-sr``: straightforward json + Python rasteriser + highdicom
  pipelines (``baseline.py``, ``baseline_sr.py``), serial.
* ``floor-{seg,sr}-{raw,pydicom}``: orjson parse + Rust rasterisation (SEG) +
  writing our own output bytes again, raw or re-encoded by pydicom (``floor.py``).

Columns: ``wall`` = the process from start to exit, as seen from here (for the
floors, minus the untimed read of our files); ``work`` = the timed part inside
it; ``start`` = wall - work (interpreter, imports, exit); ``RSS`` = the
process's own peak RSS (``VmHWM``, exact); ``tree`` = peak of the summed RSS of
the process and its worker processes, sampled every 0.1 s (so it can miss short
peaks). ``annots`` = annotations represented: ours from the run report, mdai SEG
the rows with geometry handed to ``img_insert``, mdai SR the annotation items in
its content trees, baselines and floor what they wrote or rasterised. ``frames``
are counted in the written SEG files. ``load`` = the machine's 1-minute load
average when the run ended (above the core count, other work competed with it).
Ratios use wall time (work-only ratios in brackets).
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import orjson

HERE = Path(__file__).resolve().parent
WORKER = HERE / "run_pipeline.py"
PAGE = os.sysconf("SC_PAGE_SIZE")

#: Generator parameters (``mdai_fastexport.synthetic.make_exports``) per size; the
#: generator's own defaults fill the rest, and every effective value is printed.
_GRID = dict(  # medium and large: a plain studies x series x 3 annotators grid
    n_annotators=3,
    with_radiograph=False,
    model_annotations=False,
    study_only_annotator=False,
    repeated_positions=False,
)
SIZES: dict[str, dict[str, Any]] = {
    # ~300 annotations: 2 CT series of 512² and everything else the generator adds by
    # default (radiograph, model annotations, a study-only annotator, a dual-echo series)
    "small": dict(
        ct_studies=1,
        ct_series=2,
        ct_slices=40,
        ct_size=(512, 512),
        annotations_per_slice=3,
        n_annotators=3,
    ),
    # ~5,000 annotations, 4 studies x 4 series x 3 annotators = 48 SEG files of 512² CT
    "medium": dict(
        ct_studies=4,
        ct_series=4,
        ct_slices=100,
        ct_size=(512, 512),
        annotations_per_slice=3,
        **_GRID,
    ),
    # ~22,000 annotations over 200 series of 256² CT (50 studies), 600 SEG files
    "large": dict(
        ct_studies=50,
        ct_series=4,
        ct_slices=34,
        ct_size=(256, 256),
        annotations_per_slice=3,
        **_GRID,
    ),
}


@dataclass(frozen=True)
class Pipeline:
    """One measured pipeline."""

    key: str
    label: str
    family: str
    kind: str
    n_jobs: int | None = None
    writer: str | None = None
    as_shipped: bool = False


@dataclass
class Outcome:
    """What one pipeline run gave."""

    pipeline: Pipeline
    status: str  # "ok", "failed", "timeout", "not run"
    wall: float | None = None
    work: float | None = None
    untimed: float = 0.0
    rss_mb: float | None = None
    tree_mb: float | None = None
    files: int | None = None
    frames: int | None = None
    annotations: int | None = None
    out_bytes: int | None = None
    load: float | None = None  # 1-min load average when the run ended
    notes: list[str] = field(default_factory=list)
    out_dir: Path | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def pipelines(jobs: list[int]) -> list[Pipeline]:
    """Every pipeline, in run order (the floors need our output, so they come after it)."""
    out: list[Pipeline] = []
    for kind in ("SEG", "SR"):
        for j in jobs:
            out.append(
                Pipeline(f"ours-{kind.lower()}-j{j}", f"ours {kind} n_jobs={j}", "ours", kind, j)
            )
    out += [
        Pipeline("mdai-seg", "mdai SegExport (rows fixed)", "mdai", "SEG"),
        Pipeline("mdai-seg-asis", "mdai SegExport as shipped", "mdai", "SEG", as_shipped=True),
        Pipeline("mdai-sr", "mdai SrExport", "mdai", "SR"),
        Pipeline("base-seg", "baseline SEG (highdicom)", "base", "SEG"),
        Pipeline("base-sr", "baseline SR (highdicom)", "base", "SR"),
    ]
    for kind in ("SEG", "SR"):
        for writer in ("raw", "pydicom"):
            out.append(
                Pipeline(
                    f"floor-{kind.lower()}-{writer}",
                    f"floor {kind} ({writer} write)",
                    "floor",
                    kind,
                    writer=writer,
                )
            )
    return out


# --------------------------------------------------------------------------- processes


def _session_rss(sid: int) -> int:
    """Summed RSS (bytes) of every process in session ``sid`` (the pipeline and its workers)."""
    total = 0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[3]) == sid:
            total += int(fields[21]) * PAGE
    return total


@dataclass
class ProcResult:
    """A finished child process."""

    wall: float
    exit_code: int
    tree_peak: int
    timed_out: bool


def run_process(cmd: list[str], log: Path, timeout: float) -> ProcResult:
    """Run ``cmd`` in its own session; measure wall time and the sampled peak RSS of its
    process tree; kill the session after ``timeout`` s.

    The child's own peak RSS comes from the child (``VmHWM``): ``wait4``'s
    ``ru_maxrss`` would also count this (forking) process's size.
    """
    done = threading.Event()
    peak = [0]
    timed_out = [False]
    with log.open("wb") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

        def sample() -> None:
            while not done.wait(0.1):
                peak[0] = max(peak[0], _session_rss(proc.pid))
                if time.perf_counter() - t0 > timeout and not timed_out[0]:
                    timed_out[0] = True
                    _kill_session(proc.pid)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status = os.waitpid(proc.pid, 0)
        wall = time.perf_counter() - t0
        done.set()
        sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    _kill_session(proc.pid)  # workers left behind, if any (only this run's session)
    return ProcResult(wall, proc.returncode, peak[0], timed_out[0])


def _kill_session(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def startup_times(repeats: int) -> list[tuple[str, float | None, str]]:
    """Best-of-``repeats`` wall time of importing what each pipeline imports."""
    probes = [
        ("python -c pass", "pass"),
        ("import mdai_fastexport (ours)", "import mdai_fastexport"),
        ("import mdai.utils.dicom_utils (mdai)", "import mdai.utils.dicom_utils"),
        ("import highdicom, skimage.draw (baseline)", "import highdicom, skimage.draw"),
        (
            "orjson, numpy, _rust alone (floor)",
            f"import sys; sys.path.insert(0, {str(HERE)!r}); import orjson, numpy, floor; "
            "floor.load_rust()",
        ),
    ]
    out: list[tuple[str, float | None, str]] = []
    for label, code in probes:
        best: float | None = None
        err = ""
        for _ in range(repeats):
            t0 = time.perf_counter()
            r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
            dt = time.perf_counter() - t0
            if r.returncode:
                err = (r.stderr.strip().splitlines() or ["failed"])[-1][:100]
                best = None
                break
            best = dt if best is None else min(best, dt)
        out.append((label, best, err))
    return out


# --------------------------------------------------------------------------- outputs


def inspect_output(out: Outcome) -> None:
    """Count files, bytes and (SEG) frames in the output folder; for mdai's SR,
    the annotation items in its content trees."""
    import pydicom

    if out.out_dir is None or not out.out_dir.is_dir():
        return
    files = sorted(out.out_dir.glob("*.dcm"))
    out.out_bytes = sum(p.stat().st_size for p in files)
    if out.files is None or out.pipeline.family == "mdai":
        out.files = len(files)
    if out.pipeline.kind == "SEG":
        frames = 0
        for p in files:
            ds = pydicom.dcmread(p, stop_before_pixels=True, specific_tags=["NumberOfFrames"])
            frames += int(ds.get("NumberOfFrames") or 1)
        if out.frames is not None and out.frames != frames and out.pipeline.family == "ours":
            out.notes.append(f"report says {out.frames} frames")
        out.frames = frames
    elif out.pipeline.family == "mdai":
        items = 0
        for p in files:
            try:
                ds = pydicom.dcmread(p)
                seq = ds.ContentSequence[1].ContentSequence[0].ContentSequence
                items += sum(1 for c in seq if c.ValueType != "IMAGE")
            except (AttributeError, IndexError, KeyError):
                continue
        out.annotations = items


def digest(folder: Path) -> str:
    """SHA-256 over the names and bytes of the ``*.dcm`` files in ``folder``."""
    h = hashlib.sha256()
    for p in sorted(folder.glob("*.dcm")):
        h.update(p.name.encode())
        with p.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


# --------------------------------------------------------------------------- running


@dataclass
class Inputs:
    """A generated export and what it holds."""

    size: str
    params: dict[str, Any]
    annotations: Path
    metadata: Path
    n_annotations: int
    n_local: int
    n_series: int
    n_instances: int
    n_studies: int
    mb: float
    seconds: float


def generate(size: str, root: Path, seed: int, multiframe: bool) -> Inputs:
    """Write the synthetic export for ``size`` and count what is in it."""
    from mdai_fastexport.synthetic import make_exports, write_exports

    wanted = dict(SIZES[size], with_multiframe=multiframe, seed=seed)
    accepted = inspect.signature(make_exports).parameters
    params = {k: v.default for k, v in accepted.items() if v.default is not inspect.Parameter.empty}
    params.update({k: v for k, v in wanted.items() if k in accepted})
    ignored = sorted(set(wanted) - set(accepted))
    if ignored:
        print(f"    (this generator has no {', '.join(ignored)}: not set)")
    t0 = time.perf_counter()
    ann_path, meta_path = write_exports(root / "in", name=f"bench_{size}", **params)
    seconds = time.perf_counter() - t0
    ann = orjson.loads(ann_path.read_bytes())
    meta = orjson.loads(meta_path.read_bytes())
    labels = {lab["id"]: lab for g in ann["labelGroups"] for lab in g["labels"]}
    anns = [a for d in ann["datasets"] for a in d["annotations"]]
    entries = [m for d in meta["datasets"] for m in d["dicomMetadata"]]
    return Inputs(
        size=size,
        params=params,
        annotations=ann_path,
        metadata=meta_path,
        n_annotations=len(anns),
        n_local=sum(1 for a in anns if labels[a["labelId"]]["annotationMode"] and a["data"]),
        n_series=len({m["SeriesInstanceUID"] for m in entries}),
        n_instances=len(entries),
        n_studies=len({m["StudyInstanceUID"] for m in entries}),
        mb=(ann_path.stat().st_size + meta_path.stat().st_size) / 1e6,
        seconds=seconds,
    )


def run_one(
    p: Pipeline, inputs: Inputs, root: Path, timeout: float, source: Path | None
) -> Outcome:
    """Run one pipeline in a fresh process and collect its outcome."""
    out_dir = root / p.key
    for stale in (out_dir, Path(f"{out_dir}.cwd")):  # a --keep folder from an earlier run
        shutil.rmtree(stale, ignore_errors=True)
    spec = {
        "family": p.family,
        "kind": p.kind,
        "n_jobs": p.n_jobs,
        "writer": p.writer,
        "as_shipped": p.as_shipped,
        "annotations": str(inputs.annotations),
        "metadata": str(inputs.metadata),
        "out": str(out_dir),
        "source": str(source) if source else None,
        "result": str(root / f"{p.key}.result.json"),
    }
    spec_path = root / f"{p.key}.spec.json"
    spec_path.write_text(json.dumps(spec))
    log = root / f"{p.key}.log"
    proc = run_process([sys.executable, str(WORKER), str(spec_path)], log, timeout)
    outcome = Outcome(p, "ok", out_dir=out_dir)
    outcome.tree_mb = proc.tree_peak / 2**20 if proc.tree_peak else None
    result_path = Path(spec["result"])
    res: dict[str, Any] = json.loads(result_path.read_text()) if result_path.exists() else {}
    outcome.untimed = float(res.get("t_untimed") or 0.0)
    if res.get("peak_rss_kb"):
        outcome.rss_mb = res["peak_rss_kb"] / 1024
    outcome.wall = proc.wall - outcome.untimed
    if proc.timed_out:
        outcome.status = "timeout"
        outcome.notes.append(f"killed after {timeout:.0f} s (--timeout)")
        return outcome
    if not res.get("ok"):
        outcome.status = "failed"
        tail = log.read_text(errors="replace").strip().splitlines()[-1:] if log.exists() else []
        outcome.notes.append(res.get("error") or (tail[0] if tail else f"exit {proc.exit_code}"))
        outcome.notes[-1] = outcome.notes[-1][:160]
        return outcome
    outcome.work = res.get("t_work")
    outcome.files = res.get("files")
    outcome.frames = res.get("frames")
    outcome.annotations = res.get("annotations")
    outcome.notes += res.get("notes") or []
    if p.family == "floor":
        outcome.notes.append(f"untimed read of our files {outcome.untimed:.2f} s")
    if p.family == "mdai":
        if p.kind == "SEG":
            outcome.notes.append(
                "row reuse NOT fixed" if p.as_shipped else "row reuse fixed (copy of previous row)"
            )
        served = res.get("served") or []
        if len(served) != 3:
            outcome.notes.append(f"download patch served {served}")
    inspect_output(outcome)
    return outcome


@dataclass
class Gate:
    """Why a pipeline is not run at a size."""

    only: list[str]
    skip: list[str]
    mdai_sizes: set[str]
    asis_sizes: set[str]
    base_sizes: set[str]

    def reason(self, p: Pipeline, size: str) -> str | None:
        if self.only and not any(p.key.startswith(o) for o in self.only):
            return "--only"
        for s in self.skip:
            key, _, at = s.partition("@")
            if p.key.startswith(key) and (not at or at == size):
                return f"--skip {s}"
        if p.family == "mdai":
            if p.as_shipped and size not in self.asis_sizes:
                return _sizes_option("--mdai-as-shipped-sizes", self.asis_sizes)
            if not p.as_shipped and size not in self.mdai_sizes:
                return _sizes_option("--mdai-sizes", self.mdai_sizes)
        if p.family == "base" and size not in self.base_sizes:
            return _sizes_option("--baseline-sizes", self.base_sizes)
        return None


def _sizes_option(option: str, sizes: set[str]) -> str:
    return f"{option} {','.join(s for s in SIZES if s in sizes) or '(none)'}"


def run_size(
    size: str, root: Path, args: argparse.Namespace, gate: Gate
) -> tuple[Inputs, dict[str, Outcome]]:
    """Generate one size and run every pipeline on it."""
    root.mkdir(parents=True, exist_ok=True)
    inputs = generate(size, root, args.seed, args.with_multiframe)
    print_inputs(inputs)
    outcomes: dict[str, Outcome] = {}
    for p in pipelines(args.jobs):
        why = gate.reason(p, size)
        if why:
            outcomes[p.key] = Outcome(p, "not run", notes=[f"not run ({why})"])
            continue
        source: Path | None = None
        if p.family == "floor":
            ours_runs = [
                o
                for o in outcomes.values()
                if o.pipeline.family == "ours" and o.pipeline.kind == p.kind
            ]
            done = [o for o in ours_runs if o.ok and o.out_dir]
            if not done:
                outcomes[p.key] = Outcome(p, "not run", notes=["not run: needs our output"])
                continue
            source = done[0].out_dir
        print(f"  [{size}] {p.key} ...", end="", file=sys.stderr, flush=True)
        try:
            o = run_one(p, inputs, root, args.timeout, source)
        except Exception as exc:  # the harness itself: report, go on
            o = Outcome(p, "failed", notes=[f"harness: {type(exc).__name__}: {exc}"[:160]])
        o.load = os.getloadavg()[0]
        outcomes[p.key] = o
        done_text = f" {o.status} {o.wall:.1f} s" if o.wall is not None else f" {o.status}"
        print(done_text, file=sys.stderr, flush=True)
    compare_jobs(outcomes)
    return inputs, outcomes


def compare_jobs(outcomes: dict[str, Outcome]) -> None:
    """Note whether our n_jobs runs wrote byte-identical files."""
    for kind in ("seg", "sr"):
        runs = [
            o for k, o in outcomes.items() if k.startswith(f"ours-{kind}-j") and o.ok and o.out_dir
        ]
        if len(runs) > 1:
            digests = {digest(o.out_dir) for o in runs if o.out_dir}
            same = "identical" if len(digests) == 1 else "DIFFERENT"
            runs[-1].notes.append(f"files {same} to {runs[0].pipeline.key}'s")


# --------------------------------------------------------------------------- printing


def _f(v: float | None, fmt: str = ".2f") -> str:
    return "-" if v is None else format(v, fmt)


def _i(v: int | None) -> str:
    return "-" if v is None else str(v)


def print_inputs(i: Inputs) -> None:
    """The size's generator parameters and what the export holds."""
    shown = {k: v for k, v in i.params.items() if k != "seed"}
    print(
        f"\n=== {i.size}: make_exports(seed={i.params['seed']}, "
        + ", ".join(f"{k}={v}" for k, v in shown.items())
        + ")"
    )
    print(
        f"    {i.n_annotations} annotations ({i.n_local} with geometry), {i.n_studies} studies, "
        f"{i.n_series} series, {i.n_instances} instances; {i.mb:.1f} MB of JSON "
        f"(generated in {i.seconds:.1f} s)"
    )


def print_table(inputs: Inputs, outcomes: dict[str, Outcome]) -> None:
    """The per-size table and its derived figures."""
    head = (
        f"{'pipeline':<30}{'status':>8}{'wall s':>9}{'work s':>9}{'start s':>8}{'RSS MB':>8}"
        f"{'tree MB':>8}{'files':>6}{'frames':>7}{'annots':>7}{'out MB':>8}{'load':>6}  notes"
    )
    print(f"\n{inputs.size}: {inputs.n_annotations} annotations")
    print(head)
    print("-" * len(head))
    for o in outcomes.values():
        start = o.wall - o.work if o.wall is not None and o.work is not None else None
        print(
            f"{o.pipeline.label:<30}{o.status:>8}{_f(o.wall):>9}{_f(o.work):>9}{_f(start):>8}"
            f"{_f(o.rss_mb, '.0f'):>8}{_f(o.tree_mb, '.0f'):>8}{_i(o.files):>6}"
            f"{_i(o.frames):>7}{_i(o.annotations):>7}"
            f"{_f(o.out_bytes / 1e6 if o.out_bytes is not None else None, '.1f'):>8}"
            f"{_f(o.load, '.1f'):>6}  {'; '.join(o.notes)}"
        )
    print()
    for key, o in outcomes.items():
        if key.startswith("ours-seg") and o.ok and o.wall:
            print(
                f"  {o.pipeline.label}: {(o.frames or 0) / o.wall:,.0f} SEG frames/s, "
                f"{(o.annotations or 0) / o.wall:,.0f} annotations/s (wall; "
                f"{(o.frames or 0) / (o.work or o.wall):,.0f} frames/s of work)"
            )
    for family, label in (("ours", "ours"), ("mdai", "mdai"), ("base", "baseline")):
        parts = []
        for kind in ("SEG", "SR"):
            runs = [
                o
                for o in outcomes.values()
                if o.pipeline.family == family
                and o.pipeline.kind == kind
                and not o.pipeline.as_shipped
                and o.ok
                and o.out_bytes is not None
            ]
            if not runs:
                parts.append(f"{kind} -")
                continue
            o = runs[0]
            per_file = o.out_bytes / o.files if o.files else 0.0
            text = f"{kind} {o.out_bytes / 1e6:.1f} MB in {o.files} files "
            text += f"({per_file / 1e3:,.0f} kB/file"
            if kind == "SR":
                text += f", {o.out_bytes / inputs.n_annotations:,.0f} B per input annotation"
            parts.append(text + ")")
        print(f"  output bytes, {label}: " + "; ".join(parts))


def _ratio(a: Outcome | None, b: Outcome | None) -> str:
    if a is None or b is None or not (a.ok and b.ok) or not a.wall or not b.wall:
        return "-"
    text = f"{a.wall / b.wall:.2f}x"
    if a.work and b.work:
        text += f" [{a.work / b.work:.2f}x]"
    return text


def print_ratios(results: dict[str, dict[str, Outcome]], jobs: list[int]) -> None:
    """The ratios that matter, one column per size."""
    sizes = list(results)
    rows: list[tuple[str, str, str]] = []
    for kind in ("seg", "sr"):
        for j in jobs:
            rows.append(
                (f"mdai / ours {kind.upper()} n_jobs={j}", f"mdai-{kind}", f"ours-{kind}-j{j}")
            )
    for kind in ("seg", "sr"):
        for j in jobs:
            rows.append(
                (f"baseline / ours {kind.upper()} n_jobs={j}", f"base-{kind}", f"ours-{kind}-j{j}")
            )
    for kind in ("seg", "sr"):
        for writer in ("raw", "pydicom"):
            for j in jobs:
                rows.append(
                    (
                        f"ours {kind.upper()} n_jobs={j} / {writer} floor",
                        f"ours-{kind}-j{j}",
                        f"floor-{kind}-{writer}",
                    )
                )
    if len(jobs) > 1:
        for kind in ("seg", "sr"):
            rows.append(
                (
                    f"speed-up {kind.upper()} n_jobs={jobs[0]} / n_jobs={jobs[-1]}",
                    f"ours-{kind}-j{jobs[0]}",
                    f"ours-{kind}-j{jobs[-1]}",
                )
            )
    width = max(len(r[0]) for r in rows) + 2
    print("\nRatios (wall time; work-only in brackets; > 1 means the first is slower)")
    print(f"{'':<{width}}" + "".join(f"{s:>22}" for s in sizes))
    for label, a, b in rows:
        cells = [_ratio(results[s].get(a), results[s].get(b)) for s in sizes]
        print(f"{label:<{width}}" + "".join(f"{c:>22}" for c in cells))


def _version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--sizes", default="small,medium,large", help="comma list of " + ",".join(SIZES))
    p.add_argument("--only", default="", help="comma list of pipeline key prefixes to run")
    p.add_argument("--skip", default="", help="comma list of KEY or KEY@SIZE prefixes to skip")
    p.add_argument("--jobs", default="1,2", help="n_jobs values for our pipelines")
    p.add_argument("--mdai-sizes", default="small,medium,large")
    p.add_argument("--mdai-as-shipped-sizes", default="small")
    p.add_argument(
        "--baseline-sizes",
        default="small,medium",
        help="the highdicom baselines take ~9 min more at the large size; add it to run them",
    )
    p.add_argument("--timeout", type=float, default=600.0, help="seconds per pipeline run")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--with-multiframe",
        action="store_true",
        help="add the 2-frame Enhanced CT study to every export (mdai's SegExport fails on it)",
    )
    p.add_argument("--startup-repeats", type=int, default=3)
    p.add_argument("--keep", type=Path, help="keep inputs and outputs here")
    args = p.parse_args()
    sizes = [s for s in args.sizes.split(",") if s]
    unknown = [s for s in sizes if s not in SIZES]
    if unknown:
        p.error(f"unknown size(s) {unknown}; choose from {list(SIZES)}")
    args.jobs = [int(j) for j in args.jobs.split(",") if j]
    split = lambda s: [x for x in s.split(",") if x]  # noqa: E731
    gate = Gate(
        split(args.only),
        split(args.skip),
        set(split(args.mdai_sizes)),
        set(split(args.mdai_as_shipped_sizes)),
        set(split(args.baseline_sizes)),
    )

    print(__doc__.splitlines()[0])
    print(
        f"{os.cpu_count()} cores, Python {platform.python_version()}; mdai-fastexport "
        f"{_version('mdai-fastexport')}, mdai {_version('mdai')}, pandas {_version('pandas')}, "
        f"highdicom {_version('highdicom')}, pydicom {_version('pydicom')}, "
        f"opencv {_version('opencv-python')}/{_version('opencv-python-headless')} (headless)"
    )
    print(
        "mdai's exporter runs offline: its 3 dicom-standard downloads are served from PyPI "
        "dicom-standard; its pandas row reuse (every annotation of a file OR-ed into one frame) "
        "is worked around by keeping a copy of the previous row (mdai-seg-asis: as shipped)."
    )
    print(
        "mdai's own counts are lower by its design or bugs, not the wrapper's: SegExport drops "
        "the parent-label annotation of each parent/child pair; SrExport drops every "
        "parent-label annotation of an annotator in a study that has a child-label one "
        "(its type() test is always true)."
    )
    if not args.with_multiframe:
        print(
            "Exports have no multi-frame Enhanced CT study (--with-multiframe adds it): mdai's "
            "SegExport crashes on it (int() of the multi-valued PaletteColorLookupTableDescriptor)."
        )

    print(f"\nStart-up (best of {args.startup_repeats}, fresh interpreter)")
    for label, t, err in startup_times(args.startup_repeats):
        print(f"  {label:<45}{_f(t):>7} s  {err}")

    tmp = None
    if args.keep:
        base_dir = args.keep
        base_dir.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.mkdtemp(prefix="mdai-bench-")
        base_dir = Path(tmp)
    results: dict[str, dict[str, Outcome]] = {}
    t_start = time.perf_counter()
    try:
        for size in sizes:
            root = base_dir / size
            inputs, outcomes = run_size(size, root, args, gate)
            results[size] = outcomes
            print_table(inputs, outcomes)
            if not args.keep:
                shutil.rmtree(root, ignore_errors=True)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    print_ratios(results, args.jobs)
    print(f"\nbenchmark wall time {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    main()
