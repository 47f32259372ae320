"""Step 5a of the data path: build one DICOM Segmentation (BINARY) with highdicom.

Source headers are rebuilt from the metadata export (no pixel data needed);
only the annotated instances are passed to highdicom, with one segment per
label. Everything highdicom would otherwise take from the clock or a random
generator (UIDs, dates) is set from the input so re-runs are byte-identical.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import highdicom as hd
import numpy as np
from highdicom.spatial import get_image_coordinate_system
from pydicom import Dataset
from pydicom.sequence import Sequence as PydicomSequence
from pydicom.valuerep import DA, TM

from ._version import MANUFACTURER, MODEL_NAME, __version__
from .codes import (
    RADLEX,
    coding_schemes,
    label_code,
    meaning,
    person_name,
    private_code,
    uid_from,
)
from .colors import hex_to_cielab
from .errors import ExportError
from .headers import instance_header
from .index import Label
from .plan import SegJob
from .raster import pack_bits, rasterize
from .timestamps import dicom_date_time, stamp


@dataclass(frozen=True, slots=True)
class SegStats:
    """What went into one SEG."""

    segments: int
    frames: int
    annotations: int


def source_dataset(uid: str, tags: Mapping[str, Any]) -> Dataset:
    """A highdicom-ready source header for instance ``uid``.

    Raises:
        ExportError: the header lacks what a SEG needs (Rows/Columns, SOP Class UID).
    """
    ds = instance_header(
        uid, tags, ("SOPClassUID", "Rows", "Columns", "StudyInstanceUID", "SeriesInstanceUID")
    )
    _move_pixel_measures_to_shared(ds)
    return ds


def _move_pixel_measures_to_shared(ds: Dataset) -> None:
    """highdicom needs PixelMeasures in the shared functional groups (vendor Enhanced MR
    keeps them per frame); move them there when every frame agrees."""
    pffg = ds.get("PerFrameFunctionalGroupsSequence")
    if not pffg or "PixelMeasuresSequence" not in pffg[0]:
        return
    shared = ds.get("SharedFunctionalGroupsSequence")
    if shared and "PixelMeasuresSequence" in shared[0]:
        return
    first = pffg[0].PixelMeasuresSequence[0]
    key = (tuple(first.get("PixelSpacing") or ()), first.get("SliceThickness"))
    for f in pffg:
        if "PixelMeasuresSequence" not in f:
            continue
        pm = f.PixelMeasuresSequence[0]
        if (tuple(pm.get("PixelSpacing") or ()), pm.get("SliceThickness")) != key:
            return
    if not shared:
        ds.SharedFunctionalGroupsSequence = PydicomSequence([Dataset()])
        shared = ds.SharedFunctionalGroupsSequence
    shared[0].PixelMeasuresSequence = PydicomSequence([copy.deepcopy(first)])
    for f in pffg:
        if "PixelMeasuresSequence" in f:
            del f.PixelMeasuresSequence


def segment_description(
    number: int, label: Label, parent: Label | None
) -> hd.seg.SegmentDescription:
    """Segment ``number`` for ``label``: label name, parent and group recorded, colour kept."""
    category = (
        label_code(parent.id, parent.name, parent.radlex_ids)
        if parent is not None
        else private_code("G", label.group_id or label.group_name, label.group_name)
    )
    desc = hd.seg.SegmentDescription(
        segment_number=number,
        segment_label=meaning(label.name),
        segmented_property_category=category,
        segmented_property_type=label_code(label.id, label.name, label.radlex_ids),
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
        tracking_uid=uid_from("label", label.id),
        tracking_id=meaning(label.name),
        display_color=hex_to_cielab(label.color),
    )
    # LO holds 64 characters: the id first (it identifies the label), then parent and group
    parts = [f"MD.ai label {label.id}"]
    if parent is not None:
        parts.append(f"parent: {parent.name}")
    parts.append(f"group: {label.group_name}")
    desc.SegmentDescription = meaning("; ".join(parts))
    return desc


def build_seg(job: SegJob) -> tuple[hd.seg.Segmentation, SegStats]:
    """Build the Segmentation of ``job``.

    Raises:
        ExportError: the source headers cannot support a SEG (message names the UID).
        GeometryError: an annotation cannot be rasterised (names the annotation).
    """
    sources = [source_dataset(uid, job.source_tags[uid]) for uid in job.source_uids]
    rows, cols = int(sources[0].Rows), int(sources[0].Columns)
    multiframe = len(sources) == 1 and int(sources[0].get("NumberOfFrames") or 1) > 1
    if multiframe and get_image_coordinate_system(sources[0]) is None:
        raise ExportError(
            f"instance {job.source_uids[0]} is multi-frame but its header places no frame "
            "(no ImagePositionPatient / PlanePositionSequence in the functional groups): "
            "a SEG cannot say which frame each mask belongs to"
        )
    n_planes = int(sources[0].NumberOfFrames) if multiframe else len(sources)
    n_seg = len(job.segments)
    seg_index = {lab.id: k for k, lab in enumerate(job.segments)}
    plane_of = {uid: k for k, uid in enumerate(job.source_uids)}
    b = job.batch
    planes = np.array(
        [(b.frames[i] or 0) if multiframe else plane_of[b.sop_uids[i]] for i in range(len(b))],
        dtype=np.int64,
    )
    shape_frame = planes * n_seg + np.array([seg_index[lid] for lid in b.label_ids], dtype=np.int64)
    masks = rasterize(b.geometry, shape_frame, n_planes * n_seg, rows, cols, b.ids)
    # (plane, segment, row, col) -> highdicom's stacked-segments layout (plane, row, col, segment)
    pixel_array = masks.reshape(n_planes, n_seg, rows, cols).transpose(0, 2, 3, 1)
    if not masks.any():
        raise ExportError(
            f"series {job.series_uid}, annotator {job.annotator_id}: every annotation "
            "rasterises to an empty mask (shapes outside the image or degenerate)"
        )

    descriptions = [
        segment_description(k + 1, lab, job.parents.get(lab.parent_id or ""))
        for k, lab in enumerate(job.segments)
    ]
    uses_radlex = any(
        d[kw][0].CodingSchemeDesignator == RADLEX
        for d in descriptions
        for kw in ("SegmentedPropertyTypeCodeSequence", "SegmentedPropertyCategoryCodeSequence")
    )
    date, time = dicom_date_time(b.times, sources[0])
    creator = job.annotator.get("name") or job.annotator_id
    seg = hd.seg.Segmentation(
        source_images=sources,
        pixel_array=pixel_array,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=job.series_instance_uid,
        series_number=_series_number(sources[0]),
        sop_instance_uid=job.sop_instance_uid,
        instance_number=1,
        manufacturer=MANUFACTURER,
        manufacturer_model_name=MODEL_NAME,
        software_versions=__version__,
        device_serial_number="0",
        content_description=meaning(f"MD.ai annotations: {', '.join(job.label_groups)}"),
        content_creator_name=person_name(creator),
        content_label="MDAI_SEG",
        series_description=meaning(f"MD.ai SEG {creator}"),
        content_date=date,
        content_time=time,
        omit_empty_frames=True,
        coding_schemes=coding_schemes(uses_radlex),
        specific_character_set="ISO_IR 192",
    )
    _make_deterministic(seg, job, date, time)
    _fix_general_image(seg, sources[0])
    _order_frames_by_source(seg, masks, n_seg, plane_of, multiframe)
    return seg, SegStats(segments=n_seg, frames=int(seg.NumberOfFrames), annotations=len(b))


def _series_number(src: Dataset) -> int:
    try:
        n = int(src.get("SeriesNumber") or 0)
    except (TypeError, ValueError):
        n = 0
    return 1000 + n if 0 <= n < 2**31 - 1001 else 1000


def _make_deterministic(seg: Dataset, job: SegJob, date: DA | None, time: TM | None) -> None:
    dim_uid = uid_from("SEG", job.sop_instance_uid, "dimension-organization")
    for item in seg.get("DimensionOrganizationSequence") or []:
        item.DimensionOrganizationUID = dim_uid
    for item in seg.get("DimensionIndexSequence") or []:
        item.DimensionOrganizationUID = dim_uid
    stamp(seg, date, time)


def _order_frames_by_source(
    seg: Dataset, masks: np.ndarray, n_seg: int, plane_of: Mapping[str, int], multiframe: bool
) -> None:
    """Within each segment, put frames in source order (instance number, then frame number).

    highdicom orders them along the slice normal, which is the reverse of the
    instance order in many CT series. Frames are moved together with their
    per-frame functional groups (dimension index values stay as they are: they
    describe position, not storage order) and the pixel data is re-packed from
    the masks the frames came from.
    """
    items = list(seg.PerFrameFunctionalGroupsSequence)
    shared = seg.SharedFunctionalGroupsSequence[0]

    def group(item: Dataset, keyword: str) -> Dataset:
        # a functional group common to all frames sits in the shared item instead
        return (item if keyword in item else shared)[keyword][0]

    keys = []
    for item in items:
        k = int(group(item, "SegmentIdentificationSequence").ReferencedSegmentNumber) - 1
        src = group(item, "DerivationImageSequence").SourceImageSequence[0]
        plane = (
            int(src.ReferencedFrameNumber) - 1
            if multiframe
            else plane_of[src.ReferencedSOPInstanceUID]
        )
        keys.append((k, plane))
    order = sorted(range(len(items)), key=keys.__getitem__)
    if order == list(range(len(items))):
        return
    seg.PerFrameFunctionalGroupsSequence = [items[i] for i in order]
    mask_index = [keys[i][1] * n_seg + keys[i][0] for i in order]
    data = pack_bits(masks[mask_index])
    seg.PixelData = data + b"\x00" if len(data) % 2 else data


def _fix_general_image(seg: Dataset, src: Dataset) -> None:
    """PatientOrientation is Type 2C in General Image; highdicom omits it for
    projection images without a frame of reference (see shared/PITFALLS.md)."""
    if "FrameOfReferenceUID" not in seg and "PatientOrientation" not in seg:
        seg.PatientOrientation = src.get("PatientOrientation") or ""
