"""Benchmark: mdai-fastexport vs. a straightforward highdicom + Python-rasteriser pipeline.

Every number comes from this one run on this machine; ratios are printed, never
asserted. Usage::

    python benchmarks/bench_export.py [--ct-series 4] [--ct-slices 40] [--size 512] \
        [--annotations-per-slice 3] [--jobs -1]

The ``mdai`` package's own exporter is tried too; it fetches the DICOM standard
tables from GitHub when constructed, so it cannot run offline and is reported as
not measured when that fetch fails.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from baseline import export_seg_baseline
from mdai_fastexport import export_seg, export_sr
from mdai_fastexport.synthetic import write_exports


def _timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - t0, result


def _try_mdai(ann: Path, meta: Path, out: Path) -> str:
    try:
        from mdai.utils.dicom_utils import SegExport  # type: ignore[import-not-found]
    except Exception as exc:  # not installed, or its imports (cv2, pandas) missing
        return f"not measured: mdai exporter unavailable ({type(exc).__name__}: {exc})"
    cwd = os.getcwd()
    try:
        os.chdir(out.parent)
        t, _ = _timed(SegExport, os.path.relpath(ann), os.path.relpath(meta), True, str(out.name))
        return f"{t:.2f} s"
    except Exception as exc:
        return f"not measured: mdai exporter failed ({type(exc).__name__}: {str(exc)[:120]})"
    finally:
        os.chdir(cwd)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ct-series", type=int, default=4)
    p.add_argument("--ct-slices", type=int, default=40)
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--annotations-per-slice", type=int, default=3)
    p.add_argument("--jobs", type=int, default=-1)
    args = p.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        t_gen, (ann, meta) = _timed(
            write_exports,
            tmp_path / "in",
            name="bench",
            seed=1,
            ct_series=args.ct_series,
            ct_slices=args.ct_slices,
            ct_size=(args.size, args.size),
            annotations_per_slice=args.annotations_per_slice,
        )
        size_mb = (ann.stat().st_size + meta.stat().st_size) / 1e6
        print(
            f"export: {args.ct_series} CT series x {args.ct_slices} slices of {args.size}^2, "
            f"{args.annotations_per_slice} annotations/slice, + radiograph + 2-frame Enhanced CT; "
            f"{size_mb:.1f} MB JSON (generated in {t_gen:.1f} s); {os.cpu_count()} cores"
        )

        t_base, base_frames = _timed(export_seg_baseline, ann, meta, tmp_path / "baseline")
        t_one, rep_one = _timed(export_seg, ann, meta, tmp_path / "ours1", n_jobs=1)
        t_par, rep_par = _timed(export_seg, ann, meta, tmp_path / "oursN", n_jobs=args.jobs)
        t_sr, rep_sr = _timed(export_sr, ann, meta, tmp_path / "sr", n_jobs=args.jobs)
        our_frames = sum(f.frames for f in rep_par.files)
        mdai = _try_mdai(ann, meta, tmp_path / "mdai")

    print()
    print(f"{'pipeline':<48}{'seconds':>10}{'files':>8}{'frames':>9}")
    print(
        f"{'baseline: json + skimage.draw + highdicom, serial':<48}{t_base:>10.2f}"
        f"{'':>8}{base_frames:>9}"
    )
    print(
        f"{'mdai-fastexport SEG, n_jobs=1':<48}{t_one:>10.2f}{len(rep_one.files):>8}"
        f"{sum(f.frames for f in rep_one.files):>9}"
    )
    print(
        f"{f'mdai-fastexport SEG, n_jobs={args.jobs}':<48}{t_par:>10.2f}{len(rep_par.files):>8}"
        f"{our_frames:>9}"
    )
    print(f"{f'mdai-fastexport SR,  n_jobs={args.jobs}':<48}{t_sr:>10.2f}{len(rep_sr.files):>8}")
    print(f"{'mdai SegExport (mdai package)':<48}{mdai:>10}")
    print()
    same = (
        "same frame count"
        if base_frames == our_frames
        else (f"FRAME COUNTS DIFFER ({base_frames} vs {our_frames}): compare with care")
    )
    print(f"ratio baseline / ours (n_jobs=1):  {t_base / t_one:.2f}x   ({same})")
    print(f"ratio baseline / ours (n_jobs={args.jobs}): {t_base / t_par:.2f}x")


if __name__ == "__main__":
    main()
