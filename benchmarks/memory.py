"""Memory of load + index against the size of the exports (1×, 4×, 16×, ≥ 1 GB metadata).

The exports are the benchmark's ``medium`` size (``bench_export.SIZES``) repeated
``k`` times with fresh UIDs and annotation ids, streamed to disk (nothing the
size of the result is held in memory). Each measurement is a fresh process:
``VmHWM`` (peak RSS, exact) minus the RSS after the imports, for loading both
files and building the index; ``steady`` is what the index keeps once the
parsed inputs are dropped. ``--whole`` measures the same with the exports parsed
whole (what the loader did before it split files at their big arrays). Numbers
are printed, never asserted.

Usage::

    python benchmarks/memory.py [--scales 1,4,16] [--gigabyte] [--whole] [--keep DIR]

``--gigabyte`` adds a project whose metadata export is ≥ 1 GB (about 240,000
instances) with one copy in 16 annotated: it needs about 2 GB of disk and
4 GB of memory, and a few minutes.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_export import SIZES  # noqa: E402

#: Identity UIDs of the generated exports (the generator's 2.25 UUID-derived UIDs; the
#: SOP Class and Transfer Syntax UIDs keep their roots) and annotation ids.
_UID = re.compile(rb'"(2\.25\.\d+)"')
_ANNOTATION_ID = re.compile(rb'"(A_[0-9a-f]+)"')

PROBE = r"""
import gc, json, sys, time
def status(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1]) * 1024
from mdai_fastexport.index import build_index
from mdai_fastexport import jsonscan, load
if sys.argv[3] == "whole":
    load.split_document = lambda *a, **k: None
base = status("VmRSS")
t = time.perf_counter()
index = build_index(load.load_annotations(sys.argv[1]), load.load_metadata(sys.argv[2]))
seconds = time.perf_counter() - t
gc.collect()
print(json.dumps({
    "peak": status("VmHWM") - base,
    "steady": status("VmRSS") - base,
    "seconds": seconds,
    "instances": index.counts["instances"],
    "annotations": index.counts["annotations"],
}))
"""


def _copy(body: bytes, c: int) -> bytes:
    """``body`` with every identity UID and annotation id made unique to copy ``c``."""
    if c == 0:
        return body
    body = _UID.sub(b'"\\1.%d"' % c, body)
    return _ANNOTATION_ID.sub(b'"\\1_%d"' % c, body)


def _split(doc: dict[str, Any], key: str) -> tuple[bytes, bytes, bytes]:
    """(head, array contents, tail) of ``doc`` serialised, around ``datasets[0][key]``."""
    items = doc["datasets"][0][key]
    doc["datasets"][0][key] = ["@@"]
    head, tail = orjson.dumps(doc).split(b'["@@"]')
    doc["datasets"][0][key] = items
    return head + b"[", b",".join(orjson.dumps(x) for x in items), b"]" + tail


def write_scaled(
    base: tuple[dict[str, Any], dict[str, Any]], copies: int, every: int, out: Path
) -> tuple[Path, Path]:
    """Write ``copies`` copies of the base metadata and every ``every``-th copy of its
    annotations (fresh UIDs per copy), streamed."""
    ann, meta = base
    a_path, m_path = out / f"x{copies}_annotations.json", out / f"x{copies}_metadata.json"
    for path, doc, key, which in (
        (a_path, ann, "annotations", range(0, copies, every)),
        (m_path, meta, "dicomMetadata", range(copies)),
    ):
        head, body, tail = _split(doc, key)
        with path.open("wb") as f:
            f.write(head)
            for n, c in enumerate(which):
                f.write(b"," if n else b"")
                f.write(_copy(body, c))
            f.write(tail)
    return a_path, m_path


def measure(a: Path, m: Path, mode: str) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, str(a), str(m), mode],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"probe failed: {proc.stderr.strip()[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scales", default="1,4,16")
    p.add_argument("--gigabyte", action="store_true")
    p.add_argument("--whole", action="store_true", help="also measure whole-document parsing")
    p.add_argument("--keep", type=Path, help="write the exports here (default: a temp folder)")
    args = p.parse_args()

    from mdai_fastexport.synthetic import make_exports

    base = make_exports(**SIZES["medium"])
    runs = [(int(k), 1) for k in args.scales.split(",") if k]
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        if args.gigabyte:
            _, body, _ = _split(base[1], "dicomMetadata")
            runs.append((-(-1_000_000_000 // len(body)), 16))
        modes = ["split", "whole"] if args.whole else ["split"]
        header = (
            f"{'scale':>6} {'mode':>5} {'JSON MB':>8} {'instances':>9} {'annots':>8} "
            f"{'peak MB':>8} {'peak/JSON':>9} {'steady MB':>9} {'B/inst':>7} {'B/annot':>7} "
            f"{'s':>6}"
        )
        print(header)
        for copies, every in runs:
            t = time.perf_counter()
            a, m = write_scaled(base, copies, every, root)
            made = time.perf_counter() - t
            size = a.stat().st_size + m.stat().st_size
            for mode in modes:
                r = measure(a, m, mode)
                label = f"{copies}x" + (f"/{every}" if every > 1 else "")
                print(
                    f"{label:>6} {mode:>5} {size / 1e6:8.1f} {r['instances']:9d} "
                    f"{r['annotations']:8d} {r['peak'] / 1e6:8.1f} {r['peak'] / size:9.2f} "
                    f"{r['steady'] / 1e6:9.1f} {r['peak'] / r['instances']:7.0f} "
                    f"{r['peak'] / max(r['annotations'], 1):7.0f} {r['seconds']:6.1f}",
                    flush=True,
                )
            print(
                f"{'':>6} (annotations {a.stat().st_size / 1e6:.1f} MB, metadata "
                f"{m.stat().st_size / 1e6:.1f} MB, written in {made:.0f} s)",
                flush=True,
            )
            if not args.keep:
                a.unlink()
                m.unlink()


if __name__ == "__main__":
    main()
