"""Step 2 of the data path: turn the parsed exports into compact indices.

* :mod:`.labels`: labels and their groups (scope, mode, colour, parent).
* :mod:`.instances`: the metadata export's instances and their hierarchy.
* :mod:`.geometry`: annotation geometry as flat numpy arrays.
* :mod:`.annotations`: the annotations as columns, each one checked.

:func:`build_index` runs them and returns an :class:`ExportIndex`. Problems
with single annotations are skips with a reason; problems with the inputs as a
whole raise (nothing is written).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import InputFormatError, InputMismatchError
from ..jsonscan import LazyArray
from ..report import Skip
from .annotations import AnnotationIndexer, AnnotationTable, Annotator
from .geometry import (
    KIND_DISC,
    KIND_ELLIPSE,
    KIND_MASK,
    KIND_POLYGON,
    KIND_STROKE,
    Geometry,
    GeometryProblem,
    RasterOptions,
    parse_geometry,
)
from .instances import Instance, parse_metadata
from .labels import LOCAL_MODES, SCOPES, Label, parse_labels

__all__ = [
    "KIND_DISC",
    "KIND_ELLIPSE",
    "KIND_MASK",
    "KIND_POLYGON",
    "KIND_STROKE",
    "LOCAL_MODES",
    "SCOPES",
    "AnnotationTable",
    "Annotator",
    "ExportIndex",
    "Geometry",
    "GeometryProblem",
    "Instance",
    "Label",
    "RasterOptions",
    "build_index",
    "parse_geometry",
]


@dataclass(slots=True)
class ExportIndex:
    """Everything the planner needs, built once per run."""

    project_name: str
    labels: dict[str, Label]
    annotators: dict[str, Annotator]
    instances: dict[str, Instance]
    series_instances: dict[str, list[str]]  # series UID -> SOP UIDs in instance order
    study_series: dict[str, list[str]]  # study UID -> series UIDs by Series Number
    annotations: AnnotationTable
    skips: list[Skip] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


def _first(uids: list[str] | set[str], n: int = 3) -> str:
    items = sorted(uids)
    shown = ", ".join(items[:n])
    return shown + (f" (and {len(items) - n} more)" if len(items) > n else "")


def _users(annotation_export: Mapping[str, Any], warnings: list[str]) -> dict[str, dict[str, str]]:
    users: dict[str, dict[str, str]] = {}
    raw = annotation_export.get("users")
    if raw is not None and not isinstance(raw, list):
        warnings.append(f"'users' is {type(raw).__name__}, not a list: annotators shown by id")
        return users
    for u in raw or []:
        if isinstance(u, Mapping) and isinstance(u.get("id"), str) and u["id"]:
            users[u["id"]] = {
                k: u[k] for k in ("name", "email") if isinstance(u.get(k), str) and u[k].strip()
            }
    return users


def build_index(
    annotation_export: Mapping[str, Any],
    metadata_export: Mapping[str, Any],
    options: RasterOptions | None = None,
    *,
    frame_base: int = 0,
) -> ExportIndex:
    """Build the indices and validate the pair of exports.

    Args:
        annotation_export: The parsed annotation export.
        metadata_export: The parsed DICOM metadata export.
        options: Stroke width / point radius for lines and locations.
        frame_base: 0 (MD.ai's convention) or 1, for exports whose
            ``frameNumber`` counts from 1.

    Raises:
        InputFormatError: the metadata export contradicts itself (one SOP
            Instance UID in two series or studies).
        InputMismatchError: there are annotations but none of their studies is
            in the metadata export (the files are from different projects).
    """
    if frame_base not in (0, 1):
        raise ValueError(f"frame_base must be 0 or 1, not {frame_base!r}")
    options = options or RasterOptions()
    warnings: list[str] = []
    labels, label_warnings = parse_labels(annotation_export)
    warnings += label_warnings
    users = _users(annotation_export, warnings)
    meta = parse_metadata(metadata_export)
    if meta.conflicts:
        raise InputFormatError(
            f"the metadata export contradicts itself ({len(meta.conflicts)} conflict(s)): "
            + "; ".join(meta.conflicts[:3])
            + ("; ..." if len(meta.conflicts) > 3 else "")
        )
    warnings += meta.warnings

    ix = AnnotationIndexer(labels, meta, options, frame_base)
    datasets = annotation_export.get("datasets")
    for d in datasets if isinstance(datasets, list) else []:
        if not isinstance(d, Mapping):
            warnings.append(f"a datasets entry is {type(d).__name__}, not an object: ignored")
            continue
        did = str(d.get("id") or "")
        dtype = d.get("type")
        video = did in meta.video_datasets or (isinstance(dtype, str) and dtype.upper() == "VIDEO")
        anns = d.get("annotations")
        if anns is None:
            continue
        if not isinstance(anns, (list, LazyArray)):
            warnings.append(f"dataset {did!r}: 'annotations' is {type(anns).__name__}, not a list")
            continue
        for a in anns:
            ix.add(a, did, video)
    table = ix.finish()

    if ix.annotated_studies and not ix.found_studies:
        raise InputMismatchError(
            "the metadata export does not describe the annotation export: none of the "
            f"{len(ix.annotated_studies)} annotated studies is in it (first missing: "
            f"{_first(ix.annotated_studies)}); export both files from the same project "
            "and dataset"
        )
    for what, uids in ix.missing.items():
        if uids:
            warnings.append(
                f"annotations reference {len(uids)} {what} UID(s) missing from the metadata "
                f"export: {_first(uids)}"
            )
    if ix.out_of_bounds:
        warnings.append(
            f"{len(ix.out_of_bounds)} annotation(s) have vertices outside the image (SEG clips "
            f"their masks to the image, SR keeps the coordinates): {_first(ix.out_of_bounds)}"
        )
    if ix.duplicate_ids:
        warnings.append(
            f"{len(ix.duplicate_ids)} annotation id(s) occur more than once (each occurrence is "
            f"exported with its own tracking UID): {_first(ix.duplicate_ids)}"
        )
    warnings += ix.frame_base_warnings()

    annotators: dict[str, Annotator] = {}
    for key in ix.user_ids:
        u = users.get(key, {})
        annotators[key] = Annotator(key, u.get("name"), u.get("email"))
    for key in ix.model_ids:
        annotators[key] = Annotator(key, f"MD.ai model {key}", None, model_id=key)

    n_local = sum(1 for lid in table.label_ids if labels[lid].is_local)
    name = annotation_export.get("name") or metadata_export.get("name")
    return ExportIndex(
        project_name=name if isinstance(name, str) and name.strip() else "MD.ai",
        labels=labels,
        annotators=annotators,
        instances=meta.instances,
        series_instances=meta.series_instances,
        study_series=meta.study_series,
        annotations=table,
        skips=ix.skips,
        warnings=warnings,
        counts={
            "annotations": ix.total,
            "exportable_annotations": len(table),
            "local_annotations": n_local,
            "global_annotations": len(table) - n_local,
            "labels": len(labels),
            "instances": len(meta.instances),
            "series": len(meta.series_instances),
            "studies": len(meta.study_series),
        },
    )
