"""Step 5b of the data path: build one TID 1500 Measurement Report with highdicom.

One Comprehensive SR per annotator per study. Every annotation becomes one
measurement group (a mask annotation one group per polygon), in the job's
order: exam-level labels, then series-level, then image-level.

* EXAM / SERIES / image-level *global* labels: TID 1501 groups whose label is
  a qualitative evaluation (concept "Annotation label"); series-level groups
  reference every image of their series, image-level ones their image (and
  frame).
* Local annotations: TID 1410 planar ROI groups with the label as "Finding",
  the geometry as an SCOORD "Image Region" (bbox/polygon/freeform/mask ring →
  closed POLYLINE, line → POLYLINE, location → POINT, ellipse → ELLIPSE) and,
  where the image has a pixel spacing, Length (line) or Area (closed shapes)
  in mm / mm².
* Every group carries the parent label (when the label has one) and the label
  group as qualitative evaluations, and the annotation's note as text.
* The annotator is the observer (name and e-mail from the export's users).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import highdicom as hd
import numpy as np
from highdicom.sr import CodedConcept
from pydicom import DataElement, Dataset
from pydicom.sr.codedict import codes

from ._version import MANUFACTURER, MODEL_NAME, __version__
from .codes import (
    RADLEX,
    SCHEME,
    coding_schemes,
    label_code,
    meaning,
    person_name,
    private_code,
    uid_from,
)
from .errors import ExportError
from .headers import instance_header
from .index import KIND_DISC, KIND_ELLIPSE, KIND_POLYGON, KIND_STROKE, Label
from .plan import SrJob
from .timestamps import dicom_date_time, stamp

_EVIDENCE_NEEDS = ("SOPClassUID", "StudyInstanceUID", "SeriesInstanceUID")
SR_SERIES_NUMBER = 2000

#: Concept names of the private qualitative evaluations.
LABEL_CONCEPT = CodedConcept("MDAI-LABEL", SCHEME, "Annotation label")
PARENT_CONCEPT = CodedConcept("MDAI-PARENT", SCHEME, "Parent label")
GROUP_CONCEPT = CodedConcept("MDAI-GROUP", SCHEME, "Label group")
MASK_PART_CONCEPT = CodedConcept("MDAI-MASKPART", SCHEME, "Mask region")
MASK_FOREGROUND = CodedConcept("MDAI-FG", SCHEME, "Foreground polygon")
MASK_HOLE = CodedConcept("MDAI-HOLE", SCHEME, "Background polygon (hole)")
NOTE_CONCEPT = CodedConcept("C0034375", "UMLS", "Qualitative Evaluations")
PROCEDURE = CodedConcept("363679005", "SCT", "Imaging procedure")


@dataclass(frozen=True, slots=True)
class SrStats:
    """What went into one SR."""

    annotations: int
    measurement_groups: int


_CROSS_SECTIONAL = {"CT", "MR", "PT"}
_PROJECTION = {"CR", "DX", "IO", "MG", "PX", "RF", "RG", "XA"}


def library_view(ds: Dataset) -> Dataset:
    """The header as highdicom's image library (TID 1602) should see it.

    highdicom adds TID 1604/1603 descriptors for CT/MR/PT and projection images
    and needs root-level PixelSpacing/orientation/position (cross-sectional) or
    ImagerPixelSpacing/PatientOrientation (projection). Enhanced multi-frame
    images and many real radiographs lack them at the root; for those the
    entry keeps only the generic descriptors (modality code from the SOP class,
    rows, columns) instead of inventing values.
    """
    modality = ds.get("Modality")
    needs: tuple[str, ...] = ()
    if modality in _CROSS_SECTIONAL:
        needs = ("PixelSpacing", "ImageOrientationPatient", "ImagePositionPatient")
    elif modality in _PROJECTION:
        needs = ("ImagerPixelSpacing", "PatientOrientation")
    if all(ds.get(k) not in (None, "") for k in needs):
        return ds
    view = Dataset(ds)
    # a new element, not `view.Modality = ...`, which would edit the shared one
    view["Modality"] = DataElement(0x00080060, "CS", "OT")
    return view


def pixel_spacing(ds: Dataset) -> tuple[float, float] | None:
    """(row spacing, column spacing) in mm from PixelSpacing or shared PixelMeasures; None if
    absent or not positive."""
    ps = ds.get("PixelSpacing")
    if ps is None:
        shared = ds.get("SharedFunctionalGroupsSequence")
        if shared and "PixelMeasuresSequence" in shared[0]:
            ps = shared[0].PixelMeasuresSequence[0].get("PixelSpacing")
        else:
            pffg = ds.get("PerFrameFunctionalGroupsSequence")
            if pffg and "PixelMeasuresSequence" in pffg[0]:
                ps = pffg[0].PixelMeasuresSequence[0].get("PixelSpacing")
    try:
        r, c = float(ps[0]), float(ps[1])  # type: ignore[index]
    except (TypeError, ValueError, IndexError):
        return None
    if not (math.isfinite(r) and math.isfinite(c) and r > 0 and c > 0):
        return None
    return r, c


def _closed(v: np.ndarray) -> np.ndarray:
    if len(v) >= 2 and not np.array_equal(v[0], v[-1]):
        return np.vstack([v, v[:1]])
    return v


def _shoelace(v: np.ndarray) -> float:
    x, y = v[:, 0], v[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def _qualitative(label: Label, labels: Mapping[str, Label], global_label: bool) -> list[Any]:
    out = []
    if global_label:
        out.append(
            hd.sr.QualitativeEvaluation(
                LABEL_CONCEPT, label_code(label.id, label.name, label.radlex_ids)
            )
        )
    parent = labels.get(label.parent_id) if label.parent_id else None
    if parent is not None:
        out.append(
            hd.sr.QualitativeEvaluation(
                PARENT_CONCEPT, label_code(parent.id, parent.name, parent.radlex_ids)
            )
        )
    out.append(
        hd.sr.QualitativeEvaluation(
            GROUP_CONCEPT, private_code("G", label.group_id or label.group_name, label.group_name)
        )
    )
    return out


def _add_note(group: Any, note: str | None) -> None:
    if not note:
        return
    group[0].ContentSequence.append(
        hd.sr.TextContentItem(
            name=NOTE_CONCEPT,
            value=note[:10000],
            relationship_type=hd.sr.RelationshipTypeValues.CONTAINS,
        )
    )


def _regions(kind: int, rings: list[tuple[np.ndarray, bool]]) -> list[tuple[str, np.ndarray, bool]]:
    """(graphic type, graphic data, is_hole) per SCOORD of one annotation."""
    if kind == KIND_ELLIPSE:
        (cx, cy), (rx, ry) = rings[0][0]
        if rx >= ry:
            pts = [[cx - rx, cy], [cx + rx, cy], [cx, cy - ry], [cx, cy + ry]]
        else:
            pts = [[cx, cy - ry], [cx, cy + ry], [cx - rx, cy], [cx + rx, cy]]
        return [("ELLIPSE", np.asarray(pts, dtype=np.float64), False)]
    if kind == KIND_DISC:
        return [("POINT", rings[0][0][:1], False)]
    out = []
    for v, hole in rings:
        if len(v) == 1:
            out.append(("POINT", v, hole))
        elif kind == KIND_STROKE:
            out.append(("POLYLINE", v, hole))
        else:
            out.append(("POLYLINE", _closed(v), hole))
    return out


def _measurements(
    kind: int,
    graphic: str,
    data: np.ndarray,
    spacing: tuple[float, float] | None,
    ellipse_radii: tuple[float, float] | None,
) -> list[hd.sr.Measurement]:
    if spacing is None or graphic == "POINT":
        return []
    sr_, sc = spacing
    if kind == KIND_STROKE:
        d = np.diff(data, axis=0)
        length = float(np.sum(np.hypot(d[:, 0] * sc, d[:, 1] * sr_)))
        return [hd.sr.Measurement(name=codes.SCT.Length, value=length, unit=codes.UCUM.Millimeter)]
    if kind == KIND_ELLIPSE and ellipse_radii is not None:
        area = math.pi * ellipse_radii[0] * ellipse_radii[1] * sr_ * sc
    elif kind == KIND_POLYGON and len(data) >= 4:
        area = _shoelace(data[:-1]) * sr_ * sc
    else:
        return []
    return [hd.sr.Measurement(name=codes.SCT.Area, value=area, unit=codes.UCUM.SquareMillimeter)]


def build_sr(job: SrJob) -> tuple[hd.sr.ComprehensiveSR, SrStats]:
    """Build the Measurement Report of ``job``.

    Raises:
        ExportError: a referenced header lacks what the SR needs (message names the UID).
    """
    evidence = {
        uid: instance_header(uid, tags, _EVIDENCE_NEEDS) for uid, tags in job.instance_tags.items()
    }
    b = job.batch
    groups: list[Any] = []
    referenced: dict[str, Dataset] = {}
    for i in range(len(b)):
        label = job.labels[b.label_ids[i]]
        aid = b.ids[i]
        sop, frame = b.sop_uids[i], b.frames[i]
        frames = [frame + 1] if frame is not None else None
        if sop is not None:
            referenced[sop] = evidence[sop]
        if not label.is_local:
            # exam: no image; series: every image of the series; image: the image (and frame)
            if label.scope == "EXAM" or b.series_uids[i] is None:
                sources = None
            elif label.scope == "SERIES":
                sources = [
                    hd.sr.SourceImageForMeasurementGroup.from_source_image(evidence[s])
                    for s in job.series_instances.get(b.series_uids[i] or "", [])
                ] or None
            else:
                sources = [
                    hd.sr.SourceImageForMeasurementGroup.from_source_image(
                        evidence[sop], referenced_frame_numbers=frames
                    )
                ]
            g = hd.sr.MeasurementsAndQualitativeEvaluations(
                tracking_identifier=_tracking(aid),
                qualitative_evaluations=_qualitative(label, job.labels, global_label=True),
                source_images=sources,
            )
            _add_note(g, b.notes[i])
            groups.append(g)
            continue
        assert sop is not None
        src = evidence[sop]
        kind = int(b.geometry.kind[i])
        rings = b.geometry.rings(i)
        regions = _regions(kind, rings)
        spacing = pixel_spacing(src)
        radii = (
            (float(rings[0][0][1][0]), float(rings[0][0][1][1])) if kind == KIND_ELLIPSE else None
        )
        qual = _qualitative(label, job.labels, global_label=False)
        for part, (graphic, data, hole) in enumerate(regions):
            extra = []
            if len(regions) > 1 or hole:
                extra = [
                    hd.sr.QualitativeEvaluation(
                        MASK_PART_CONCEPT, MASK_HOLE if hole else MASK_FOREGROUND
                    )
                ]
            g = hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
                tracking_identifier=_tracking(aid, part if len(regions) > 1 else None),
                referenced_region=hd.sr.ImageRegion(
                    graphic_type=graphic,
                    graphic_data=np.asarray(data, dtype=np.float64),
                    source_image=hd.sr.SourceImageForRegion.from_source_image(
                        src, referenced_frame_numbers=frames
                    ),
                ),
                finding_type=label_code(label.id, label.name, label.radlex_ids),
                measurements=_measurements(kind, graphic, data, spacing, radii) or None,
                qualitative_evaluations=qual + extra,
            )
            _add_note(g, b.notes[i])
            groups.append(g)

    if not groups:
        raise ExportError(f"study {job.study_uid}, annotator {job.annotator_id}: nothing to report")
    name = job.annotator.get("name") or job.annotator_id
    observer = hd.sr.ObserverContext(
        observer_type=codes.DCM.Person,
        observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(
            name=person_name(name),
            login_name=job.annotator.get("email") or job.annotator_id,
        ),
    )
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_person_context=observer),
        procedure_reported=PROCEDURE,
        imaging_measurements=groups,
        referenced_images=[library_view(d) for d in referenced.values()] or None,
    )
    ev_list = list(evidence.values())
    first = ev_list[0]
    date, time = dicom_date_time(b.times, first)
    uses_radlex = any(lab.radlex_ids for lab in job.labels.values()) and _uses_scheme(
        report, RADLEX
    )
    sr = hd.sr.ComprehensiveSR(
        evidence=ev_list,
        content=report,
        series_instance_uid=job.series_instance_uid,
        series_number=SR_SERIES_NUMBER,
        sop_instance_uid=job.sop_instance_uid,
        instance_number=1,
        manufacturer=MANUFACTURER,
        is_complete=True,
        series_description=meaning(f"MD.ai SR {name}"),
        content_date=date,
        content_time=time,
        coding_schemes=coding_schemes(uses_radlex),
        specific_character_set="ISO_IR 192",
        manufacturer_model_name=MODEL_NAME,
        software_versions=__version__,
    )
    stamp(sr, date, time)
    return sr, SrStats(annotations=len(b), measurement_groups=len(groups))


def _uses_scheme(report: Any, scheme: str) -> bool:
    stack = list(report)
    while stack:
        item = stack.pop()
        for kw in ("ConceptNameCodeSequence", "ConceptCodeSequence"):
            for c in item.get(kw) or []:
                if c.get("CodingSchemeDesignator") == scheme:
                    return True
        stack.extend(item.get("ContentSequence") or [])
    return False


def _tracking(annotation_id: str, part: int | None = None) -> hd.sr.TrackingIdentifier:
    ident = f"MD.ai annotation {annotation_id}" + (f" part {part + 1}" if part is not None else "")
    return hd.sr.TrackingIdentifier(
        uid=uid_from("tracking", annotation_id, str(part)), identifier=meaning(ident)
    )
