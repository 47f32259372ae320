"""``mdai-fastexport`` command line (also ``python -m mdai_fastexport``).

Exit codes:

* 0 — every annotation exported;
* 1 — finished, but something was skipped (see the report);
* 2 — nothing written: bad arguments, unreadable or mismatched inputs, an output
  folder that cannot be used, ``--strict`` violations;
* 3 — an internal error (a bug): some files could not be built for a reason the
  inputs do not explain; the others were written and the report lists them;
* 130 / 143 — interrupted by SIGINT (Ctrl-C) / SIGTERM: workers stopped, temporary
  files removed, the report of what finished written (marked interrupted).

Errors are one line on stderr, never a traceback (``--debug`` shows it).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import traceback
from collections.abc import Sequence
from typing import Any, NoReturn

from . import __version__
from .errors import ExportError, Interrupted, StrictModeError
from .index import RasterOptions
from .plan import DEFAULT_MEMORY_BUDGET

EXIT_OK, EXIT_SKIPS, EXIT_NOTHING, EXIT_INTERNAL = 0, 1, 2, 3


def _bytes(text: str) -> int:
    """``2G``, ``512M``, ``1000000`` → bytes."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    t = text.strip().upper().removesuffix("B").removesuffix("I")
    try:
        if t and t[-1] in units:
            value = float(t[:-1]) * units[t[-1]]
        else:
            value = float(t)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 2G, 512M)") from None
    if not (value > 0 and value < 1 << 62):
        raise argparse.ArgumentTypeError(f"not a positive size: {text!r}")
    return int(value)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line on stderr (exit 2), like every
    other error of the command: ``error: <what> (see '<command> --help')``."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_NOTHING, f"error: {message} (see '{self.prog} --help')\n")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="mdai-fastexport",
        description="Convert MD.ai annotation exports to DICOM SEG or DICOM SR (TID 1500).",
        epilog="Exit codes: 0 all exported, 1 finished with skips (see the report), 2 nothing "
        "written (bad arguments or inputs), 3 internal error, 130/143 interrupted.",
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="format", required=True, metavar="{seg,sr,merge-reports}")
    for name, help_ in (
        ("seg", "one DICOM SEG per annotator per annotated series"),
        ("sr", "one TID 1500 Comprehensive SR per annotator per annotated study"),
    ):
        s = sub.add_parser(name, help=help_, description=help_)
        s.add_argument("--annotations", "-a", required=True, help="MD.ai annotation export (JSON)")
        s.add_argument("--metadata", "-m", required=True, help="MD.ai DICOM metadata export (JSON)")
        s.add_argument(
            "--out",
            "-o",
            required=True,
            help=f"output folder (created if needed); the manifest is report.{name}.json",
        )
        s.add_argument(
            "--jobs",
            "-j",
            type=int,
            default=-1,
            help="worker processes (-1: all cores, 1: in-process); the files do not depend on it",
        )
        s.add_argument(
            "--strict",
            action="store_true",
            help="write nothing and exit 2 if any annotation would be skipped",
        )
        s.add_argument(
            "--frame-base",
            type=int,
            choices=(0, 1),
            default=0,
            help="number of the first frame in frameNumber: 0 (MD.ai's convention, default) or "
            "1 for exports that count from 1 (the report warns when numbers look 1-based)",
        )
        s.add_argument(
            "--clean",
            action="store_true",
            help=f"remove {name.upper()} files of an earlier run that this run did not write "
            "(by default they are kept and listed as stale in the report)",
        )
        s.add_argument(
            "--backend",
            default=None,
            help="joblib backend (default: worker processes forked from this one); 'dask' runs "
            "on a dask.distributed cluster (see --scheduler)",
        )
        s.add_argument("--scheduler", default=None, help="dask.distributed scheduler address")
        s.add_argument(
            "--resume",
            action="store_true",
            help="reuse files an earlier (killed or partial) run into --out finished, when the "
            "annotations, headers, options and version that went into them are unchanged; "
            "rebuild the rest",
        )
        s.add_argument(
            "--shard",
            default=None,
            metavar="I/N",
            help="run shard I of N of the plan (balanced by estimated cost) and write its own "
            "manifest; inside a SLURM job array the shard comes from SLURM_ARRAY_TASK_ID/"
            "SLURM_ARRAY_TASK_COUNT; combine the manifests with 'merge-reports'",
        )
        s.add_argument("--no-progress", action="store_true", help="no progress bar")
        s.add_argument(
            "--quiet",
            "-q",
            action="store_true",
            help="no progress bar and no summary (errors only)",
        )
        s.add_argument(
            "--log-json",
            action="store_true",
            help="print one JSON line per finished file on stdout (the summary goes to stderr)",
        )
        s.add_argument("--debug", action="store_true", help="show tracebacks of errors")
        if name == "seg":
            s.add_argument(
                "--split-label-groups",
                action="store_true",
                help="one SEG per label group per annotator per series, instead of one per "
                "annotator per series with every label group (combine_label_groups=False)",
            )
            s.add_argument(
                "--line-width",
                type=float,
                default=RasterOptions().line_width,
                help="stroke width in pixels drawn for line annotations (default %(default)s)",
            )
            s.add_argument(
                "--point-radius",
                type=float,
                default=RasterOptions().point_radius,
                help="disc radius in pixels drawn for location annotations (default %(default)s)",
            )
            s.add_argument(
                "--memory-budget",
                type=_bytes,
                default=DEFAULT_MEMORY_BUDGET,
                help="memory one SEG may need while it is built (default 2G); larger SEGs are "
                "skipped with reason too_large",
            )
    m = sub.add_parser(
        "merge-reports",
        help="combine the manifests of the shards of a job array",
        description="Combine report.<format>.shard-I-of-N.json manifests into report.<format>"
        ".json, checking that every planned file is accounted for exactly once.",
    )
    m.add_argument("out", help="the output folder the shards wrote into")
    m.add_argument(
        "--only", choices=("seg", "sr"), default=None, help="merge only the SEG or SR manifests"
    )
    return p


def _merge(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .shards import merge_reports

    out = Path(args.out)
    formats = [args.only] if args.only else ["seg", "sr"]
    merged_any, code = False, EXIT_OK
    for fmt in formats:
        if not args.only and not any(out.glob(f"report.{fmt}.shard-*-of-*.json")):
            continue
        try:
            merged = merge_reports(out, fmt)
        except ExportError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_NOTHING
        merged_any = True
        print(
            f"{fmt.upper()}: {merged['shards']} shard(s) merged into report.{fmt}.json: "
            f"{len(merged['files'])} file(s), {len(merged['skips'])} skip(s)"
        )
        if merged["internal_errors"]:
            code = EXIT_INTERNAL
        elif merged["skips"] and code == EXIT_OK:
            code = EXIT_SKIPS
    if not merged_any:
        print(f"error: no shard manifests in {out}", file=sys.stderr)
        return EXIT_NOTHING
    return code


#: The process that runs :func:`main` (a forked worker inherits the handler below).
_MAIN_PID = os.getpid()


def _raise_interrupted(signum: int, _frame: Any) -> None:
    """SIGINT/SIGTERM in the CLI: stop the run (its report is written). In a worker forked
    from it, in the instant before the worker resets its handlers: SIGINT is left to the
    parent, SIGTERM (from ``Pool.terminate``) ends the worker as the default action would."""
    if os.getpid() != _MAIN_PID:
        if signum == signal.SIGTERM:
            os._exit(128 + signum)
        return
    raise Interrupted(signum)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mdai-fastexport`` script; returns the exit code (130/143 after
    SIGINT/SIGTERM, whenever it arrives)."""
    global _MAIN_PID
    _MAIN_PID = os.getpid()
    try:
        return _main(argv)
    except Interrupted as exc:
        where = f": report {exc.report}" if exc.report else ""
        print(f"interrupted by {signal.Signals(exc.signum).name}{where}", file=sys.stderr)
        return 128 + exc.signum
    except KeyboardInterrupt:
        print("interrupted by SIGINT", file=sys.stderr)
        return 128 + signal.SIGINT


def _main(argv: Sequence[str] | None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors (argparse prints them)
        return int(exc.code or 0) and EXIT_NOTHING
    if args.format == "merge-reports":
        return _merge(args)
    fmt = args.format.upper()
    previous = {
        sig: signal.signal(sig, _raise_interrupted) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    client = None
    try:
        raster = None
        if fmt == "SEG":
            raster = RasterOptions(line_width=args.line_width, point_radius=args.point_radius)
        from .shards import WHOLE, parse_shard, shard_from_environment

        shard = parse_shard(args.shard) if args.shard else (shard_from_environment() or WHOLE)
        if args.backend == "dask":
            client = _dask_client(args.scheduler)
        from .run import run_export

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
            progress=not (args.no_progress or args.quiet) and sys.stderr.isatty(),
            frame_base=args.frame_base,
            memory_budget=getattr(args, "memory_budget", DEFAULT_MEMORY_BUDGET),
            clean=args.clean,
            resume=args.resume,
            shard=shard,
            log=sys.stdout if args.log_json else None,
        )
    except StrictModeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        for p in exc.problems[1:10]:
            print(f"  {p}", file=sys.stderr)
        if len(exc.problems) > 10:
            print(f"  ... and {len(exc.problems) - 10} more", file=sys.stderr)
        return EXIT_NOTHING
    except ExportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        if args.debug:
            traceback.print_exc()
        return EXIT_NOTHING
    except Exception as exc:  # a bug: say so, with the place, not a bare traceback
        where = traceback.extract_tb(exc.__traceback__)[-1]
        print(
            f"internal error: {type(exc).__name__}: {exc} (at {where.filename}:{where.lineno}); "
            "please report it (run again with --debug for the traceback)",
            file=sys.stderr,
        )
        if args.debug:
            traceback.print_exc()
        return EXIT_INTERNAL
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if client is not None:
            cluster = client.cluster if args.scheduler is None else None
            client.close()
            if cluster is not None:  # the LocalCluster started for this run
                cluster.close()
    if not args.quiet:
        stream = sys.stderr if args.log_json else sys.stdout
        print(report.summary(), file=stream)
        print(f"report: {report.output_dir}/{report.name}", file=stream)
    return report.exit_code


def _dask_client(address: str | None) -> Any:
    """A dask.distributed client for joblib's dask backend: the scheduler at ``address``, or
    a LocalCluster on this machine.

    Raises:
        OptionError: dask.distributed is not installed or the scheduler cannot be reached.
    """
    from .errors import OptionError

    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise OptionError(
            "--backend dask needs dask.distributed: pip install 'mdai-fastexport[dask]'"
        ) from None
    try:
        if address:
            return Client(address, timeout="30s")
        return Client(LocalCluster(processes=True, dashboard_address=None))
    except OSError as exc:
        raise OptionError(f"cannot reach the dask scheduler {address!r}: {exc}") from None


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
