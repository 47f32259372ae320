"""Run ONE benchmark pipeline in this (fresh) process and write its result as JSON.

Usage: ``python benchmarks/run_pipeline.py SPEC.json`` where the spec names the
pipeline, its inputs, its output folder and where to write the result. The
benchmark driver (``bench_export.py``) starts one such process per measurement,
so imports are paid the same way by every pipeline and the process's peak RSS is
the pipeline's own.

Every pipeline imports what it needs *inside* its function, so the import time
(``t_import``, from this module's start) is measured separately from the work
(``t_work``); work that must not be timed (the floors read our files first) is
reported as ``t_untimed``.
"""

from __future__ import annotations

import json
import resource
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

T0 = time.perf_counter()

Result = dict[str, Any]
Spec = dict[str, Any]


def _imported(res: Result) -> float:
    now = time.perf_counter()
    res["t_import"] = now - T0
    return now


def ours(spec: Spec, res: Result) -> None:
    """``export_seg`` / ``export_sr`` through the public API."""
    from mdai_fastexport import export_seg, export_sr

    fn = export_seg if spec["kind"] == "SEG" else export_sr
    t = _imported(res)
    report = fn(spec["annotations"], spec["metadata"], spec["out"], n_jobs=spec["n_jobs"])
    res["t_work"] = time.perf_counter() - t
    res["files"] = len(report.files)
    res["annotations"] = sum(f.annotations for f in report.files)
    if spec["kind"] == "SEG":
        res["frames"] = sum(f.frames for f in report.files)
    else:
        res["notes"].append(f"{sum(f.measurement_groups for f in report.files)} measurement groups")
    res["skips"] = len(report.skips)
    if report.skips:
        reasons: dict[str, int] = {}
        for s in report.skips:
            reasons[s.reason] = reasons.get(s.reason, 0) + 1
        res["notes"].append("skips: " + ", ".join(f"{k}={v}" for k, v in sorted(reasons.items())))


def mdai(spec: Spec, res: Result) -> None:
    """The ``mdai`` package's exporter, offline, row reuse fixed unless ``as_shipped``."""
    from mdai_wrapper import load_mdai, run_mdai

    dicom_utils, counter, fake = load_mdai(fix_rows=not spec.get("as_shipped", False))
    t = _imported(res)
    out = run_mdai(
        dicom_utils,
        spec["kind"],
        Path(spec["annotations"]),
        Path(spec["metadata"]),
        Path(spec["out"] + ".cwd"),  # its own working directory
    )
    res["t_work"] = time.perf_counter() - t
    out.rename(spec["out"])
    res["served"] = fake.served
    if spec["kind"] == "SEG":
        res["annotations"] = counter.rows_with_data


def base(spec: Spec, res: Result) -> None:
    """The straightforward highdicom pipelines (``baseline.py`` / ``baseline_sr.py``)."""
    if spec["kind"] == "SEG":
        from baseline import export_seg_baseline as fn
    else:
        from baseline_sr import export_sr_baseline as fn
    t = _imported(res)
    counts = fn(Path(spec["annotations"]), Path(spec["metadata"]), Path(spec["out"]))
    res["t_work"] = time.perf_counter() - t
    res["files"] = counts["files"]
    res["annotations"] = counts["annotations"]
    if "frames" in counts:
        res["frames"] = counts["frames"]
    if "groups" in counts:
        res["notes"].append(f"{counts['groups']} measurement groups")


def floor(spec: Spec, res: Result) -> None:
    """Parse + (SEG) Rust rasterisation + writing our own output files again."""
    import floor as fl

    rust = fl.load_rust() if spec["kind"] == "SEG" else None
    prepare, write = fl.WRITERS[spec["writer"]]
    t = _imported(res)
    items = prepare(Path(spec["source"]))
    t_ready = time.perf_counter()
    res["t_untimed"] = t_ready - t
    counts = fl.parse_and_rasterise(
        Path(spec["annotations"]), Path(spec["metadata"]), spec["kind"] == "SEG", rust
    )
    res["files"] = write(items, Path(spec["out"]))
    res["t_work"] = time.perf_counter() - t_ready
    if spec["kind"] == "SEG":
        res["annotations"] = counts["annotations"]
        res["planes"] = counts["frames"]


PIPELINES: dict[str, Callable[[Spec, Result], None]] = {
    "ours": ours,
    "mdai": mdai,
    "base": base,
    "floor": floor,
}


def peak_rss_kb() -> int:
    """This process's peak RSS since its ``exec`` (``VmHWM``), in KiB.

    ``ru_maxrss`` is not used: Linux folds the high-water mark of the address
    space replaced by ``exec`` (the forking parent's) into it, so a small child
    of a big parent would report the parent's size.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main() -> int:
    """Run the spec given on the command line; always write a result file."""
    spec = json.loads(Path(sys.argv[1]).read_text())
    res: Result = {"ok": False, "error": None, "t_untimed": 0.0, "notes": []}
    try:
        PIPELINES[spec["family"]](spec, res)
        res["ok"] = True
    except BaseException as exc:  # reported in the pipeline's row, never raised
        res["error"] = f"{type(exc).__name__}: {exc}"
        traceback.print_exc()
    res["peak_rss_kb"] = peak_rss_kb()
    Path(spec["result"]).write_text(json.dumps(res))
    return 0 if res["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
