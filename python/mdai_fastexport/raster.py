"""Step 4 of the data path: geometry → masks, through the Rust extension.

The convention (pixel centres, even-odd fill, holes, strokes, discs, ellipses)
is documented in ``_rust.pyi`` and the README; this module only maps
annotations to output frames and turns Rust's errors into
:class:`~mdai_fastexport.errors.GeometryError` naming the annotation.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from . import _rust, index
from .errors import GeometryError
from .index import Geometry

for _name in ("KIND_POLYGON", "KIND_STROKE", "KIND_DISC", "KIND_ELLIPSE"):
    if getattr(_rust, _name) != getattr(index, _name):  # pragma: no cover - build mismatch
        raise ImportError(f"mdai_fastexport._rust.{_name} does not match index.{_name}")

_SHAPE_RE = re.compile(r"shape (\d+)")


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
        return _rust.rasterize(
            int(rows),
            int(cols),
            int(n_frames),
            np.ascontiguousarray(shape_frame, dtype=np.uint32),
            np.ascontiguousarray(geometry.kind, dtype=np.uint8),
            np.ascontiguousarray(geometry.param, dtype=np.float64),
            np.ascontiguousarray(geometry.ann_ring_offsets, dtype=np.uint64),
            np.ascontiguousarray(geometry.ring_vertex_offsets, dtype=np.uint64),
            np.ascontiguousarray(geometry.ring_is_hole, dtype=np.bool_),
            np.ascontiguousarray(geometry.vertices, dtype=np.float64).reshape(-1, 2),
        )
    except ValueError as exc:
        msg = str(exc)
        m = _SHAPE_RE.search(msg)
        if m and annotation_ids is not None and int(m.group(1)) < len(annotation_ids):
            msg = f"annotation {annotation_ids[int(m.group(1))]}: {msg}"
        raise GeometryError(msg) from None


def pack_bits(masks: np.ndarray) -> bytes:
    """DICOM BINARY pixel data of 0/1 masks (LSB first, no padding between frames)."""
    return _rust.pack_bits(np.ascontiguousarray(masks))
