"""Multi-frame Functional Groups and Multi-frame Dimension modules of a SEG (PS3.3 C.7.6.16-17).

Frames are stored grouped by segment and, within a segment, in source order
(instance number, then frame number). Every frame carries, per frame:

* Derivation Image (the source instance, and frame for multi-frame sources),
* Frame Content (its dimension index values, and a frame label where needed),
* Plane Position (Patient), when the sources have a frame of reference,
* Segment Identification.

Plane Orientation and Pixel Measures go into the shared functional groups when
every frame agrees (the usual case) and per frame otherwise.

Dimension organisation (:func:`dimensions`): Referenced Segment Number, then
Image Position (Patient) when positions are distinct within each segment. When
positions repeat (diffusion, multi-echo, multi-phase series; several
multi-frame instances over the same slab), a Frame Label naming the source
frame is indexed as well, so every frame keeps a unique index. Without a frame
of reference the frame label is the only spatial index (several projection
images in one series).

The per-frame items are encoded straight to bytes from fragments cached per
source frame and per segment (:mod:`..dicom.encode`); nothing is re-encoded per
frame but the index values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..dicom.encode import Codec
from ..dicom.values import lo
from ..images import FrameGeometry, SourceImage

# Tags, in the order they appear inside a per-frame item.
DERIVATION_IMAGE_SEQUENCE = 0x00089124
SOURCE_IMAGE_SEQUENCE = 0x00082112
DERIVATION_CODE_SEQUENCE = 0x00089215
FRAME_CONTENT_SEQUENCE = 0x00209111
DIMENSION_INDEX_VALUES = 0x00209157
FRAME_LABEL = 0x00209453
PLANE_POSITION_SEQUENCE = 0x00209113
PLANE_ORIENTATION_SEQUENCE = 0x00209116
PIXEL_MEASURES_SEQUENCE = 0x00289110
SEGMENT_IDENTIFICATION_SEQUENCE = 0x0062000A
REFERENCED_SEGMENT_NUMBER = 0x0062000B
IMAGE_POSITION_PATIENT = 0x00200032
IMAGE_ORIENTATION_PATIENT = 0x00200037
SHARED_FUNCTIONAL_GROUPS_SEQUENCE = 0x52009229
PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE = 0x52009230

#: (tag, functional group tag, description) of the dimensions we index on.
DIM_SEGMENT = (
    REFERENCED_SEGMENT_NUMBER,
    SEGMENT_IDENTIFICATION_SEQUENCE,
    "Referenced Segment Number",
)
DIM_POSITION = (IMAGE_POSITION_PATIENT, PLANE_POSITION_SEQUENCE, "Image Position Patient")
DIM_LABEL = (FRAME_LABEL, FRAME_CONTENT_SEQUENCE, "Frame Label")


@dataclass(frozen=True, slots=True)
class OutputFrame:
    """One SEG frame: 0-based segment index, source image and 0-based source frame."""

    segment: int
    source: SourceImage
    source_frame: int

    @property
    def geometry(self) -> FrameGeometry:
        return self.source.frame(self.source_frame)

    @property
    def label(self) -> str:
        """Frame label naming the source frame (used when positions repeat)."""
        text = f"instance {self.source.instance_number}"
        if self.source.is_multiframe:
            text += f" frame {self.source_frame + 1}"
        return lo(text)


def _normal(orientation: Sequence[float]) -> np.ndarray:
    row = np.asarray(orientation[:3], dtype=float)
    col = np.asarray(orientation[3:], dtype=float)
    return np.cross(row, col)


def dimensions(frames: Sequence[OutputFrame], spatial: bool) -> list[tuple[int, int, str]]:
    """The dimension index pointers for ``frames`` (see the module docstring)."""
    if spatial:
        seen: set[tuple[int, tuple[float, ...] | None]] = set()
        for f in frames:
            key = (f.segment, f.geometry.position_f)
            if key in seen:
                return [DIM_SEGMENT, DIM_POSITION, DIM_LABEL]
            seen.add(key)
        return [DIM_SEGMENT, DIM_POSITION]
    if len({(id(f.source), f.source_frame) for f in frames}) > 1:
        return [DIM_SEGMENT, DIM_LABEL]
    return [DIM_SEGMENT]


def index_values(
    frames: Sequence[OutputFrame],
    dims: Sequence[tuple[int, int, str]],
    segment_numbers: Sequence[int],
) -> np.ndarray:
    """Dimension index values, ``(n_frames, n_dims)``, 1-based.

    Positions are numbered against the slice normal (highdicom's convention:
    index 1 is the plane furthest along the normal), frame labels in storage
    order of their first occurrence (= source order).
    """
    out = np.zeros((len(frames), len(dims)), dtype=np.uint32)
    for d, (tag, _, _) in enumerate(dims):
        if tag == REFERENCED_SEGMENT_NUMBER:
            out[:, d] = [segment_numbers[f.segment] for f in frames]
        elif tag == IMAGE_POSITION_PATIENT:
            normal = _normal(frames[0].geometry.orientation_f or (1, 0, 0, 0, 1, 0))
            positions = sorted(
                {f.geometry.position_f for f in frames},
                key=lambda p: (-float(np.dot(normal, p)), p),  # type: ignore[arg-type]
            )
            rank = {p: k + 1 for k, p in enumerate(positions)}
            out[:, d] = [rank[f.geometry.position_f] for f in frames]
        else:
            labels: dict[str, int] = {}
            for f in frames:
                labels.setdefault(f.label, len(labels) + 1)
            out[:, d] = [labels[f.label] for f in frames]
    return out


class FunctionalGroupEncoder:
    """Encodes functional group items for one SEG, caching fragments per source frame."""

    def __init__(self, codec: Codec) -> None:
        self.c = codec
        self._derivation: dict[tuple[int, int], bytes] = {}
        self._position: dict[tuple[int, int], bytes] = {}
        self._segment: dict[int, bytes] = {}
        self._purpose = codec.code(
            0x0040A170, "121322", "DCM", "Source image for image processing operation"
        )
        self._derivation_code = codec.code(
            DERIVATION_CODE_SEQUENCE, "113076", "DCM", "Segmentation"
        )

    def orientation(self, g: FrameGeometry) -> bytes:
        c = self.c
        assert g.orientation is not None
        return c.sequence(
            PLANE_ORIENTATION_SEQUENCE, (c.texts(IMAGE_ORIENTATION_PATIENT, "DS", g.orientation),)
        )

    def pixel_measures(self, g: FrameGeometry) -> bytes:
        c = self.c
        body = b""
        if g.thickness is not None:
            body += c.text(0x00180050, "DS", g.thickness)
        if g.spacing_between_slices is not None:
            body += c.text(0x00180088, "DS", g.spacing_between_slices)
        if g.spacing is not None:
            body += c.texts(0x00280030, "DS", g.spacing)
        return c.sequence(PIXEL_MEASURES_SEQUENCE, (body,))

    def _derivation_item(self, f: OutputFrame) -> bytes:
        key = (id(f.source), f.source_frame)
        b = self._derivation.get(key)
        if b is None:
            c, src = self.c, f.source
            ref = c.uid(0x00081150, src.sop_class_uid) + c.uid(0x00081155, src.sop_uid)
            if src.is_multiframe:
                ref += c.text(0x00081160, "IS", str(f.source_frame + 1))
            ref += c.text(0x0028135A, "CS", "YES") + self._purpose
            body = c.sequence(SOURCE_IMAGE_SEQUENCE, (ref,)) + self._derivation_code
            b = c.sequence(DERIVATION_IMAGE_SEQUENCE, (body,))
            self._derivation[key] = b
        return b

    def _position_item(self, f: OutputFrame) -> bytes:
        key = (id(f.source), f.source_frame)
        b = self._position.get(key)
        if b is None:
            c, pos = self.c, f.geometry.position
            assert pos is not None
            b = c.sequence(PLANE_POSITION_SEQUENCE, (c.texts(IMAGE_POSITION_PATIENT, "DS", pos),))
            self._position[key] = b
        return b

    def _segment_item(self, number: int) -> bytes:
        b = self._segment.get(number)
        if b is None:
            c = self.c
            b = c.sequence(
                SEGMENT_IDENTIFICATION_SEQUENCE, (c.us(REFERENCED_SEGMENT_NUMBER, number),)
            )
            self._segment[number] = b
        return b

    def shared(self, g: FrameGeometry | None, *, orientation: bool, measures: bool) -> bytes:
        """The Shared Functional Groups Sequence element."""
        body = b""
        if orientation and g is not None:
            body += self.orientation(g)
        if measures and g is not None:
            body += self.pixel_measures(g)
        return self.c.sequence(SHARED_FUNCTIONAL_GROUPS_SEQUENCE, (body,))

    def per_frame(
        self,
        frames: Sequence[OutputFrame],
        indices: np.ndarray,
        dims: Sequence[tuple[int, int, str]],
        segment_numbers: Sequence[int],
        *,
        spatial: bool,
        orientation_per_frame: bool,
        measures_per_frame: bool,
    ) -> bytes:
        """The Per-frame Functional Groups Sequence element."""
        c = self.c
        with_label = any(tag == FRAME_LABEL for tag, _, _ in dims)
        items = []
        for f, idx in zip(frames, indices.tolist(), strict=True):
            content = c.ul(DIMENSION_INDEX_VALUES, *idx)
            if with_label:
                content += c.text(FRAME_LABEL, "LO", f.label)
            body = self._derivation_item(f) + c.sequence(FRAME_CONTENT_SEQUENCE, (content,))
            if spatial:
                body += self._position_item(f)
                if orientation_per_frame:
                    body += self.orientation(f.geometry)
            if measures_per_frame:
                body += self.pixel_measures(f.geometry)
            body += self._segment_item(segment_numbers[f.segment])
            items.append(body)
        return c.sequence(PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE, items)
