"""Deterministic synthetic MD.ai exports for tests, benchmarks and the demo.

The DICOM headers are real ones, bundled in ``headers/`` (see its SOURCES.md;
no download, no test-only package): ``CT_small`` (CT with a frame of
reference), ``RG3_UNCI`` (CR radiograph, no frame of reference, resized to an
odd 301x257 so ``rows * cols`` is not a multiple of 8) and ``eCT_Supplemental``
(Enhanced CT, 2 frames of 512x512 with functional groups). UIDs, ids and
timestamps are derived from the arguments, so the same call returns
byte-identical JSON.

What real exports hold, on by default (FORMATS.md): labels of scope ``STUDY``;
the multi-frame instance's pixel measures and orientation only in the
per-frame functional groups (as Philips and Siemens write them); a series
whose slices repeat their positions (two echoes); an annotator who only made
study labels; annotations made by a model (``modelId``). ``frameNumber`` is
the 0-based index of the frame in a multi-frame instance.
"""

from __future__ import annotations

import copy
import hashlib
import math
import os
import random
from pathlib import Path
from typing import Any

import orjson
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

_BINARY_VRS = {"OB", "OW", "OD", "OF", "OL", "OV", "UN", "OB or OW"}
_DATE = "2026-11-25"


def dataset_to_tags(ds: Dataset) -> dict[str, Any]:
    """Convert a pydicom header to the metadata export's ``dicomTags`` form.

    Keyword → value; pixel data, private and keyword-less elements dropped;
    DS/IS as numbers, multi-valued as lists, sequences as lists of dicts,
    other binary values as ``"b'...'"`` strings.
    """
    out: dict[str, Any] = {}
    for el in ds:
        kw = el.keyword
        if (
            not kw
            or el.tag.is_private
            or kw in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
        ):
            continue
        if el.VR == "SQ":
            out[kw] = [dataset_to_tags(item) for item in el.value]
            continue
        if el.VR in _BINARY_VRS:
            out[kw] = str(bytes(el.value)) if el.value is not None else None
            continue
        out[kw] = _value(el.VR, el.value)
    return out


def _scalar(vr: str, v: Any) -> Any:
    if v is None or v == "":
        return None if vr in ("DS", "IS") else ""
    if vr == "DS":
        return float(v)
    if vr == "IS":
        return int(v)
    if isinstance(v, (int, float, str)):
        return v
    return str(v)


def _value(vr: str, v: Any) -> Any:
    if isinstance(v, (MultiValue, list, tuple)):
        return [_scalar(vr, x) for x in v]
    return _scalar(vr, v)


def _header(name: str) -> dict[str, Any]:
    """A bundled header (``headers/<name>.json``) as ``dicomTags``."""
    return orjson.loads((Path(__file__).parent / "headers" / f"{name}.json").read_bytes())


def _per_frame_only(tags: dict[str, Any]) -> None:
    """Move pixel measures and orientation from the shared functional groups into every
    frame, as Philips and Siemens Enhanced MR headers have them."""
    shared = tags["SharedFunctionalGroupsSequence"][0]
    moved = {
        k: shared.pop(k)
        for k in ("PixelMeasuresSequence", "PlaneOrientationSequence")
        if k in shared
    }
    for frame in tags["PerFrameFunctionalGroupsSequence"]:
        frame.update(copy.deepcopy(moved))


class _Ids:
    def __init__(self, seed: int) -> None:
        self.seed = seed

    def digest(self, *parts: object) -> bytes:
        return hashlib.sha256(repr((self.seed, *parts)).encode()).digest()

    def uid(self, *parts: object) -> str:
        return "2.25." + str(int.from_bytes(self.digest("uid", *parts)[:16], "big"))

    def short(self, prefix: str, *parts: object) -> str:
        return f"{prefix}_{self.digest(prefix, *parts).hex()[:6]}"


# (group, name, scope, mode, radlex, parent name)
_LABELS = [
    ("Default group", "Normal exam", "STUDY", None, [], None),
    ("Default group", "Motion artifact", "SERIES", None, [], None),
    ("Default group", "Key image", "INSTANCE", None, [], None),
    ("Default group", "Lesion", "INSTANCE", "polygon", ["RID3874"], None),
    ("Default group", "Malignant", "INSTANCE", "polygon", [], "Lesion"),
    ("Default group", "Box", "INSTANCE", "bbox", [], None),
    ("Default group", "Outline", "INSTANCE", "freeform", [], None),
    ("Default group", "Measure", "INSTANCE", "line", [], None),
    ("Default group", "Marker", "INSTANCE", "location", [], None),
    ("Default group", "Cyst", "INSTANCE", "ellipse", [], None),
    ("Default group", "Organ mask", "INSTANCE", "mask", [], None),
    ("Findings", "Follow-up recommended", "STUDY", None, [], None),
    ("Findings", "Contrast phase", "SERIES", None, [], None),
    ("Findings", "Arterial phase", "SERIES", None, [], "Contrast phase"),
    ("Findings", "Nodule", "INSTANCE", "bbox", ["RID3875"], None),
    ("Findings", "Fracture line", "INSTANCE", "line", [], None),
    ("Findings", "Region", "INSTANCE", "mask", [], None),
    ("Findings", "Spot", "INSTANCE", "location", [], None),
    ("Findings", "Mass", "INSTANCE", "ellipse", [], None),
    ("Findings", "Area", "INSTANCE", "polygon", [], None),
    ("Findings", "Trace", "INSTANCE", "freeform", [], None),
]
_COLORS = ["#e6194b", "#3cb44b", "#ffe119", "#4363d8", "#f58231", "#911eb4", "#46f0f0"]


class _Geometry:
    """Random shapes inside a ``rows x cols`` image."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def _num(self, v: float) -> float | int:
        # mix integer and fractional coordinates, as real exports do
        return round(v) if self.rng.random() < 0.4 else round(v, 3)

    def _centre(self, rows: int, cols: int, margin: float) -> tuple[float, float]:
        r = self.rng
        return r.uniform(margin, cols - margin), r.uniform(margin, rows - margin)

    def ring(self, rows: int, cols: int, n: int, wobble: float = 0.35) -> list[list[float]]:
        size = min(rows, cols)
        rad = self.rng.uniform(0.06, 0.18) * size
        cx, cy = self._centre(rows, cols, rad + 1)
        pts = []
        for k in range(n):
            a = 2 * math.pi * k / n
            rr = rad * (1 + self.rng.uniform(-wobble, wobble))
            pts.append([self._num(cx + rr * math.cos(a)), self._num(cy + rr * math.sin(a))])
        return pts

    def data(self, mode: str, rows: int, cols: int, serial: int) -> dict[str, Any]:
        r = self.rng
        if mode == "bbox":
            w, h = r.uniform(4, cols / 4), r.uniform(4, rows / 4)
            return {
                "x": self._num(r.uniform(0, cols - w)),
                "y": self._num(r.uniform(0, rows - h)),
                "width": self._num(w),
                "height": self._num(h),
            }
        if mode == "polygon":
            if serial % 7 == 3:  # a self-intersecting bow-tie
                x0, y0 = self._centre(rows, cols, min(rows, cols) / 4)
                d = min(rows, cols) / 6
                pts = [[x0 - d, y0 - d], [x0 + d, y0 + d], [x0 + d, y0 - d], [x0 - d, y0 + d]]
                return {"vertices": [[self._num(x), self._num(y)] for x, y in pts]}
            return {"vertices": self.ring(rows, cols, r.randint(3, 12))}
        if mode == "freeform":
            return {"vertices": self.ring(rows, cols, r.randint(20, 40), wobble=0.15)}
        if mode == "line":
            n = 3 if serial % 3 == 0 else 2
            return {
                "vertices": [
                    [self._num(r.uniform(2, cols - 2)), self._num(r.uniform(2, rows - 2))]
                    for _ in range(n)
                ]
            }
        if mode == "location":
            return {"x": self._num(r.uniform(1, cols - 1)), "y": self._num(r.uniform(1, rows - 1))}
        if mode == "ellipse":
            rx, ry = r.uniform(3, cols / 8), r.uniform(3, rows / 8)
            cx, cy = r.uniform(rx, cols - rx), r.uniform(ry, rows - ry)
            return {
                "cx": self._num(cx),
                "cy": self._num(cy),
                "rx": self._num(rx),
                "ry": self._num(ry),
            }
        if mode == "mask":
            size = min(rows, cols)
            side = r.uniform(0.2, 0.35) * size
            x0, y0 = r.uniform(0, cols - side), r.uniform(0, rows - side)
            fg = [[[x0, y0], [x0 + side, y0], [x0 + side, y0 + side], [x0, y0 + side]]]
            if serial % 2:
                fg.append(self.ring(rows, cols, 8))
            bg = []
            if serial % 3 != 1:
                q = side / 4
                bg.append([[x0 + q, y0 + q], [x0 + 3 * q, y0 + q], [x0 + 2 * q, y0 + 3 * q]])
            rnd = [[[self._num(x), self._num(y)] for x, y in poly] for poly in fg]
            return {
                "foreground": rnd,
                "background": [[[round(x, 3), round(y, 3)] for x, y in p] for p in bg],
            }
        raise ValueError(mode)


def make_exports(
    *,
    seed: int = 0,
    ct_studies: int = 1,
    ct_series: int = 2,
    ct_slices: int = 12,
    ct_size: tuple[int, int] | None = None,
    annotations_per_slice: int = 2,
    with_radiograph: bool = True,
    with_multiframe: bool = True,
    n_annotators: int = 3,
    study_only_annotator: bool = True,
    model_annotations: bool = True,
    per_frame_groups: bool = True,
    repeated_positions: bool = True,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Build ``(annotation_export, metadata_export)`` as JSON-able dicts.

    Args:
        seed: Everything random derives from it.
        ct_studies: CT studies (one patient each); the first keeps the UIDs of a
            one-study export.
        ct_series: CT series in each CT study.
        ct_slices: Slices per CT series.
        ct_size: ``(rows, cols)`` of the CT slices (default: CT_small's 128x128).
        annotations_per_slice: Local annotations on every CT slice.
        with_radiograph: Add a study with one CR radiograph.
        with_multiframe: Add a study with one Enhanced CT multi-frame instance.
        n_annotators: Users; every study is annotated by all of them.
        study_only_annotator: Add a user who made only study labels.
        model_annotations: Add annotations made by a model (``modelId``) on the first CT
            series of each CT study.
        per_frame_groups: Keep the multi-frame instance's pixel measures and orientation
            only in its per-frame functional groups.
        repeated_positions: Add to each CT study a series of two echoes whose slices share
            their positions.
    """
    ids = _Ids(seed)
    rng = random.Random(seed)
    geo = _Geometry(rng)

    users = [
        {"id": ids.short("U", k), "name": name, "email": f"{name.split()[0].lower()}@example.org"}
        for k, name in enumerate(
            ["Ada Lovelace", "Grace Hopper", "Alan Turing", "Emmy Noether"][:n_annotators]
        )
    ]
    # a reader who only gave study labels (added to ``users`` at the end)
    reader = {"id": ids.short("U", "reader"), "name": "Rita Reader", "email": "rita@example.org"}
    groups: dict[str, dict[str, Any]] = {}
    by_name: dict[str, dict[str, Any]] = {}
    for k, (gname, name, scope, mode, radlex, parent) in enumerate(_LABELS):
        g = groups.setdefault(gname, {"id": ids.short("G", gname), "name": gname, "labels": []})
        label = {
            "id": ids.short("L", name),
            "name": name,
            "type": "LOCAL" if mode else "GLOBAL",
            "scope": scope,
            "annotationMode": mode,
            "color": _COLORS[k % len(_COLORS)],
            "description": f"{name} ({scope.lower()} label)",
            "radlexTagIds": radlex,
            "parentId": by_name[parent]["id"] if parent else None,
        }
        g["labels"].append(label)
        by_name[name] = label
    local_cycle = [
        lab for lab in by_name.values() if lab["annotationMode"] and lab["name"] != "Malignant"
    ]

    dataset_id = ids.short("D", "dataset")
    meta_entries: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    studies: list[dict[str, Any]] = []
    counter = [0]

    def stamp() -> str:
        counter[0] += 1
        n = counter[0]
        day, hour, minute, second = 1 + n // 3600 % 28, 8 + n // 60 % 10, n % 60, (7 * n) % 60
        return f"2026-03-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}.000Z"

    def add(
        label: dict[str, Any],
        st: str,
        se: str | None,
        sop: str | None,
        user: dict[str, str],
        data: Any,
        rows: int,
        cols: int,
        frame: int | None = None,
        parent_ann: str | None = None,
        note: str | None = None,
    ) -> dict[str, Any]:
        t = stamp()
        a = {
            "id": ids.short("A", len(annotations)),
            "labelId": label["id"],
            "StudyInstanceUID": st,
            "SeriesInstanceUID": se,
            "SOPInstanceUID": sop,
            "frameNumber": frame,
            "data": data,
            "note": note,
            "createdById": user["id"],
            "updatedById": user["id"],
            "createdAt": t,
            "updatedAt": t,
            "height": rows,
            "width": cols,
            "isImported": False,
            "isPrediction": False,
            "parentId": parent_ann,
        }
        annotations.append(a)
        return a

    series_of: dict[str, str] = {}

    def instance(st: str, se: str, sop: str, tags: dict[str, Any]) -> None:
        uids = {"StudyInstanceUID": st, "SeriesInstanceUID": se, "SOPInstanceUID": sop}
        tags.update(uids)
        meta_entries.append({**uids, "dicomTags": tags})
        series_of[sop] = se

    serial = 0

    def local(
        label: dict[str, Any],
        st: str,
        se: str,
        sop: str,
        user: dict[str, str],
        rows: int,
        cols: int,
        frame: int | None = None,
        note: str | None = None,
    ) -> None:
        nonlocal serial
        data = geo.data(label["annotationMode"], rows, cols, serial)
        add(label, st, se, sop, user, data, rows, cols, frame=frame, note=note)
        serial += 1

    def patient(k: int) -> dict[str, Any]:
        return {
            "PatientName": ["Doe^Jane", "Roe^Richard", "Smith^Ann"][k % 3],
            "PatientID": f"MDAI-{seed:03d}-{k:02d}",
            "PatientBirthDate": f"19{40 + k % 60}{1 + k % 12:02d}15",
            "PatientSex": "FO"[k % 2] if k % 2 else "F",
            "StudyDate": f"2026{3 + k // 28 % 9:02d}{1 + k % 28:02d}",
            "StudyTime": f"{8 + k % 10:02d}3000",
            "AccessionNumber": f"ACC{seed:03d}{k:03d}",
            "StudyID": f"S{k + 1}",
            "ReferringPhysicianName": "Welby^Marcus",
            "StudyDescription": ["CT chest", "Chest radiograph", "CT abdomen"][k % 3],
        }

    def globals_for(st: str, series: list[str], sops: list[str], rows: int, cols: int) -> None:
        for u_k, user in enumerate(users):
            exam = by_name["Normal exam" if u_k % 2 == 0 else "Follow-up recommended"]
            add(
                exam,
                st,
                None,
                None,
                user,
                None,
                rows,
                cols,
                note="Läsion – größer als zuvor" if u_k == 0 else None,
            )
            add(by_name["Motion artifact"], st, series[0], None, user, None, rows, cols)
            parent = add(by_name["Contrast phase"], st, series[-1], None, user, None, rows, cols)
            add(
                by_name["Arterial phase"],
                st,
                series[-1],
                None,
                user,
                None,
                rows,
                cols,
                parent_ann=parent["id"],
            )
            add(
                by_name["Key image"],
                st,
                series_of[sops[(u_k * 3) % len(sops)]],
                sops[(u_k * 3) % len(sops)],
                user,
                None,
                rows,
                cols,
            )

    # --- CT study -------------------------------------------------------------------------
    ct_tags = _header("ct_small")
    model = {"modelId": ids.short("M", "model"), "createdById": users[0]["id"]}
    for study_k in range(ct_studies):
        rows, cols = ct_size or (int(ct_tags["Rows"]), int(ct_tags["Columns"]))
        st = ids.uid("study", "ct", study_k) if study_k else ids.uid("study", "ct")
        studies.append({"StudyInstanceUID": st, "number": len(studies) + 1})
        for_uid = ids.uid("for", "ct", study_k) if study_k else ids.uid("for", "ct")
        iop = [float(v) for v in ct_tags["ImageOrientationPatient"]]
        normal = [
            iop[1] * iop[5] - iop[2] * iop[4],
            iop[2] * iop[3] - iop[0] * iop[5],
            iop[0] * iop[4] - iop[1] * iop[3],
        ]
        thickness = float(ct_tags.get("SliceThickness") or 1.0)
        origin = [float(v) for v in ct_tags["ImagePositionPatient"]]
        ct_series_uids: list[str] = []
        ct_sops: list[str] = []
        for s in range(ct_series):
            se = ids.uid("series", "ct", s) if not study_k else ids.uid("series", "ct", study_k, s)
            ct_series_uids.append(se)
            sops = []
            for i in range(ct_slices):
                sop = (
                    ids.uid("sop", "ct", s, i)
                    if not study_k
                    else ids.uid("sop", "ct", study_k, s, i)
                )
                sops.append(sop)
                tags = copy.deepcopy(ct_tags)
                z = -i * thickness  # instance 1 at the top, moving feet-wards
                tags.update(patient(0) if not study_k else patient(3 + study_k))
                tags.update(
                    {
                        "FrameOfReferenceUID": for_uid,
                        "SeriesNumber": s + 1,
                        "SeriesDescription": f"Axial {['soft tissue', 'lung', 'bone'][s % 3]}",
                        "InstanceNumber": i + 1,
                        "Rows": rows,
                        "Columns": cols,
                        "ImagePositionPatient": [
                            round(o + z * n, 4) for o, n in zip(origin, normal, strict=True)
                        ],
                        "SliceLocation": round(origin[2] + z, 4),
                    }
                )
                for drop in ("ImageType",):
                    tags.pop(drop, None)
                tags["ImageType"] = ["ORIGINAL", "PRIMARY", "AXIAL"]
                instance(st, se, sop, tags)
                for _ in range(annotations_per_slice):
                    label = local_cycle[serial % len(local_cycle)]
                    user = users[serial % len(users)]
                    local(
                        label,
                        st,
                        se,
                        sop,
                        user,
                        rows,
                        cols,
                        note="check size" if serial % 11 == 5 else None,
                    )
            ct_sops.extend(sops)
            if model_annotations and s == 0:
                for k, sop in enumerate(sops):
                    a = add(
                        by_name[("Lesion", "Organ mask", "Nodule")[k % 3]],
                        st,
                        se,
                        sop,
                        users[0],
                        geo.data(("polygon", "mask", "bbox")[k % 3], rows, cols, serial),
                        rows,
                        cols,
                    )
                    a.update(model)
                    serial += 1
            # a parent/child pair (child label's annotation + its parent label's) per annotator
            for u_k, user in enumerate(users):
                sop = sops[(u_k + 1) % len(sops)]
                data = geo.data("polygon", rows, cols, 1)
                parent = add(by_name["Lesion"], st, se, sop, user, data, rows, cols)
                add(
                    by_name["Malignant"],
                    st,
                    se,
                    sop,
                    user,
                    copy.deepcopy(data),
                    rows,
                    cols,
                    parent_ann=parent["id"],
                )
        globals_for(st, ct_series_uids, ct_sops, rows, cols)
        if repeated_positions:
            # two echoes per position: each ImagePositionPatient twice in one series
            se = ids.uid("series", "echo", study_k)
            for i in range(4):
                sop = ids.uid("sop", "echo", study_k, i)
                tags = copy.deepcopy(ct_tags)
                z = -(i // 2) * thickness
                tags.update(patient(0) if not study_k else patient(3 + study_k))
                tags.update(
                    {
                        "FrameOfReferenceUID": for_uid,
                        "SeriesNumber": ct_series + 1,
                        "SeriesDescription": "Dual echo",
                        "InstanceNumber": i + 1,
                        "EchoNumbers": 1 + i % 2,
                        "Rows": rows,
                        "Columns": cols,
                        "ImagePositionPatient": [
                            round(o + z * n, 4) for o, n in zip(origin, normal, strict=True)
                        ],
                    }
                )
                instance(st, se, sop, tags)
                for label in ("Lesion", "Outline"):
                    local(by_name[label], st, se, sop, users[i % len(users)], rows, cols)
        if study_only_annotator:
            add(by_name["Normal exam"], st, None, None, reader, None, rows, cols)

    # --- CR study -------------------------------------------------------------------------
    if with_radiograph:
        tags = _header("rg3_unci")
        st = ids.uid("study", "cr")
        studies.append({"StudyInstanceUID": st, "number": 2})
        se, sop = ids.uid("series", "cr"), ids.uid("sop", "cr")
        rows, cols = 301, 257
        tags.update(patient(1))
        tags.update(
            {
                "Rows": rows,
                "Columns": cols,
                "SeriesNumber": 1,
                "InstanceNumber": 1,
            }
        )
        instance(st, se, sop, tags)
        for u_k, user in enumerate(users):
            for name in ("Organ mask", "Nodule", "Area", "Fracture line")[: 2 + u_k % 3]:
                local(by_name[name], st, se, sop, user, rows, cols)
        globals_for(st, [se], [sop], rows, cols)

    # --- Enhanced CT multi-frame study ---------------------------------------------------
    if with_multiframe:
        tags = _header("ect_supplemental")
        if per_frame_groups:
            _per_frame_only(tags)
        st = ids.uid("study", "mr")
        studies.append({"StudyInstanceUID": st, "number": 3})
        se, sop = ids.uid("series", "mr"), ids.uid("sop", "mr")
        rows, cols, n_frames = int(tags["Rows"]), int(tags["Columns"]), int(tags["NumberOfFrames"])
        tags.update(patient(2))
        tags.update(
            {
                "FrameOfReferenceUID": ids.uid("for", "mr"),
                "InstanceNumber": 1,
            }
        )
        tags.pop("ReferencedPerformedProcedureStepSequence", None)
        instance(st, se, sop, tags)
        for u_k, user in enumerate(users):
            for f in range(u_k % n_frames, n_frames):
                for name in ("Cyst", "Lesion", "Trace"):
                    local(by_name[name], st, se, sop, user, rows, cols, frame=f)
        globals_for(st, [se], [sop], rows, cols)

    if study_only_annotator:
        users.append(reader)
    project = f"Synthetic project {seed}"
    annotation_export = {
        "id": ids.short("P", "project"),
        "name": project,
        "labelGroups": list(groups.values()),
        "users": users,
        "datasets": [
            {
                "id": dataset_id,
                "name": "Synthetic dataset",
                "studies": studies,
                "annotations": annotations,
            }
        ],
    }
    metadata_export = {
        "name": project,
        "datasets": [
            {"id": dataset_id, "name": "Synthetic dataset", "dicomMetadata": meta_entries}
        ],
    }
    return annotation_export, metadata_export


def write_exports(
    out_dir: str | os.PathLike[str], *, name: str = "synthetic", **kwargs: Any
) -> tuple[Path, Path]:
    """Write ``make_exports(**kwargs)`` as ``<name>_annotations_<date>.json`` and
    ``<name>_dicom_metadata_<date>.json`` in ``out_dir``; return both paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ann, meta = make_exports(**kwargs)
    a = out / f"{name}_annotations_{_DATE}.json"
    m = out / f"{name}_dicom_metadata_{_DATE}.json"
    a.write_bytes(orjson.dumps(ann, option=orjson.OPT_INDENT_2))
    m.write_bytes(orjson.dumps(meta, option=orjson.OPT_INDENT_2))
    return a, m
