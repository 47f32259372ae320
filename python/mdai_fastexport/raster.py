"""Step 4 of the data path: geometry → masks, through the Rust extension.

The convention (pixel centres, even-odd fill, holes, strokes, discs, ellipses,
pixel-exact MD.ai mask contours) is documented in ``_rust.pyi`` and the
README; this module only maps annotations to output frames and turns Rust's
errors into :class:`~mdai_fastexport.errors.GeometryError` naming the
annotation.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from . import _rust, index
from .errors import GeometryError
from .index import Geometry

for _name in ("KIND_POLYGON", "KIND_STROKE", "KIND_DISC", "KIND_ELLIPSE", "KIND_MASK"):
    if getattr(_rust, _name) != getattr(index, _name):  # pragma: no cover - build mismatch
        raise ImportError(f"mdai_fastexport._rust.{_name} does not match index.{_name}")

_SHAPE_RE = re.compile(r"shape (\d+)")


@dataclass(frozen=True, slots=True)
class PackedFrames:
    """Frames rasterised straight into DICOM BINARY Segmentation pixel data.

    Attributes:
        data: The kept frames in ascending frame order, bit-packed: pixel ``k``
            of the concatenated frames is bit ``k % 8`` (LSB first) of byte
            ``k // 8``, no padding between frames, zero bits only to complete
            the last byte (not padded to even length).
        kept: uint32 frame ids written, ascending.
        shape_pixels: uint64, per annotation: the pixels it covers on its own
            (clipped to the image, holes removed); 0 means it fills nothing.
    """

    data: bytes
    kept: np.ndarray
    shape_pixels: np.ndarray


def _arrays(geometry: Geometry, shape_frame: np.ndarray) -> tuple[np.ndarray, ...]:
    return (
        np.ascontiguousarray(shape_frame, dtype=np.uint32),
        np.ascontiguousarray(geometry.kind, dtype=np.uint8),
        np.ascontiguousarray(geometry.param, dtype=np.float64),
        np.ascontiguousarray(geometry.ann_ring_offsets, dtype=np.uint64),
        np.ascontiguousarray(geometry.ring_vertex_offsets, dtype=np.uint64),
        np.ascontiguousarray(geometry.ring_is_hole, dtype=np.bool_),
        np.ascontiguousarray(geometry.vertices, dtype=np.float64).reshape(-1, 2),
    )


def _geometry_error(exc: ValueError, annotation_ids: Sequence[str] | None) -> GeometryError:
    msg = str(exc)
    m = _SHAPE_RE.search(msg)
    if m and annotation_ids is not None and int(m.group(1)) < len(annotation_ids):
        msg = f"annotation {annotation_ids[int(m.group(1))]}: {msg}"
    return GeometryError(msg)


def rasterize(
    geometry: Geometry,
    shape_frame: np.ndarray,
    n_frames: int,
    rows: int,
    cols: int,
    annotation_ids: Sequence[str] | None = None,
) -> np.ndarray:
    """Fill every shape of ``geometry`` into ``n_frames`` masks ``(n_frames, rows, cols)`` uint8.

    ``shape_frame[i]`` is the output frame of annotation ``i``; shapes on the
    same frame are OR-ed.

    Raises:
        GeometryError: a shape cannot be filled (non-finite vertex, bad offsets);
            the message names the annotation id when ``annotation_ids`` is given.
    """
    try:
        return _rust.rasterize(int(rows), int(cols), int(n_frames), *_arrays(geometry, shape_frame))
    except ValueError as exc:
        raise _geometry_error(exc, annotation_ids) from None


def rasterize_packed(
    geometry: Geometry,
    shape_frame: np.ndarray,
    n_frames: int,
    rows: int,
    cols: int,
    annotation_ids: Sequence[str] | None = None,
    omit_empty: bool = True,
) -> PackedFrames:
    """Fill every shape of ``geometry`` straight into bit-packed SEG frames.

    As :func:`rasterize` followed by :func:`pack_bits` of the kept frames, but
    frame by frame: no dense ``(n_frames, rows, cols)`` array is built (peak
    memory is one frame's bytes plus the packed output). With ``omit_empty``
    frames with no set pixel are left out; otherwise every frame
    ``0..n_frames-1`` is written.

    Raises:
        GeometryError: a shape cannot be filled (non-finite vertex, bad offsets);
            the message names the annotation id when ``annotation_ids`` is given.
    """
    try:
        data, kept, shape_pixels = _rust.rasterize_packed(
            int(rows),
            int(cols),
            int(n_frames),
            *_arrays(geometry, shape_frame),
            bool(omit_empty),
        )
    except ValueError as exc:
        raise _geometry_error(exc, annotation_ids) from None
    return PackedFrames(data=data, kept=kept, shape_pixels=shape_pixels)


def pack_bits(masks: np.ndarray) -> bytes:
    """DICOM BINARY pixel data of 0/1 masks (LSB first, no padding between frames)."""
    return _rust.pack_bits(np.ascontiguousarray(masks))
