"""Step 2 of the data path: turn the parsed exports into compact indices.

* :class:`Label` per label (with its group, scope, mode, colour and parent).
* :class:`Instance` per SOP Instance UID in the metadata export (raw header
  tags kept as the export gave them; converted to pydicom only when needed).
* :class:`AnnotationTable`: the annotations as columns, and their geometry in
  one :class:`Geometry` of flat numpy arrays (vertices + offsets), so a work
  item can carry a subset to a worker process cheaply.

Every annotation that cannot be exported is recorded as a
:class:`~mdai_fastexport.report.Skip` with a precise reason; nothing raises
for a single bad annotation.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import InputMismatchError
from .report import Skip

#: Annotation modes that carry geometry and can be rasterised.
LOCAL_MODES = ("bbox", "polygon", "freeform", "line", "location", "ellipse", "mask")
SCOPES = ("EXAM", "SERIES", "INSTANCE")

# Shape kinds, mirrored from the Rust extension (checked at import in raster.py).
KIND_POLYGON = 0
KIND_STROKE = 1
KIND_DISC = 2
KIND_ELLIPSE = 3
KIND_MASK = 4


@dataclass(frozen=True, slots=True)
class RasterOptions:
    """Parameters of the shapes that have no area of their own.

    Defaults match the stroke and dot sizes of MD.ai's original exporter
    (``cv2`` line thickness 12, circle radius 7).

    Attributes:
        line_width: Width in pixels of the stroke drawn for ``line`` annotations.
        point_radius: Radius in pixels of the disc drawn for ``location`` annotations.
    """

    line_width: float = 12.0
    point_radius: float = 7.0


@dataclass(frozen=True, slots=True)
class Label:
    """One MD.ai label, flattened with its group."""

    id: str
    name: str
    group_id: str
    group_name: str
    scope: str
    type: str
    mode: str | None
    color: str | None
    description: str
    radlex_ids: tuple[str, ...]
    parent_id: str | None
    order: int

    @property
    def is_local(self) -> bool:
        """True for INSTANCE-scope labels with geometry (the ones SEG exports)."""
        return self.scope == "INSTANCE" and self.mode in LOCAL_MODES


@dataclass(frozen=True, slots=True)
class Instance:
    """One instance of the metadata export."""

    dataset_id: str | None
    study_uid: str
    series_uid: str
    sop_uid: str
    tags: Mapping[str, Any]

    @property
    def sop_class_uid(self) -> str | None:
        v = self.tags.get("SOPClassUID")
        return str(v) if v else None

    @property
    def instance_number(self) -> int:
        try:
            return int(float(self.tags.get("InstanceNumber") or 0))
        except (TypeError, ValueError):
            return 0

    @property
    def number_of_frames(self) -> int:
        try:
            return max(1, int(float(self.tags.get("NumberOfFrames") or 1)))
        except (TypeError, ValueError):
            return 1


@dataclass(slots=True)
class Geometry:
    """Geometry of many annotations as flat arrays.

    Annotation ``a`` owns rings ``ann_ring_offsets[a]:ann_ring_offsets[a+1]``;
    ring ``r`` owns ``vertices[ring_vertex_offsets[r]:ring_vertex_offsets[r+1]]``
    (``x`` = column, ``y`` = row, pixel-corner origin). ``kind``/``param`` per
    annotation follow the Rust extension's shape kinds.
    """

    kind: np.ndarray  # uint8 (n,)
    param: np.ndarray  # float64 (n,)
    ann_ring_offsets: np.ndarray  # uint64 (n+1,)
    ring_vertex_offsets: np.ndarray  # uint64 (n_rings+1,)
    ring_is_hole: np.ndarray  # bool (n_rings,)
    vertices: np.ndarray  # float64 (n_vertices, 2)

    def __len__(self) -> int:
        return int(self.kind.shape[0])

    def rings(self, a: int) -> list[tuple[np.ndarray, bool]]:
        """The rings of annotation ``a`` as ``(vertices, is_hole)`` pairs."""
        out = []
        for r in range(int(self.ann_ring_offsets[a]), int(self.ann_ring_offsets[a + 1])):
            v0, v1 = int(self.ring_vertex_offsets[r]), int(self.ring_vertex_offsets[r + 1])
            out.append((self.vertices[v0:v1], bool(self.ring_is_hole[r])))
        return out

    def take(self, idx: Iterable[int]) -> Geometry:
        """A new Geometry holding annotations ``idx`` in that order."""
        idx = np.asarray(list(idx), dtype=np.int64)
        aro = self.ann_ring_offsets.astype(np.int64)
        rvo = self.ring_vertex_offsets.astype(np.int64)
        ring_counts = aro[idx + 1] - aro[idx]
        ring_idx = (
            np.concatenate([np.arange(aro[a], aro[a + 1]) for a in idx])
            if len(idx)
            else np.zeros(0, np.int64)
        ).astype(np.int64)
        vert_counts = rvo[ring_idx + 1] - rvo[ring_idx]
        vert_idx = (
            np.concatenate([np.arange(rvo[r], rvo[r + 1]) for r in ring_idx])
            if len(ring_idx)
            else np.zeros(0, np.int64)
        ).astype(np.int64)
        return Geometry(
            kind=self.kind[idx],
            param=self.param[idx],
            ann_ring_offsets=np.concatenate([[0], np.cumsum(ring_counts)]).astype(np.uint64),
            ring_vertex_offsets=np.concatenate([[0], np.cumsum(vert_counts)]).astype(np.uint64),
            ring_is_hole=self.ring_is_hole[ring_idx],
            vertices=np.ascontiguousarray(self.vertices[vert_idx].reshape(-1, 2)),
        )


@dataclass(slots=True)
class AnnotationTable:
    """Exportable annotations as columns (row ``i`` = one annotation).

    Global annotations (no geometry) have no rings in :attr:`geometry`.
    """

    ids: list[str]
    dataset_ids: list[str]
    label_ids: list[str]
    study_uids: list[str]
    series_uids: list[str | None]
    sop_uids: list[str | None]
    frames: list[int | None]  # 0-based frame index for multi-frame instances
    annotators: list[str]
    notes: list[str | None]
    times: list[str | None]  # updatedAt or createdAt (ISO 8601)
    geometry: Geometry

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(slots=True)
class ExportIndex:
    """Everything the planner needs, built once per run."""

    project_name: str
    labels: dict[str, Label]
    users: dict[str, dict[str, str]]
    instances: dict[str, Instance]
    series_instances: dict[str, list[str]]  # series UID -> SOP UIDs in instance order
    study_series: dict[str, list[str]]  # study UID -> series UIDs (metadata order)
    annotations: AnnotationTable
    skips: list[Skip] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


class _GeometryProblem(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def _finite(*values: Any) -> list[float]:
    out = []
    for v in values:
        if v is None or isinstance(v, bool) or not isinstance(v, (int, float)):
            raise _GeometryProblem("invalid_geometry", f"expected a number, got {v!r}")
        f = float(v)
        if not math.isfinite(f):
            raise _GeometryProblem("non_finite_vertex", f"non-finite coordinate {v!r}")
        out.append(f)
    return out


def _ring(points: Any, what: str) -> np.ndarray:
    if not isinstance(points, list):
        raise _GeometryProblem("invalid_geometry", f"{what} is {type(points).__name__}, not a list")
    flat: list[float] = []
    for p in points:
        if not isinstance(p, (list, tuple)) or len(p) < 2:
            raise _GeometryProblem("invalid_geometry", f"{what} has a malformed vertex {p!r}")
        flat.extend(_finite(p[0], p[1]))
    if not flat:
        raise _GeometryProblem("invalid_geometry", f"{what} has no vertices")
    return np.asarray(flat, dtype=np.float64).reshape(-1, 2)


def parse_geometry(
    mode: str, data: Any, options: RasterOptions
) -> tuple[int, float, list[tuple[np.ndarray, bool]]]:
    """Parse one annotation's ``data`` into ``(kind, param, rings)``.

    Raises:
        _GeometryProblem: with a reason code (``null_data``, ``invalid_geometry``,
            ``non_finite_vertex``) and a sentence.
    """
    if data is None:
        raise _GeometryProblem("null_data", f"{mode} annotation has null data")
    if not isinstance(data, dict):
        raise _GeometryProblem("invalid_geometry", f"data is {type(data).__name__}, not an object")
    if mode == "bbox":
        x, y, w, h = _finite(data.get("x"), data.get("y"), data.get("width"), data.get("height"))
        ring = np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], dtype=np.float64)
        return KIND_POLYGON, 0.0, [(ring, False)]
    if mode in ("polygon", "freeform"):
        return KIND_POLYGON, 0.0, [(_ring(data.get("vertices"), "vertices"), False)]
    if mode == "line":
        return KIND_STROKE, options.line_width, [(_ring(data.get("vertices"), "vertices"), False)]
    if mode == "location":
        x, y = _finite(data.get("x"), data.get("y"))
        return KIND_DISC, options.point_radius, [(np.array([[x, y]], dtype=np.float64), False)]
    if mode == "ellipse":
        cx, cy, rx, ry = _finite(data.get("cx"), data.get("cy"), data.get("rx"), data.get("ry"))
        if rx <= 0 or ry <= 0:
            raise _GeometryProblem(
                "invalid_geometry", f"ellipse radii must be > 0 (rx={rx}, ry={ry})"
            )
        return KIND_ELLIPSE, 0.0, [(np.array([[cx, cy], [rx, ry]], dtype=np.float64), False)]
    if mode == "mask":
        fg = data.get("foreground") or []
        bg = data.get("background") or []
        if not isinstance(fg, list) or not isinstance(bg, list):
            raise _GeometryProblem("invalid_geometry", "mask foreground/background must be lists")
        rings = [(_ring(p, f"foreground[{i}]"), False) for i, p in enumerate(fg)]
        rings += [(_ring(p, f"background[{i}]"), True) for i, p in enumerate(bg)]
        if not fg:
            raise _GeometryProblem("null_data", "mask annotation has no foreground polygon")
        return KIND_POLYGON, 0.0, rings
    raise _GeometryProblem("invalid_geometry", f"unknown annotation mode {mode!r}")


def _labels(annotation_export: Mapping[str, Any]) -> dict[str, Label]:
    labels: dict[str, Label] = {}
    order = 0
    for g in annotation_export.get("labelGroups") or []:
        if not isinstance(g, dict):
            continue
        gid = str(g.get("id") or "")
        gname = str(g.get("name") or gid or "(unnamed group)")
        for lab in g.get("labels") or []:
            if not isinstance(lab, dict) or not lab.get("id"):
                continue
            scope = str(lab.get("scope") or "INSTANCE").upper()
            mode = lab.get("annotationMode")
            ltype = str(lab.get("type") or ("LOCAL" if mode else "GLOBAL")).upper()
            radlex = lab.get("radlexTagIds") or []
            labels[str(lab["id"])] = Label(
                id=str(lab["id"]),
                name=str(lab.get("name") or lab["id"]),
                group_id=gid,
                group_name=gname,
                scope=scope if scope in SCOPES else "INSTANCE",
                type=ltype,
                mode=str(mode) if mode and ltype == "LOCAL" else None,
                color=lab.get("color") if isinstance(lab.get("color"), str) else None,
                description=str(lab.get("description") or ""),
                radlex_ids=tuple(str(r) for r in radlex if isinstance(r, str)),
                parent_id=str(lab["parentId"]) if lab.get("parentId") else None,
                order=order,
            )
            order += 1
    return labels


def _instances(
    metadata_export: Mapping[str, Any],
) -> tuple[dict[str, Instance], dict[str, list[str]], dict[str, list[str]], int]:
    instances: dict[str, Instance] = {}
    study_series: dict[str, list[str]] = {}
    bad = 0
    for d in metadata_export.get("datasets") or []:
        did = d.get("id")
        for m in d.get("dicomMetadata") or []:
            if not isinstance(m, dict):
                bad += 1
                continue
            tags = m.get("dicomTags") if isinstance(m.get("dicomTags"), dict) else {}
            st = m.get("StudyInstanceUID") or tags.get("StudyInstanceUID")
            se = m.get("SeriesInstanceUID") or tags.get("SeriesInstanceUID")
            sop = m.get("SOPInstanceUID") or tags.get("SOPInstanceUID")
            if not (st and se and sop):
                bad += 1
                continue
            st, se, sop = str(st), str(se), str(sop)
            instances[sop] = Instance(did and str(did), st, se, sop, tags)
            lst = study_series.setdefault(st, [])
            if se not in lst:
                lst.append(se)
    series_instances: dict[str, list[str]] = {}
    for inst in instances.values():
        series_instances.setdefault(inst.series_uid, []).append(inst.sop_uid)
    for sops in series_instances.values():
        sops.sort(key=lambda s: (instances[s].instance_number, s))
    return instances, series_instances, study_series, bad


def _first(uids: list[str], n: int = 3) -> str:
    shown = ", ".join(uids[:n])
    return shown + (f" (and {len(uids) - n} more)" if len(uids) > n else "")


def build_index(
    annotation_export: Mapping[str, Any],
    metadata_export: Mapping[str, Any],
    options: RasterOptions | None = None,
) -> ExportIndex:
    """Build the indices and validate the pair of exports.

    Annotations whose label, study, series or instance is missing, whose
    geometry is null/invalid/non-finite, or whose frame number is out of range
    become skips; out-of-bounds vertices become warnings (the fill is clipped).

    Raises:
        InputMismatchError: there are annotations but none of their studies is
            in the metadata export (the two files are from different projects or
            datasets).
    """
    options = options or RasterOptions()
    labels = _labels(annotation_export)
    users: dict[str, dict[str, str]] = {}
    for u in annotation_export.get("users") or []:
        if isinstance(u, dict) and u.get("id"):
            users[str(u["id"])] = {
                k: str(u[k]) for k in ("name", "email") if isinstance(u.get(k), str) and u[k]
            }
    instances, series_instances, study_series, bad_meta = _instances(metadata_export)

    skips: list[Skip] = []
    warnings: list[str] = []
    if bad_meta:
        warnings.append(
            f"{bad_meta} metadata entr{'y' if bad_meta == 1 else 'ies'} without "
            "Study/Series/SOP Instance UID ignored"
        )
    cols: dict[str, list[Any]] = {
        k: []
        for k in (
            "ids dataset_ids label_ids study_uids series_uids sop_uids frames annotators "
            "notes times"
        ).split()
    }
    kinds: list[int] = []
    params: list[float] = []
    ring_counts: list[int] = []
    ring_arrays: list[np.ndarray] = []
    ring_holes: list[bool] = []
    missing: dict[str, list[str]] = {"study": [], "series": [], "instance": []}
    out_of_bounds: list[str] = []
    n_total = 0
    annotated_studies: set[str] = set()
    found_studies: set[str] = set()

    for d in annotation_export.get("datasets") or []:
        if not isinstance(d, dict):
            continue
        did = str(d.get("id") or "")
        for a in d.get("annotations") or []:
            n_total += 1
            if not isinstance(a, dict):
                skips.append(Skip("invalid_annotation", f"annotation entry is {type(a).__name__}"))
                continue
            aid = str(a.get("id") or f"#{n_total}")
            st, se, sop = (
                a.get("StudyInstanceUID"),
                a.get("SeriesInstanceUID"),
                a.get("SOPInstanceUID"),
            )
            st, se, sop = (str(x) if x else None for x in (st, se, sop))

            def skip(
                reason: str,
                detail: str,
                aid: str = aid,
                st: str | None = st,
                se: str | None = se,
                sop: str | None = sop,
            ) -> None:
                skips.append(Skip(reason, f"annotation {aid}: {detail}", aid, st, se, sop))

            lab = labels.get(str(a.get("labelId")))
            if lab is None:
                skip("unknown_label", f"label {a.get('labelId')!r} is not in labelGroups")
                continue
            if not st:
                skip("missing_uid", "no StudyInstanceUID")
                continue
            annotated_studies.add(st)
            if st not in study_series:
                missing["study"].append(st)
                skip("missing_study", f"study {st} is not in the metadata export")
                continue
            found_studies.add(st)
            if lab.scope == "INSTANCE" and sop in instances:
                # the instance's own series is authoritative (and fills a missing one)
                se = instances[sop].series_uid
            if lab.scope in ("SERIES", "INSTANCE") and not se:
                skip(
                    "missing_uid", f"{lab.scope}-scope label {lab.name!r} without SeriesInstanceUID"
                )
                continue
            if se and se not in series_instances:
                missing["series"].append(se)
                skip("missing_series", f"series {se} is not in the metadata export")
                continue
            if lab.scope == "INSTANCE":
                if not sop:
                    skip("missing_uid", f"INSTANCE-scope label {lab.name!r} without SOPInstanceUID")
                    continue
                if sop not in instances:
                    missing["instance"].append(sop)
                    skip("missing_instance", f"instance {sop} is not in the metadata export")
                    continue
            frame = a.get("frameNumber")
            frame_idx: int | None = None
            if lab.is_local and frame is None and sop and instances[sop].number_of_frames > 1:
                skip(
                    "missing_frame_number",
                    f"instance {sop} has {instances[sop].number_of_frames} frames but the "
                    "annotation has no frameNumber",
                )
                continue
            if lab.scope == "INSTANCE" and frame is not None and sop:
                try:
                    frame_idx = int(frame)
                except (TypeError, ValueError):
                    skip("invalid_frame", f"frameNumber {frame!r} is not an integer")
                    continue
                nf = instances[sop].number_of_frames
                if not 0 <= frame_idx < nf:
                    skip(
                        "frame_out_of_range",
                        f"frameNumber {frame_idx} outside 0..{nf - 1} of instance {sop}",
                    )
                    continue
                if nf == 1:
                    frame_idx = None
            rings: list[tuple[np.ndarray, bool]] = []
            kind, param = KIND_POLYGON, 0.0
            if lab.is_local:
                try:
                    kind, param, rings = parse_geometry(lab.mode or "", a.get("data"), options)
                except _GeometryProblem as gp:
                    skip(gp.reason, gp.detail)
                    continue
                w = _dim(a.get("width"), instances[sop].tags.get("Columns") if sop else None)
                h = _dim(a.get("height"), instances[sop].tags.get("Rows") if sop else None)
                if (
                    w
                    and h
                    and any(
                        (
                            r[:, 0].min() < 0
                            or r[:, 1].min() < 0
                            or r[:, 0].max() > w
                            or r[:, 1].max() > h
                        )
                        for r, _ in rings
                        if kind != KIND_ELLIPSE
                    )
                ):
                    out_of_bounds.append(aid)
            cols["ids"].append(aid)
            cols["dataset_ids"].append(did)
            cols["label_ids"].append(lab.id)
            cols["study_uids"].append(st)
            cols["series_uids"].append(se if lab.scope != "EXAM" else None)
            cols["sop_uids"].append(sop if lab.scope == "INSTANCE" else None)
            cols["frames"].append(frame_idx)
            cols["annotators"].append(str(a.get("createdById") or "unknown"))
            note = a.get("note")
            cols["notes"].append(str(note) if note not in (None, "") else None)
            t = a.get("updatedAt") or a.get("createdAt")
            cols["times"].append(str(t) if t else None)
            kinds.append(kind)
            params.append(param)
            ring_counts.append(len(rings))
            for r, hole in rings:
                ring_arrays.append(r)
                ring_holes.append(hole)

    if annotated_studies and not found_studies:
        raise InputMismatchError(
            "the metadata export does not describe the annotation export: none of the "
            f"{len(annotated_studies)} annotated studies is in it (first missing: "
            f"{_first(sorted(annotated_studies))}); export both files from the same project "
            "and dataset"
        )
    for what, uids in missing.items():
        if uids:
            uniq = sorted(set(uids))
            warnings.append(
                f"{len(uids)} annotation(s) reference {len(uniq)} {what} UID(s) missing from the "
                f"metadata export: {_first(uniq)}"
            )
    if out_of_bounds:
        warnings.append(
            f"{len(out_of_bounds)} annotation(s) have vertices outside the image; their masks are "
            f"clipped to the image: {_first(out_of_bounds)}"
        )

    vert_counts = [len(r) for r in ring_arrays]
    geometry = Geometry(
        kind=np.asarray(kinds, dtype=np.uint8),
        param=np.asarray(params, dtype=np.float64),
        ann_ring_offsets=np.concatenate([[0], np.cumsum(ring_counts, dtype=np.int64)]).astype(
            np.uint64
        ),
        ring_vertex_offsets=np.concatenate([[0], np.cumsum(vert_counts, dtype=np.int64)]).astype(
            np.uint64
        ),
        ring_is_hole=np.asarray(ring_holes, dtype=bool),
        vertices=(
            np.ascontiguousarray(np.concatenate(ring_arrays), dtype=np.float64)
            if ring_arrays
            else np.zeros((0, 2), np.float64)
        ),
    )
    table = AnnotationTable(geometry=geometry, **cols)
    return ExportIndex(
        project_name=str(annotation_export.get("name") or metadata_export.get("name") or "MD.ai"),
        labels=labels,
        users=users,
        instances=instances,
        series_instances=series_instances,
        study_series=study_series,
        annotations=table,
        skips=skips,
        warnings=warnings,
        counts={
            "annotations": n_total,
            "exportable_annotations": len(table),
            "labels": len(labels),
            "instances": len(instances),
            "series": len(series_instances),
            "studies": len(study_series),
        },
    )


def _dim(*candidates: Any) -> int | None:
    for c in candidates:
        try:
            v = int(float(c))
        except (TypeError, ValueError):
            continue
        if v > 0:
            return v
    return None
