"""The SR document header: every module of the Comprehensive SR IOD but the content tree.

Patient / Study (copied from a referenced image), SR Document Series, General
Equipment, SR Document General (completion, verification, the evidence list
of every referenced instance) and the root of SR Document Content (the TID
1500 container); its Content Sequence is appended pre-encoded (:mod:`.tid1500`).
"""

from __future__ import annotations

from collections.abc import Sequence

from pydicom.uid import ComprehensiveSRStorage

from ..codes import coding_schemes
from ..dicom.elements import Elements
from ..dicom.encode import Codec
from ..dicom.modules import add_equipment, add_sop_common
from ..dicom.values import lo
from ..images import SourceImage
from ..index import Annotator

SR_SERIES_NUMBER = 2000


def evidence(
    study_uid: str, referenced: Sequence[SourceImage], series_of: dict[str, str], codec: Codec
) -> Elements:
    """Current Requested Procedure Evidence: the referenced instances, by series."""
    by_series: dict[str, list[SourceImage]] = {}
    for img in referenced:
        by_series.setdefault(series_of[img.sop_uid], []).append(img)
    series_items = [
        Elements(codec)
        .sequence(
            "ReferencedSOPSequence",
            [
                Elements(codec)
                .set("ReferencedSOPClassUID", img.sop_class_uid)
                .set("ReferencedSOPInstanceUID", img.sop_uid)
                for img in images
            ],
        )
        .set("SeriesInstanceUID", se)
        for se, images in by_series.items()
    ]
    return (
        Elements(codec)
        .sequence("ReferencedSeriesSequence", series_items)
        .set("StudyInstanceUID", study_uid)
    )


def build_header(
    *,
    codec: Codec,
    header_image: SourceImage,
    referenced: Sequence[SourceImage],
    series_of: dict[str, str],
    study_uid: str,
    series_instance_uid: str,
    sop_instance_uid: str,
    annotator: Annotator,
    uses_radlex: bool,
    content_date: str,
    content_time: str,
) -> tuple[Elements, list[str]]:
    """The header of one SR, and what was left out of the copied source values.

    Raises:
        ExportError: the source header's patient/study identity is invalid.
    """
    ds = Elements(codec)
    copied, dropped = header_image.patient_study(codec)
    ds.update(copied)
    add_sop_common(
        ds,
        ComprehensiveSRStorage,
        sop_instance_uid,
        content_date,
        content_time,
        coding_schemes(uses_radlex),
    )
    add_equipment(ds)
    ds.set("Modality", "SR")
    ds.set("SeriesInstanceUID", series_instance_uid)
    ds.set("SeriesNumber", SR_SERIES_NUMBER)
    ds.set("SeriesDate", content_date)
    ds.set("SeriesTime", content_time)
    ds.set("SeriesDescription", lo(f"MD.ai SR {annotator.display_name}"))
    ds.sequence("ReferencedPerformedProcedureStepSequence", [])
    ds.set("InstanceNumber", 1)
    ds.set("ContentDate", content_date)
    ds.set("ContentTime", content_time)
    ds.set("CompletionFlag", "COMPLETE")
    ds.set("VerificationFlag", "UNVERIFIED")
    ds.sequence("PerformedProcedureCodeSequence", [])
    if referenced:
        ds.sequence(
            "CurrentRequestedProcedureEvidenceSequence",
            [evidence(study_uid, referenced, series_of, codec)],
        )
    ds.set("ValueType", "CONTAINER")
    ds.code("ConceptNameCodeSequence", "126000", "DCM", "Imaging Measurement Report")
    ds.set("ContinuityOfContent", "CONTINUOUS")
    ds.sequence(
        "ContentTemplateSequence",
        [Elements(codec).set("MappingResource", "DCMR").set("TemplateIdentifier", "1500")],
    )
    return ds, dropped
