"""``mdai-fastexport`` command line.

Exit codes: 0 every annotation exported; 1 finished, but something was skipped
(see ``report.json``); 2 nothing written (bad arguments, unreadable or
mismatched inputs, ``--strict`` violations).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import __version__
from .errors import ExportError, StrictModeError
from .index import RasterOptions
from .run import REPORT_NAME, run_export


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mdai-fastexport",
        description="Convert MD.ai annotation exports to DICOM SEG or DICOM SR (TID 1500).",
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="format", required=True, metavar="{seg,sr}")
    for name, help_ in (
        ("seg", "one DICOM SEG per annotator per annotated series"),
        ("sr", "one TID 1500 Comprehensive SR per annotator per annotated study"),
    ):
        s = sub.add_parser(name, help=help_, description=help_)
        s.add_argument("--annotations", "-a", required=True, help="MD.ai annotation export (JSON)")
        s.add_argument("--metadata", "-m", required=True, help="MD.ai DICOM metadata export (JSON)")
        s.add_argument("--out", "-o", required=True, help="output folder (created if needed)")
        s.add_argument(
            "--jobs", "-j", type=int, default=-1, help="worker processes (-1: all cores)"
        )
        s.add_argument(
            "--strict",
            action="store_true",
            help="fail before writing anything if any annotation would be skipped",
        )
        s.add_argument(
            "--backend",
            default=None,
            help="joblib backend (default: processes); 'dask' needs --scheduler",
        )
        s.add_argument("--scheduler", default=None, help="dask.distributed scheduler address")
        s.add_argument("--no-progress", action="store_true", help="no progress bar")
        if name == "seg":
            s.add_argument(
                "--split-label-groups",
                action="store_true",
                help="one SEG per label group as well (combine_label_groups=False)",
            )
            s.add_argument(
                "--line-width",
                type=float,
                default=RasterOptions().line_width,
                help="stroke width in pixels for line annotations (default %(default)s)",
            )
            s.add_argument(
                "--point-radius",
                type=float,
                default=RasterOptions().point_radius,
                help="disc radius in pixels for location annotations (default %(default)s)",
            )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mdai-fastexport`` script; returns the exit code."""
    args = _parser().parse_args(argv)
    fmt = args.format.upper()
    raster = None
    if fmt == "SEG":
        if not (args.line_width > 0 and args.point_radius > 0):
            print("error: --line-width and --point-radius must be > 0", file=sys.stderr)
            return 2
        raster = RasterOptions(line_width=args.line_width, point_radius=args.point_radius)
    client = None
    if args.backend == "dask":
        try:
            from dask.distributed import Client
        except ImportError:
            print("error: --backend dask needs 'dask[distributed]' installed", file=sys.stderr)
            return 2
        client = Client(args.scheduler) if args.scheduler else Client(processes=True)
    try:
        report = run_export(
            fmt,
            args.annotations,
            args.metadata,
            args.out,
            combine_label_groups=not getattr(args, "split_label_groups", False),
            n_jobs=args.jobs,
            strict=args.strict,
            raster=raster,
            backend=args.backend,
            progress=not args.no_progress and sys.stderr.isatty(),
        )
    except StrictModeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        for p in exc.problems[1:10]:
            print(f"  {p}", file=sys.stderr)
        if len(exc.problems) > 10:
            print(f"  ... and {len(exc.problems) - 10} more", file=sys.stderr)
        return 2
    except ExportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        if client is not None:
            client.close()
    print(report.summary())
    print(f"report: {report.output_dir}/{REPORT_NAME}")
    return 0 if report.ok else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
