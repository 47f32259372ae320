"""The run report: what was written and what was skipped, and why.

A :class:`RunReport` is returned by every export function and written next to
the outputs as ``report.json`` (the manifest). Skips carry a machine-readable
``reason`` code and a human-readable ``detail``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import orjson


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
    """

    output_format: str
    output_dir: str
    files: list[WrittenFile] = field(default_factory=list)
    skips: list[Skip] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    inputs: dict[str, int] = field(default_factory=dict)
    internal_errors: int = 0

    @property
    def ok(self) -> bool:
        """True when nothing was skipped."""
        return not self.skips

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
            "inputs": self.inputs,
            "files": [dataclasses.asdict(f) for f in self.files],
            "skip_counts": self.skip_counts(),
            "skips": [dataclasses.asdict(s) for s in self.skips],
            "warnings": self.warnings,
            "internal_errors": self.internal_errors,
        }

    def to_json(self) -> bytes:
        """The manifest as indented UTF-8 JSON."""
        return orjson.dumps(self.to_dict(), option=orjson.OPT_INDENT_2)

    def summary(self) -> str:
        """A one-screen human summary."""
        lines = [
            f"{self.output_format}: {len(self.files)} file(s) written to {self.output_dir}",
        ]
        if self.inputs:
            lines.append("inputs: " + ", ".join(f"{k}={v}" for k, v in self.inputs.items()))
        if self.skips:
            lines.append(
                f"skipped: {len(self.skips)} ("
                + ", ".join(f"{k}: {v}" for k, v in self.skip_counts().items())
                + ")"
            )
            for s in self.skips[:5]:
                lines.append(f"  - [{s.reason}] {s.detail}")
            if len(self.skips) > 5:
                lines.append(f"  ... {len(self.skips) - 5} more in report.json")
        if self.warnings:
            lines.append(f"warnings: {len(self.warnings)}")
            for w in self.warnings[:3]:
                lines.append(f"  - {w}")
        return "\n".join(lines)
