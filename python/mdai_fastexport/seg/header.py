"""The SEG header: every module but the functional groups and the pixel data.

Built once per file as a pydicom dataset (PS3.3 A.51 Segmentation IOD):
Patient / Study (copied from the first source image), General Series and
Segmentation Series, Frame of Reference, General and Enhanced General
Equipment, General Image, Image Pixel, Segmentation Image (segments described
with highdicom's :class:`~highdicom.seg.SegmentDescription`), Multi-frame
Dimension, Common Instance Reference and SOP Common.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import highdicom as hd
from pydicom.sr.codedict import codes
from pydicom.uid import SegmentationStorage

from ..codes import coding_schemes, label_code, meaning, private_code, uid_from
from ..colors import hex_to_cielab
from ..dicom.elements import Elements
from ..dicom.encode import EXPLICIT, encode_dataset
from ..dicom.modules import add_equipment, add_sop_common
from ..dicom.values import ds, lo, person_name
from ..headers import integer
from ..images import SourceImage
from ..index import Annotator, Label

SERIES_NUMBER_OFFSET = 1000


def segment_description(
    number: int, label: Label, parent: Label | None, annotator: Annotator, semi_automatic: bool
) -> hd.seg.SegmentDescription:
    """Segment ``number`` for ``label``: label name, parent and group recorded, colour kept.

    Model outputs are AUTOMATIC segments with the model as algorithm; a person's
    annotations cloned from a model output are SEMIAUTOMATIC; others MANUAL.
    """
    category = (
        label_code(parent.id, parent.name, parent.radlex_ids)
        if parent is not None
        else private_code("G", label.group_id or label.group_name, label.group_name)
    )
    algorithm = None
    if annotator.is_model:
        algorithm_type = hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC
        algorithm = hd.AlgorithmIdentificationSequence(
            name=lo(annotator.display_name),
            family=codes.cid7162.ArtificialIntelligence,
            version=lo(annotator.model_id or "unknown"),
            source="MD.ai",
        )
    elif semi_automatic:
        algorithm_type = hd.seg.SegmentAlgorithmTypeValues.SEMIAUTOMATIC
        algorithm = hd.AlgorithmIdentificationSequence(
            name="MD.ai model output, edited",
            family=codes.cid7162.ArtificialIntelligence,
            version="unknown",
            source="MD.ai",
        )
    else:
        algorithm_type = hd.seg.SegmentAlgorithmTypeValues.MANUAL
    desc = hd.seg.SegmentDescription(
        segment_number=number,
        segment_label=meaning(label.name),
        segmented_property_category=category,
        segmented_property_type=label_code(label.id, label.name, label.radlex_ids),
        algorithm_type=algorithm_type,
        algorithm_identification=algorithm,
        tracking_uid=uid_from("label", label.id),
        tracking_id=meaning(label.name),
        display_color=hex_to_cielab(label.color),
    )
    parts = [f"MD.ai label {label.id}"]
    if parent is not None:
        parts.append(f"parent: {parent.name}")
    parts.append(f"group: {label.group_name}")
    desc.SegmentDescription = lo("; ".join(parts))
    return desc


def _series_number(tags: Mapping[str, Any]) -> int:
    """The source's Series Number + 1000 (1000 when absent or out of range)."""
    n = integer(tags.get("SeriesNumber")) or 0
    return (
        SERIES_NUMBER_OFFSET + n
        if 0 <= n < 2**31 - 1 - SERIES_NUMBER_OFFSET
        else SERIES_NUMBER_OFFSET
    )


_CS_TERM = re.compile(r"^[A-Z0-9_ ]{1,16}$")
_ORIENTATION = re.compile(r"^[APRLHF]{1,3}$")


def _positive_ds(value: object) -> bool:
    """Whether ``value`` (a JSON number or DS string) is a finite positive number."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return False
    try:
        return float(ds(value)) > 0
    except ValueError:
        return False


def _lossy(sources: Sequence[SourceImage]) -> tuple[str, list[str], list[str]]:
    """Lossy Image Compression ("01" if any source was lossy) with its ratio and method."""
    for s in sources:
        if str(s.tags.get("LossyImageCompression") or "").strip() == "01":
            ratio = s.tags.get("LossyImageCompressionRatio")
            method = s.tags.get("LossyImageCompressionMethod")
            ratios = [r for r in (ratio if isinstance(ratio, list) else [ratio]) if r != ""]
            methods = [m for m in (method if isinstance(method, list) else [method]) if m != ""]
            # ratio and method are Type 3 and go in pairs: written only when every value is
            # valid (a positive DS, a CS term), else left out rather than copied broken
            if (
                not ratios
                or len(ratios) != len(methods)
                or not all(_positive_ds(r) for r in ratios)
                or not all(isinstance(m, str) and _CS_TERM.match(m.strip()) for m in methods)
            ):
                # a SEG requires both when it says 01 (Type 1C), but they are not known:
                # "01" stays true, and the gap is said rather than filled with a guess
                problem = (
                    f"instance {s.sop_uid}: LossyImageCompression 01 without a valid "
                    "LossyImageCompressionRatio and Method; the SEG says 01 without them too "
                    "(a SEG requires them then, and the source does not tell)"
                )
                if problem not in s.problems:
                    s.problems.append(problem)
                return "01", [], []
            return "01", [ds(r) for r in ratios], [str(m).strip() for m in methods]
    return "00", [], []


@lru_cache(maxsize=4096)
def encoded_segment_description(
    number: int, label: Label, parent: Label | None, annotator: Annotator, semi_automatic: bool
) -> bytes:
    """:func:`segment_description`, encoded (memoised: a run repeats the same segments)."""
    return encode_dataset(segment_description(number, label, parent, annotator, semi_automatic))


def build_header(
    *,
    sources: Sequence[SourceImage],
    descriptions: Sequence[bytes],
    uses_radlex: bool,
    dimensions: Sequence[tuple[int, int, str]],
    spatial: bool,
    number_of_frames: int,
    segments_overlap: str,
    source_series_uid: str,
    series_instance_uid: str,
    sop_instance_uid: str,
    annotator: Annotator,
    label_groups: Sequence[str],
    content_date: str,
    content_time: str,
) -> tuple[Elements, list[str]]:
    """The header of one SEG (encoded descriptions from :func:`encoded_segment_description`),
    and what was left out of the copied source values.

    Raises:
        ExportError: the source header's patient/study identity is invalid.
    """
    first = sources[0]
    ds = Elements(EXPLICIT)
    copied, dropped = first.patient_study(ds.c)
    ds.update(copied)
    add_sop_common(
        ds,
        SegmentationStorage,
        sop_instance_uid,
        content_date,
        content_time,
        coding_schemes(uses_radlex),
    )
    add_equipment(ds)
    # General Series / Segmentation Series
    ds.set("Modality", "SEG")
    ds.set("SeriesInstanceUID", series_instance_uid)
    ds.set("SeriesNumber", _series_number(first.tags))
    ds.set("SeriesDate", content_date)
    ds.set("SeriesTime", content_time)
    ds.set("SeriesDescription", lo(f"MD.ai SEG {annotator.display_name}"))
    # Frame of Reference
    if spatial:
        ds.set("FrameOfReferenceUID", first.frame_of_reference_uid)
        pri = first.tags.get("PositionReferenceIndicator")
        ds.set("PositionReferenceIndicator", lo(pri, "") if isinstance(pri, str) else None)
    # General Image
    ds.set("InstanceNumber", 1)
    ds.set("ContentDate", content_date)
    ds.set("ContentTime", content_time)
    if not spatial:
        ds.set("PatientOrientation", _patient_orientation(first))
    lossy, ratios, methods = _lossy(sources)
    ds.set("LossyImageCompression", lossy)
    if ratios:
        ds.set("LossyImageCompressionRatio", ratios)
        ds.set("LossyImageCompressionMethod", methods)
    # Image Pixel / Segmentation Image
    ds.set("ImageType", ["DERIVED", "PRIMARY"])
    ds.set("SamplesPerPixel", 1)
    ds.set("PhotometricInterpretation", "MONOCHROME2")
    ds.set("Rows", first.rows)
    ds.set("Columns", first.columns)
    ds.set("BitsAllocated", 1)
    ds.set("BitsStored", 1)
    ds.set("HighBit", 0)
    ds.set("PixelRepresentation", 0)
    ds.set("NumberOfFrames", number_of_frames)
    ds.set("SegmentationType", "BINARY")
    ds.sequence("SegmentSequence", descriptions)
    ds.set("SegmentsOverlap", segments_overlap)
    ds.set("ContentLabel", "MDAI_SEG")
    ds.set("ContentDescription", lo(f"MD.ai annotations: {', '.join(label_groups)}"))
    ds.set("ContentCreatorName", person_name(annotator.display_name))
    # Multi-frame Dimension
    dim_uid = uid_from("SEG", sop_instance_uid, "dimension-organization")
    ds.sequence(
        "DimensionOrganizationSequence", [Elements().set("DimensionOrganizationUID", dim_uid)]
    )
    ds.sequence(
        "DimensionIndexSequence",
        [
            Elements()
            .set("DimensionOrganizationUID", dim_uid)
            .set("DimensionIndexPointer", pointer)
            .set("FunctionalGroupPointer", group)
            .set("DimensionDescriptionLabel", label)
            for pointer, group, label in dimensions
        ],
    )
    # Common Instance Reference: the source images used, by series
    refs = [
        Elements()
        .set("ReferencedSOPClassUID", s.sop_class_uid)
        .set("ReferencedSOPInstanceUID", s.sop_uid)
        for s in sources
    ]
    ds.sequence(
        "ReferencedSeriesSequence",
        [
            Elements()
            .sequence("ReferencedInstanceSequence", refs)
            .set("SeriesInstanceUID", source_series_uid)
        ],
    )
    return ds, dropped


def _patient_orientation(image: SourceImage) -> list[str] | None:
    """Patient Orientation (Type 2C without a frame of reference): the source's, when valid."""
    orientation = image.tags.get("PatientOrientation")
    values = orientation.split("\\") if isinstance(orientation, str) else orientation
    if (
        isinstance(values, list)
        and len(values) == 2
        and all(isinstance(v, str) and _ORIENTATION.match(v.strip().upper()) for v in values)
    ):  # PS3.3 C.7.6.1.1.1: each value up to three of the letters A P R L H F
        return [v.strip().upper() for v in values]
    return None
