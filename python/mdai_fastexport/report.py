"""The run report: what was written and what was skipped, and why.

A :class:`RunReport` is returned by every export function and written next to
the outputs as ``report.json`` (the manifest). Skips carry a machine-readable
``reason`` code and a human-readable ``detail``.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from .shards import Shard


@dataclass(frozen=True, slots=True)
class Skip:
    """Something that was not exported.

    Attributes:
        reason: A stable code, e.g. ``"missing_instance"``, ``"null_data"``,
            ``"non_finite_vertex"``, ``"build_failed"``.
        detail: A sentence naming the annotation/UIDs involved.
        annotation_id: The MD.ai annotation id, when the skip concerns one.
        study_uid: Study Instance UID, when known.
        series_uid: Series Instance UID, when known.
        sop_uid: SOP Instance UID, when known.
    """

    reason: str
    detail: str
    annotation_id: str | None = None
    study_uid: str | None = None
    series_uid: str | None = None
    sop_uid: str | None = None


@dataclass(frozen=True, slots=True)
class WrittenFile:
    """One DICOM file written by the run.

    Attributes:
        path: Path relative to the output folder.
        kind: ``"SEG"`` or ``"SR"``.
        dataset_id: MD.ai dataset id.
        study_uid: Study Instance UID of the source study.
        series_uid: Series Instance UID of the *source* series (SEG only).
        annotator_id: MD.ai user id of the annotator.
        label_groups: Names of the label groups whose annotations are inside.
        sop_instance_uid: SOP Instance UID of the written object.
        series_instance_uid: Series Instance UID of the written object.
        annotations: Number of MD.ai annotations represented.
        segments: Number of segments (SEG) or 0.
        frames: Number of frames (SEG) or 0.
        measurement_groups: Number of TID 1500 measurement groups (SR) or 0.
        bytes: Size of the file.
    """

    path: str
    kind: str
    dataset_id: str
    study_uid: str
    series_uid: str | None
    annotator_id: str
    label_groups: tuple[str, ...]
    sop_instance_uid: str
    series_instance_uid: str
    annotations: int
    segments: int = 0
    frames: int = 0
    measurement_groups: int = 0
    bytes: int = 0


_PER_INSTANCE = re.compile(r"^instance (\S+)( frame \d+)?: (.*)$", re.DOTALL)


def fold_warnings(warnings: list[str]) -> list[str]:
    """``warnings`` without repeats, and a header problem that several instances (or frames)
    share said once with their number and the first of them: every file built from a series
    with a rounded orientation would otherwise repeat it per instance and per file."""
    order: list[tuple[bool, str]] = []  # (per-instance problem?, text)
    seen: set[str] = set()
    groups: dict[str, list[str]] = {}
    for w in warnings:
        if w in seen:
            continue
        seen.add(w)
        m = _PER_INSTANCE.match(w)
        if m is None:
            order.append((False, w))
            continue
        problem = m.group(3)
        if problem not in groups:
            groups[problem] = []
            order.append((True, problem))
        groups[problem].append(f"instance {m.group(1)}{m.group(2) or ''}")
    out = []
    for grouped, text in order:
        where = groups[text] if grouped else None
        if where is None:
            out.append(text)
        elif len(where) == 1:
            out.append(f"{where[0]}: {text}")
        else:
            out.append(f"{len(where)} instances/frames: {text} (first: {where[0]})")
    return out


def report_name(output_format: str) -> str:
    """The manifest's file name: ``report.seg.json`` or ``report.sr.json``, so SEG and SR
    runs into one folder keep both."""
    return f"report.{output_format.lower()}.json"


@dataclass(slots=True)
class RunReport:
    """Outcome of an export run.

    Attributes:
        output_format: ``"SEG"`` or ``"SR"``.
        output_dir: Absolute path of the output folder.
        files: Every file written, in a deterministic order.
        skips: Every annotation or work item that was not exported, with the reason.
        warnings: Problems that did not stop anything (e.g. clipped vertices).
        inputs: Counts describing the inputs.
        internal_errors: Work items that failed on an unexpected error (a bug).
        interrupted: The signal that stopped the run (``"SIGINT"``, ``"SIGTERM"``), if any.
        not_written: Files planned but not written (interrupted run, failed pool, full disk).
        stale: Files of this format in the folder that this run did not write (an
            earlier run's), left in place.
        removed: Such files removed because the run was asked to clean the folder.
        reused: Files an earlier run finished, reused by ``resume`` (also in ``files``).
        shard: For a shard of a job array: its index, count, the plan's digest and file
            names, the files it planned and those that failed to build.
    """

    output_format: str
    output_dir: str
    files: list[WrittenFile] = field(default_factory=list)
    skips: list[Skip] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    inputs: dict[str, int] = field(default_factory=dict)
    internal_errors: int = 0
    interrupted: str | None = None
    not_written: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    shard: dict[str, Any] | None = None

    @property
    def name(self) -> str:
        """The manifest's file name in the output folder (``report.seg.shard-2-of-8.json``
        for a shard)."""
        if self.shard is None:
            return report_name(self.output_format)
        suffix = Shard(self.shard["index"], self.shard["count"]).suffix
        return f"report.{self.output_format.lower()}{suffix}.json"

    @property
    def ok(self) -> bool:
        """True when nothing was skipped."""
        return not self.skips

    @property
    def exit_code(self) -> int:
        """The CLI's exit code: 0 all exported, 1 finished with skips, 3 internal error."""
        if self.internal_errors:
            return 3
        return 0 if self.ok else 1

    def skip_counts(self) -> dict[str, int]:
        """Number of skips per reason code."""
        counts: dict[str, int] = {}
        for s in self.skips:
            counts[s.reason] = counts.get(s.reason, 0) + 1
        return dict(sorted(counts.items()))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (the manifest's content)."""
        return {
            "output_format": self.output_format,
            "output_dir": self.output_dir,
            "interrupted": self.interrupted,
            "inputs": self.inputs,
            "files": [dataclasses.asdict(f) for f in self.files],
            "not_written": self.not_written,
            "stale": self.stale,
            "removed": self.removed,
            "reused": self.reused,
            "skip_counts": self.skip_counts(),
            "skips": [dataclasses.asdict(s) for s in self.skips],
            "warnings": self.warnings,
            "internal_errors": self.internal_errors,
            **({"shard": self.shard} if self.shard is not None else {}),
        }

    def to_json(self) -> bytes:
        """The manifest as indented UTF-8 JSON."""
        return orjson.dumps(self.to_dict(), option=orjson.OPT_INDENT_2)

    def summary(self) -> str:
        """A one-screen human summary."""
        lines = [f"{self.output_format}: {len(self.files)} file(s) written to {self.output_dir}"]
        if self.interrupted:
            lines.append(
                f"INTERRUPTED by {self.interrupted}: {len(self.not_written)} planned file(s) "
                "not written"
            )
        inp = self.inputs
        if inp:
            lines.append(
                f"inputs: {inp.get('annotations', 0)} annotation(s), {inp.get('studies', 0)} "
                f"stud{'y' if inp.get('studies') == 1 else 'ies'}, {inp.get('series', 0)} "
                f"series, {inp.get('instances', 0)} instance(s); "
                f"{inp.get('exported_annotations', 0)} annotation(s) in the files written"
            )
            if self.output_format == "SEG" and inp.get("global_annotations"):
                lines.append(
                    f"  {inp['global_annotations']} study/series/image label(s) without geometry "
                    "are not in SEG by design (they are in the SR export)"
                )
        if self.skips:
            lines.append(
                f"skipped: {len(self.skips)} ("
                + ", ".join(f"{k}: {v}" for k, v in self.skip_counts().items())
                + ")"
            )
            for s in self.skips[:5]:
                lines.append(f"  - [{s.reason}] {s.detail}")
            if len(self.skips) > 5:
                lines.append(f"  ... {len(self.skips) - 5} more in {self.name}")
        if self.internal_errors:
            lines.append(
                f"INTERNAL ERRORS: {self.internal_errors} file(s) failed on an unexpected error "
                f"(a bug; details in {self.name}, please report them)"
            )
        if self.stale:
            lines.append(
                f"stale: {len(self.stale)} {self.output_format} file(s) from an earlier run are "
                "in the folder (listed in the report; --clean removes them)"
            )
        if self.removed:
            lines.append(f"removed: {len(self.removed)} stale file(s) of an earlier run")
        if self.reused:
            lines.append(f"resumed: {len(self.reused)} file(s) of an earlier run reused unchanged")
        if self.shard is not None:
            lines.append(
                f"shard {self.shard['index'] + 1} of {self.shard['count']}: "
                f"{len(self.shard['planned'])} of {len(self.shard['plan'])} planned file(s); "
                "merge the shards with: mdai-fastexport merge-reports OUT"
            )
        if self.warnings:
            lines.append(f"warnings: {len(self.warnings)}")
            for w in self.warnings[:3]:
                lines.append(f"  - {w}")
            if len(self.warnings) > 3:
                lines.append(f"  ... {len(self.warnings) - 3} more in {self.name}")
        return "\n".join(lines)
