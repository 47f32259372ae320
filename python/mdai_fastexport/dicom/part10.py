"""DICOM Part 10 files assembled from a pydicom header and pre-encoded tail elements.

The header (patient, study, series, equipment, segment descriptions, ...) is
built once per file as encoded elements (:mod:`.elements`). Elements
whose tags come after every header tag — a SEG's per-frame functional groups
and pixel data, an SR's content tree — arrive already encoded
(:mod:`.encode`) and are appended unchanged, so they are never re-encoded
element by element. :class:`Part10` is the finished file as a list of chunks;
the writer streams them to disk.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from pydicom.dataset import FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_file_meta_info
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from .._version import IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME
from .elements import Elements


@dataclass(slots=True)
class Part10:
    """A complete DICOM file: preamble, file meta, header and pre-encoded tail chunks."""

    chunks: list[bytes | memoryview] = field(default_factory=list)

    def __len__(self) -> int:
        return sum(len(c) for c in self.chunks)

    def __iter__(self) -> Iterator[bytes | memoryview]:
        return iter(self.chunks)

    def tobytes(self) -> bytes:
        return b"".join(self.chunks)


def _file_meta(sop_class_uid: str, sop_instance_uid: str, implicit: bool) -> bytes:
    meta = FileMetaDataset()
    meta.FileMetaInformationVersion = b"\x00\x01"
    meta.MediaStorageSOPClassUID = sop_class_uid
    meta.MediaStorageSOPInstanceUID = sop_instance_uid
    meta.TransferSyntaxUID = ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian
    meta.ImplementationClassUID = IMPLEMENTATION_CLASS_UID
    meta.ImplementationVersionName = IMPLEMENTATION_VERSION_NAME
    fp = DicomBytesIO()
    write_file_meta_info(fp, meta, enforce_standard=True)
    return fp.getvalue()


def assemble(
    header: Elements,
    tail: list[bytes | memoryview],
    *,
    first_tail_tag: int,
    sop_class_uid: str,
    sop_instance_uid: str,
) -> Part10:
    """The Part 10 file of ``header`` followed by the pre-encoded ``tail`` elements
    (same transfer syntax as ``header``'s codec).

    Raises:
        ValueError: a header element's tag is not below ``first_tail_tag``
            (elements must be in ascending tag order).
    """
    last = max(header.elements, default=0)
    if last >= first_tail_tag:
        raise ValueError(
            f"header element ({last >> 16:04X},{last & 0xFFFF:04X}) must precede the pre-encoded "
            f"tail starting at ({first_tail_tag >> 16:04X},{first_tail_tag & 0xFFFF:04X})"
        )
    return Part10(
        [
            b"\x00" * 128 + b"DICM",
            _file_meta(sop_class_uid, sop_instance_uid, header.c.implicit),
            header.encode(),
            *tail,
        ]
    )
