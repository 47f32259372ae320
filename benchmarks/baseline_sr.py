"""A plain SR pipeline to measure mdai-fastexport's ``export_sr`` against.

What a first version looks like with the same building blocks: stdlib ``json``,
a dict to group annotations by (dataset, study, annotator or model), and, serially, one
highdicom ``ComprehensiveSR`` holding a TID 1500 ``MeasurementReport`` per group:

* every local annotation (geometry) → one TID 1410 planar-ROI group with the label
  as *Finding* and its geometry as an *Image Region* (bbox / polygon / freeform →
  closed POLYLINE, line → POLYLINE, location → POINT, ellipse → ELLIPSE, mask →
  one group per contour);
* every global label (exam, series or image scope, no geometry) → one TID 1501
  group with the label as a qualitative evaluation (image-scope ones reference
  their image).

It writes one file per annotator per annotated study, as ``export_sr`` does, but
leaves out what ``export_sr`` adds on top (lengths/areas, parent labels, label
groups, notes, full image library), so it is a lower bound on the highdicom work.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import highdicom as hd
import numpy as np
from highdicom.sr import CodedConcept
from pydicom import Dataset
from pydicom.sr.codedict import codes

from baseline import LOCAL, tags_to_dataset

_PROCEDURE = CodedConcept("363679005", "SCT", "Imaging")


def _label_code(label: dict[str, Any]) -> CodedConcept:
    return CodedConcept(label["id"][:16], "99MDAI", label["name"][:64])


def _regions(mode: str, data: dict[str, Any]) -> list[tuple[str, np.ndarray]]:
    """(graphic type, (n, 2) column/row points) for one annotation's geometry."""
    if mode == "bbox":
        x, y, w, h = data["x"], data["y"], data["width"], data["height"]
        pts = [[x, y], [x + w, y], [x + w, y + h], [x, y + h], [x, y]]
        return [("POLYLINE", np.asarray(pts, dtype=float))]
    if mode in ("polygon", "freeform"):
        v = data["vertices"]
        return [("POLYLINE", np.asarray([*v, v[0]], dtype=float))] if len(v) >= 3 else []
    if mode == "line":
        return [("POLYLINE", np.asarray(data["vertices"], dtype=float))]
    if mode == "location":
        return [("POINT", np.asarray([[data["x"], data["y"]]], dtype=float))]
    if mode == "ellipse":
        cx, cy, rx, ry = data["cx"], data["cy"], data["rx"], data["ry"]
        major = [[cx - rx, cy], [cx + rx, cy]]
        minor = [[cx, cy - ry], [cx, cy + ry]]
        pts = major + minor if rx >= ry else minor + major
        return [("ELLIPSE", np.asarray(pts, dtype=float))]
    if mode == "mask":
        rings = (data.get("foreground") or []) + (data.get("background") or [])
        return [("POLYLINE", np.asarray([*r, r[0]], dtype=float)) for r in rings if len(r) >= 3]
    return []


def export_sr_baseline(ann_path: Path, meta_path: Path, out_dir: Path) -> dict[str, int]:
    """Write one Comprehensive SR per (dataset, study, annotator).

    Returns:
        ``files``, ``annotations`` (annotations represented) and ``groups``
        (measurement groups) written.
    """
    ann = json.loads(Path(ann_path).read_text())
    meta = json.loads(Path(meta_path).read_text())
    labels = {lab["id"]: lab for g in ann["labelGroups"] for lab in g["labels"]}
    users = {u["id"]: u for u in ann.get("users") or []}
    tags = {m["SOPInstanceUID"]: m for d in meta["datasets"] for m in d["dicomMetadata"]}
    first_of_study: dict[str, str] = {}
    for sop, m in tags.items():
        first_of_study.setdefault(m["StudyInstanceUID"], sop)
    out_dir.mkdir(parents=True, exist_ok=True)

    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for d in ann["datasets"]:
        for a in d["annotations"]:
            if a["labelId"] in labels and a.get("StudyInstanceUID") in first_of_study:
                key = (d["id"], a["StudyInstanceUID"], a.get("modelId") or a["createdById"])
                groups.setdefault(key, []).append(a)

    headers: dict[str, Dataset] = {}

    def header(sop: str) -> Dataset:
        if sop not in headers:
            ds = tags_to_dataset(tags[sop]["dicomTags"])
            ds.SOPInstanceUID = sop
            headers[sop] = ds
        return headers[sop]

    n_annotations = n_groups = 0
    for n, ((_did, study, user_id), anns) in enumerate(sorted(groups.items())):
        user = users.get(user_id, {})
        observer = hd.sr.ObserverContext(
            observer_type=codes.DCM.Person,
            observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(
                name=str(user.get("name") or user_id).replace(" ", "^")[:64]
            ),
        )
        measurement_groups: list[Any] = []
        evidence: dict[str, Dataset] = {first_of_study[study]: header(first_of_study[study])}
        for a in anns:
            label = labels[a["labelId"]]
            sop = a.get("SOPInstanceUID")
            mode = label.get("annotationMode")
            tracking = hd.sr.TrackingIdentifier(uid=hd.UID(), identifier=str(a["id"])[:64])
            if mode in LOCAL and label["scope"] == "INSTANCE":
                if sop not in tags or a.get("data") is None:
                    continue
                src = header(sop)
                evidence[sop] = src
                for graphic_type, points in _regions(mode, a["data"]):
                    region = hd.sr.ImageRegion(
                        graphic_type=graphic_type,
                        graphic_data=points,
                        source_image=hd.sr.SourceImageForRegion.from_source_image(src),
                    )
                    measurement_groups.append(
                        hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
                            tracking_identifier=tracking,
                            referenced_region=region,
                            finding_type=_label_code(label),
                        )
                    )
            else:
                sources = None
                if label["scope"] == "INSTANCE" and sop in tags:
                    evidence[sop] = header(sop)
                    sources = [hd.sr.SourceImageForMeasurementGroup.from_source_image(header(sop))]
                measurement_groups.append(
                    hd.sr.MeasurementsAndQualitativeEvaluations(
                        tracking_identifier=tracking,
                        qualitative_evaluations=[
                            hd.sr.QualitativeEvaluation(
                                name=codes.DCM.Finding, value=_label_code(label)
                            )
                        ],
                        source_images=sources,
                    )
                )
            n_annotations += 1
        report = hd.sr.MeasurementReport(
            observation_context=hd.sr.ObservationContext(observer_person_context=observer),
            procedure_reported=_PROCEDURE,
            imaging_measurements=measurement_groups,
        )
        sr = hd.sr.ComprehensiveSR(
            evidence=list(evidence.values()),
            content=report,
            series_instance_uid=hd.UID(),
            series_number=2000,
            sop_instance_uid=hd.UID(),
            instance_number=1,
            manufacturer="baseline",
        )
        sr.save_as(out_dir / f"sr_{n:05d}.dcm")
        n_groups += len(measurement_groups)
    return {"files": len(groups), "annotations": n_annotations, "groups": n_groups}
