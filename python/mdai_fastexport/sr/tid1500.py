"""TID 1500 Measurement Report content for one annotator and one study.

Root content (the root container itself is in the header, :mod:`.header`):

* Language of Content (TID 1204); observer context (TID 1002): the annotator
  as a person (TID 1003: name, login) or, for model outputs, as a device
  (TID 1004: device UID and name); Procedure Reported.
* Image Library (TID 1600): one Image Library Group per series, the
  descriptors its images share (modality, frame of reference, matrix, pixel
  spacing, slice thickness, orientation) given once at group level (TID 1602),
  per image only a descriptor that differs between them. Image positions (the
  optional per-image descriptors) are left out: they would repeat, per image,
  what the images themselves hold.
* Imaging Measurements: one Measurement Group per annotation (a mask: one per
  polygon), in the job's order (study → series → image):

  - study, series and image *global* labels: TID 1501 groups, the label as a
    qualitative evaluation; an image-level group references its image (and
    frame) first, a series-level group carries the Series Instance UID and
    references every image of the series;
  - local annotations: TID 1410 planar ROI groups: the label as Finding, the
    geometry as an Image Region SCOORD selected from its image (and frame),
    Length (line) or Area (closed shapes) in mm / mm² when the image has a
    pixel spacing.

  Every group has a Tracking Identifier (``MD.ai annotation <id>``) and a
  Tracking UID, the parent label as a qualitative evaluation (and the label
  group, when the report's labels come from more than one group), the parent
  annotation's tracking UID when known, and the note as a Comment.

SCOORD coordinates are DICOM image coordinates (the top-left *corner* of the
first pixel at (0, 0)): MD.ai's polygon/box/line/point coordinates are written
unchanged, mask contours (pixel *indices*) shifted by half a pixel.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from pydicom.sr.codedict import codes

from ..codes import SCHEME, label_code, private_code, uid_from
from ..dicom.values import lo, person_name
from ..images import SourceImage
from ..index import KIND_DISC, KIND_ELLIPSE, KIND_MASK, KIND_STROKE, Annotator, Label
from ..plan import Batch
from .content import Code, ContentEncoder

CONTAINS, HAS_OBS, HAS_MOD, HAS_ACQ, SELECTED_FROM = (
    "CONTAINS",
    "HAS OBS CONTEXT",
    "HAS CONCEPT MOD",
    "HAS ACQ CONTEXT",
    "SELECTED FROM",
)
LANGUAGE = Code("121049", "DCM", "Language of Content Item and Descendants")
EN_US = Code("en-US", "RFC5646", "English (United States)")
OBSERVER_TYPE = Code("121005", "DCM", "Observer Type")
PERSON = Code("121006", "DCM", "Person")
DEVICE = Code("121007", "DCM", "Device")
PERSON_NAME = Code("121008", "DCM", "Person Observer Name")
LOGIN_NAME = Code("128774", "DCM", "Person Observer's Login Name")
DEVICE_UID = Code("121012", "DCM", "Device Observer UID")
DEVICE_NAME = Code("121013", "DCM", "Device Observer Name")
DEVICE_MANUFACTURER = Code("121014", "DCM", "Device Observer Manufacturer")
PROCEDURE_REPORTED = Code("121058", "DCM", "Procedure reported")
IMAGING_PROCEDURE = Code("363679005", "SCT", "Imaging procedure")
IMAGE_LIBRARY = Code("111028", "DCM", "Image Library")
IMAGE_LIBRARY_GROUP = Code("126200", "DCM", "Image Library Group")
SOURCE = Code("260753009", "SCT", "Source")
MODALITY = Code("121139", "DCM", "Modality")
FRAME_OF_REFERENCE = Code("112227", "DCM", "Frame of Reference UID")
ROWS = Code("110910", "DCM", "Pixel Data Rows")
COLUMNS = Code("110911", "DCM", "Pixel Data Columns")
HORIZONTAL_SPACING = Code("111026", "DCM", "Horizontal Pixel Spacing")
VERTICAL_SPACING = Code("111066", "DCM", "Vertical Pixel Spacing")
SLICE_THICKNESS = Code("112225", "DCM", "Slice Thickness")
SPACING_BETWEEN_SLICES = Code("112226", "DCM", "Spacing between slices")
ORIENTATION = tuple(
    Code(f"1109{k + 4:02d}", "DCM", f"Image Orientation (Patient) {rc} {a}")
    for k, (rc, a) in enumerate((r, a) for r in ("Row", "Column") for a in "XYZ")
)
IMAGING_MEASUREMENTS = Code("126010", "DCM", "Imaging Measurements")
MEASUREMENT_GROUP = Code("125007", "DCM", "Measurement Group")
TRACKING_ID = Code("112039", "DCM", "Tracking Identifier")
TRACKING_UID = Code("112040", "DCM", "Tracking Unique Identifier")
FINDING = Code("121071", "DCM", "Finding")
IMAGE_REGION = Code("111030", "DCM", "Image Region")
SOURCE_OF_MEASUREMENT = Code("121112", "DCM", "Source of Measurement")
SERIES_INSTANCE_UID = Code("112002", "DCM", "Series Instance UID")
COMMENT = Code("121106", "DCM", "Comment")
LENGTH = Code("410668003", "SCT", "Length")
AREA = Code("42798000", "SCT", "Area")
MM = Code("mm", "UCUM", "millimeter")
MM2 = Code("mm2", "UCUM", "square millimeter")
PIXELS = Code("{pixels}", "UCUM", "pixels")
UNIT_RANGE = Code("{-1:1}", "UCUM", "{-1:1}")

#: Private concepts (scheme 99MDAI) of the qualitative evaluations.
LABEL_CONCEPT = Code("MDAI-LABEL", SCHEME, "Annotation label")
PARENT_CONCEPT = Code("MDAI-PARENT", SCHEME, "Parent label")
GROUP_CONCEPT = Code("MDAI-GROUP", SCHEME, "Label group")
PARENT_ANNOTATION = Code("MDAI-PARENTANN", SCHEME, "Parent annotation")
MASK_PART_CONCEPT = Code("MDAI-MASKPART", SCHEME, "Mask region")
MASK_FOREGROUND = Code("MDAI-FG", SCHEME, "Foreground polygon")
MASK_HOLE = Code("MDAI-HOLE", SCHEME, "Background polygon (hole)")

_MODALITIES = {getattr(codes.cid29, k).value: getattr(codes.cid29, k) for k in codes.cid29.dir()}


def code_of(concept: object) -> Code:
    """A :class:`Code` from a pydicom/highdicom coded concept."""
    return Code(
        concept.value,  # type: ignore[attr-defined]
        concept.scheme_designator,  # type: ignore[attr-defined]
        concept.meaning,  # type: ignore[attr-defined]
    )


@lru_cache(maxsize=8192)
def label_concept(label: Label) -> Code:
    """The code of a label (RadLex when it has one, else 99MDAI) as a :class:`Code`."""
    return code_of(label_code(label.id, label.name, label.radlex_ids))


@lru_cache(maxsize=8192)
def group_concept(label: Label) -> Code:
    """The code of a label's group (99MDAI) as a :class:`Code`."""
    return code_of(private_code("G", label.group_id or label.group_name, label.group_name))


def tracking_uid(tracking: str, part: int | None) -> str:
    """The Tracking Unique Identifier of an annotation (or of one part of a mask)."""
    return uid_from("tracking", tracking, str(part))


@dataclass(frozen=True, slots=True)
class GroupStats:
    """What went into the Imaging Measurements container."""

    groups: int
    referenced: list[str]  # SOP Instance UIDs referenced anywhere in the content


def observer_context(enc: ContentEncoder, annotator: Annotator) -> list[bytes]:
    """TID 1002: the annotator as a person, or a model as a device."""
    if annotator.is_model:
        return [
            enc.code(HAS_OBS, OBSERVER_TYPE, DEVICE),
            enc.uidref(HAS_OBS, DEVICE_UID, uid_from("device", annotator.key)),
            enc.text(HAS_OBS, DEVICE_NAME, lo(annotator.display_name)),
            enc.text(HAS_OBS, DEVICE_MANUFACTURER, "MD.ai"),
        ]
    items = [
        enc.code(HAS_OBS, OBSERVER_TYPE, PERSON),
        enc.pname(HAS_OBS, PERSON_NAME, person_name(annotator.display_name)),
    ]
    items.append(enc.text(HAS_OBS, LOGIN_NAME, lo(annotator.email or annotator.key)))
    return items


def _descriptors(enc: ContentEncoder, img: SourceImage) -> dict[Code, bytes]:
    """TID 1602 descriptors of one image, by concept."""
    out: dict[Code, bytes] = {}
    modality = _MODALITIES.get(str(img.tags.get("Modality") or "").strip())
    if modality is not None:
        out[MODALITY] = enc.code(HAS_ACQ, MODALITY, code_of(modality))
    if img.frame_of_reference_uid:
        out[FRAME_OF_REFERENCE] = enc.uidref(
            HAS_ACQ, FRAME_OF_REFERENCE, img.frame_of_reference_uid
        )
    out[ROWS] = enc.num(HAS_ACQ, ROWS, float(img.rows), PIXELS)
    out[COLUMNS] = enc.num(HAS_ACQ, COLUMNS, float(img.columns), PIXELS)
    g = img.frame(0)
    if g.spacing is not None:
        out[HORIZONTAL_SPACING] = enc.num(HAS_ACQ, HORIZONTAL_SPACING, float(g.spacing[1]), MM)
        out[VERTICAL_SPACING] = enc.num(HAS_ACQ, VERTICAL_SPACING, float(g.spacing[0]), MM)
    if g.thickness is not None:
        out[SLICE_THICKNESS] = enc.num(HAS_ACQ, SLICE_THICKNESS, float(g.thickness), MM)
    if g.spacing_between_slices is not None:
        out[SPACING_BETWEEN_SLICES] = enc.num(
            HAS_ACQ, SPACING_BETWEEN_SLICES, float(g.spacing_between_slices), MM
        )
    if g.orientation_f is not None and (not img.is_multiframe or _shared_orientation(img)):
        for k, concept in enumerate(ORIENTATION):
            out[concept] = enc.num(HAS_ACQ, concept, g.orientation_f[k], UNIT_RANGE)
    return out


def _shared_orientation(img: SourceImage) -> bool:
    n = min(img.number_of_frames, 64)
    return len({img.frame(k).orientation for k in range(n)}) == 1


def image_library(
    enc: ContentEncoder,
    images: Sequence[SourceImage],
    series_of: Mapping[str, str],
    reference: Callable[[SourceImage, Sequence[int] | None], bytes],
) -> bytes:
    """TID 1600 Image Library: one group per series, shared descriptors given once."""
    by_series: dict[str, list[SourceImage]] = {}
    for img in images:
        by_series.setdefault(series_of[img.sop_uid], []).append(img)
    groups = []
    for members in by_series.values():
        descs = [_descriptors(enc, img) for img in members]
        common = [
            concept
            for concept, value in descs[0].items()
            if all(d.get(concept) == value for d in descs[1:])
        ]
        entries = []
        for img, d in zip(members, descs, strict=True):
            own = [v for concept, v in d.items() if concept not in common]
            entries.append(enc.image(CONTAINS, SOURCE, reference(img, None), own))
        groups.append(
            enc.container(CONTAINS, IMAGE_LIBRARY_GROUP, [descs[0][c] for c in common] + entries)
        )
    return enc.container(CONTAINS, IMAGE_LIBRARY, groups)


def _closed(v: np.ndarray) -> np.ndarray:
    if len(v) >= 2 and not np.array_equal(v[0], v[-1]):
        return np.vstack([v, v[:1]])
    return v


def _shoelace(closed: np.ndarray) -> float:
    """Net area of a closed polyline (last point = first)."""
    x, y = closed[:, 0], closed[:, 1]
    return 0.5 * abs(float(np.dot(x[:-1], y[1:]) - np.dot(y[:-1], x[1:])))


def regions(kind: int, rings: list[tuple[np.ndarray, bool]]) -> list[tuple[str, np.ndarray, bool]]:
    """(graphic type, graphic data in DICOM image coordinates, is_hole) per SCOORD."""
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
        if kind == KIND_MASK:
            v = v + 0.5  # pixel indices -> image coordinates of the pixel centres
        if len(v) == 1:
            out.append(("POINT", v, hole))
        elif kind == KIND_STROKE:
            out.append(("POLYLINE", v, hole))
        else:
            out.append(("POLYLINE", _closed(v), hole))
    return out


def measurement(
    enc: ContentEncoder,
    kind: int,
    graphic: str,
    data: np.ndarray,
    spacing: tuple[float, float] | None,
    radii: tuple[float, float] | None,
) -> list[bytes]:
    """Length (open polyline) or Area (closed region) in mm / mm², when spacing is known."""
    if spacing is None or graphic == "POINT":
        return []
    row, col = spacing
    if kind == KIND_STROKE:
        d = np.diff(data, axis=0)
        value = float(np.sum(np.hypot(d[:, 0] * col, d[:, 1] * row)))
        return [enc.num(CONTAINS, LENGTH, value, MM)] if math.isfinite(value) else []
    if kind == KIND_ELLIPSE and radii is not None:
        value = math.pi * radii[0] * radii[1] * row * col
    elif len(data) >= 4:
        value = _shoelace(data) * row * col
    else:
        return []
    return [enc.num(CONTAINS, AREA, value, MM2)] if math.isfinite(value) else []


class MeasurementGroups:
    """Builds the Imaging Measurements container of one report."""

    def __init__(
        self,
        enc: ContentEncoder,
        labels: Mapping[str, Label],
        image_of: Callable[[str], SourceImage],
        series_instances: Mapping[str, list[str]],
    ) -> None:
        self.enc = enc
        self.labels = labels
        self.image_of = image_of
        self.series_instances = series_instances
        self._refs: dict[tuple[str, tuple[int, ...] | None], bytes] = {}
        self.referenced: dict[str, None] = {}
        self.with_group = len({lab.group_id or lab.group_name for lab in labels.values()}) > 1

    def reference(self, img: SourceImage, frames: Sequence[int] | None) -> bytes:
        """The (cached) Referenced SOP Sequence of an image (frames 1-based)."""
        key = (img.sop_uid, tuple(frames) if frames else None)
        b = self._refs.get(key)
        if b is None:
            b = self.enc.reference(img.sop_class_uid, img.sop_uid, frames)
            self._refs[key] = b
        self.referenced.setdefault(img.sop_uid)
        return b

    def _common(
        self, label: Label, b: Batch, i: int, part: int | None
    ) -> tuple[list[bytes], list[bytes]]:
        """(tracking items, trailing evaluations) shared by every kind of group."""
        enc = self.enc
        ident = f"MD.ai annotation {b.tracking[i]}" + (
            f" part {part + 1}" if part is not None else ""
        )
        head = [
            enc.text(HAS_OBS, TRACKING_ID, lo(ident)),
            enc.uidref(HAS_OBS, TRACKING_UID, tracking_uid(b.tracking[i], part)),
        ]
        tail = []
        parent_id = b.parent_labels[i]
        parent = self.labels.get(parent_id) if parent_id else None
        if parent is not None:
            tail.append(enc.code(CONTAINS, PARENT_CONCEPT, label_concept(parent)))
        if self.with_group:
            tail.append(enc.code(CONTAINS, GROUP_CONCEPT, group_concept(label)))
        if b.parent_tracking[i]:
            tail.append(
                enc.uidref(CONTAINS, PARENT_ANNOTATION, tracking_uid(b.parent_tracking[i], None))
            )
        if b.notes[i]:
            tail.append(enc.text(CONTAINS, COMMENT, b.notes[i] or ""))
        return head, tail

    def global_group(self, b: Batch, i: int) -> bytes:
        """TID 1501 group of a study, series or image label."""
        enc = self.enc
        label = self.labels[b.label_ids[i]]
        head, tail = self._common(label, b, i, None)
        refs: list[bytes] = []
        if label.scope == "SERIES" and b.series_uids[i]:
            se = b.series_uids[i] or ""
            refs.append(enc.uidref(CONTAINS, SERIES_INSTANCE_UID, se))
            for uid in self.series_instances.get(se, []):
                refs.append(
                    enc.image(
                        CONTAINS, SOURCE_OF_MEASUREMENT, self.reference(self.image_of(uid), None)
                    )
                )
        elif label.scope == "INSTANCE" and b.sop_uids[i]:
            frame = b.frames[i]
            img = self.image_of(b.sop_uids[i] or "")
            frames = [frame + 1] if frame is not None else None
            refs.append(enc.image(CONTAINS, SOURCE_OF_MEASUREMENT, self.reference(img, frames)))
        evaluation = enc.code(CONTAINS, LABEL_CONCEPT, label_concept(label))
        return enc.container(
            CONTAINS, MEASUREMENT_GROUP, [*head, *refs, evaluation, *tail], template="1501"
        )

    def local_groups(self, b: Batch, i: int) -> list[bytes]:
        """TID 1410 group(s) of a local annotation (a mask: one per polygon)."""
        enc = self.enc
        label = self.labels[b.label_ids[i]]
        frame = b.frames[i]
        img = self.image_of(b.sop_uids[i] or "")
        frames = [frame + 1] if frame is not None else None
        source = enc.image(SELECTED_FROM, SOURCE, self.reference(img, frames))
        g = img.frame(frame or 0)
        spacing = (float(g.spacing[0]), float(g.spacing[1])) if g.spacing is not None else None
        kind = int(b.geometry.kind[i])
        rings = b.geometry.rings(i)
        radii = (
            (float(rings[0][0][1][0]), float(rings[0][0][1][1])) if kind == KIND_ELLIPSE else None
        )
        finding = enc.code(CONTAINS, FINDING, label_concept(label))
        parts = regions(kind, rings)
        out = []
        for p, (graphic, data, hole) in enumerate(parts):
            part = p if len(parts) > 1 else None
            head, tail = self._common(label, b, i, part)
            mask = []
            if len(parts) > 1 or hole:
                mask = [
                    enc.code(CONTAINS, MASK_PART_CONCEPT, MASK_HOLE if hole else MASK_FOREGROUND)
                ]
            note = tail[-1:] if b.notes[i] else []
            evaluations = tail[: len(tail) - len(note)]
            items = [
                *head,
                finding,
                *measurement(enc, kind, graphic, data, spacing, radii),
                *evaluations,
                *mask,
                enc.scoord(CONTAINS, IMAGE_REGION, graphic, data, source),
                *note,
            ]
            out.append(enc.container(CONTAINS, MEASUREMENT_GROUP, items, template="1410"))
        return out

    def build(self, b: Batch) -> tuple[bytes, int]:
        """The Imaging Measurements container and the number of groups in it."""
        groups: list[bytes] = []
        for i in range(len(b)):
            if self.labels[b.label_ids[i]].is_local:
                groups.extend(self.local_groups(b, i))
            else:
                groups.append(self.global_group(b, i))
        return self.enc.container(CONTAINS, IMAGING_MEASUREMENTS, groups), len(groups)
