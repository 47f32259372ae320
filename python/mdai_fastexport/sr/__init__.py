"""Step 5b of the data path: one TID 1500 Measurement Report (Comprehensive SR) per SR job.

* :mod:`.content`: content items encoded straight to bytes.
* :mod:`.tid1500`: the report: observer, image library, measurement groups.
* :mod:`.header`: every other module (patient, study, series, evidence, root).

The content tree is encoded once, directly (no per-item pydicom datasets, no
deep copy or re-validation of the whole tree), and appended behind the
pydicom-encoded header. Explicit VR Little Endian, unless a value is too long
for it (the GraphicData of a polygon with more than 8,191 vertices): then the
whole file is Implicit VR Little Endian, which every DICOM reader supports and
which keeps every vertex.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from pydicom.uid import ComprehensiveSRStorage

from ..dicom.encode import EXPLICIT, IMPLICIT, Codec, ValueTooLong
from ..dicom.part10 import Part10, assemble
from ..images import SourceImage
from ..plan import SrJob
from ..timestamps import content_date_time
from .content import CONTENT_SEQUENCE, ContentEncoder
from .header import build_header
from .tid1500 import (
    EN_US,
    HAS_MOD,
    IMAGING_PROCEDURE,
    LANGUAGE,
    PROCEDURE_REPORTED,
    MeasurementGroups,
    image_library,
    observer_context,
)

__all__ = ["SrResult", "build_sr"]

#: GraphicData (FL) values an Explicit VR element can hold: 65,534 bytes / 4.
_MAX_EXPLICIT_FLOATS = 0xFFFE // 4


@dataclass(slots=True)
class SrResult:
    """A finished SR file and what went into it."""

    part10: Part10
    annotations: int
    measurement_groups: int
    warnings: list[str] = field(default_factory=list)


def _content(
    job: SrJob, codec: Codec, image_of: Callable[[str], SourceImage], series_of: dict[str, str]
) -> tuple[bytes, int, list[SourceImage], bool]:
    enc = ContentEncoder(codec)
    groups = MeasurementGroups(enc, job.labels, image_of, job.series_instances)
    measurements, n_groups = groups.build(job.batch)
    referenced = [image_of(uid) for uid in job.referenced_uids if uid in groups.referenced]
    if not referenced:
        # study labels only: the library (TID 1600: one group or more; OHIF reads it
        # unconditionally) lists the image whose header gave the patient and study
        referenced = [image_of(job.header_uid)]
        groups.reference(referenced[0], None)
    library = image_library(enc, referenced, series_of, groups.reference)
    items = [
        enc.code(HAS_MOD, LANGUAGE, EN_US),
        *observer_context(enc, job.annotator),
        enc.code(HAS_MOD, PROCEDURE_REPORTED, IMAGING_PROCEDURE),
        library,
        measurements,
    ]
    uses_radlex = "RADLEX" in enc.schemes()
    return enc.sequence(items), n_groups, referenced, uses_radlex


def build_sr(job: SrJob, image_of: Callable[[str], SourceImage]) -> SrResult:
    """Build the Measurement Report of ``job``; ``image_of(uid)`` gives the (cached) images.

    Raises:
        ExportError: a referenced header lacks what the SR needs, or the patient/study
            identity is invalid (the message names the instance).
    """
    series_of = job.series_of
    longest = max(
        (
            int(o1 - o0)
            for o0, o1 in zip(
                job.batch.geometry.ring_vertex_offsets[:-1],
                job.batch.geometry.ring_vertex_offsets[1:],
                strict=True,
            )
        ),
        default=0,
    )
    codec = IMPLICIT if 2 * (longest + 1) > _MAX_EXPLICIT_FLOATS else EXPLICIT
    try:
        content, n_groups, referenced, uses_radlex = _content(job, codec, image_of, series_of)
    except ValueTooLong:
        codec = IMPLICIT
        content, n_groups, referenced, uses_radlex = _content(job, codec, image_of, series_of)
    header_image = image_of(job.header_uid)
    date, time = content_date_time(job.batch.times, header_image.tags)
    header, dropped = build_header(
        codec=codec,
        header_image=header_image,
        referenced=referenced,
        series_of=series_of,
        study_uid=job.study_uid,
        series_instance_uid=job.series_instance_uid,
        sop_instance_uid=job.sop_instance_uid,
        annotator=job.annotator,
        uses_radlex=uses_radlex,
        content_date=date,
        content_time=time,
    )
    part10 = assemble(
        header,
        [content],
        first_tail_tag=CONTENT_SEQUENCE,
        sop_class_uid=ComprehensiveSRStorage,
        sop_instance_uid=job.sop_instance_uid,
    )
    return SrResult(
        part10=part10, annotations=len(job.batch), measurement_groups=n_groups, warnings=dropped
    )
