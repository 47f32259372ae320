"""Type stub for the Rust rasteriser extension (``rust/``, built by maturin).

The extension only turns geometry into bits. Geometry arrives as flat arrays
("shapes" made of "rings" made of vertices) so a whole SEG's worth of
annotations crosses the FFI boundary in one call, and the GIL is released
while the masks are filled.

Convention (also in the README and the crate's rustdoc)
-------------------------------------------------------
* Coordinates are MD.ai / DICOM SCOORD pixel coordinates: ``x`` = column,
  ``y`` = row, the image's top-left *corner* is ``(0, 0)``, so pixel
  ``(row r, column c)`` has its centre at ``(c + 0.5, r + 0.5)``.
* A pixel is set when its **centre** is inside the shape.
* ``KIND_POLYGON``: every non-hole ring is filled with the **even-odd** rule,
  the fills of the non-hole rings are united, then the union of the hole rings
  (each filled even-odd) is removed. A centre exactly on an edge follows the
  half-open scanline rule: left/top edges are inside, right/bottom edges are
  outside (so a bbox ``x, y, w, h`` as a 4-vertex ring covers exactly the
  centres with ``x <= cx < x + w`` and ``y <= cy < y + h``). Rings with fewer
  than 3 vertices fill nothing.
* ``KIND_STROKE``: centres within distance ``param / 2`` (inclusive) of the
  open polyline through the ring's vertices (a single vertex gives a disc).
* ``KIND_DISC``: centres within distance ``param`` (inclusive) of the ring's
  first vertex.
* ``KIND_ELLIPSE``: the ring holds two "vertices" ``(cx, cy)`` and
  ``(rx, ry)``; centres with ``((x-cx)/rx)^2 + ((y-cy)/ry)^2 <= 1``.
  ``rx <= 0`` or ``ry <= 0`` fills nothing.
* Shapes are OR-ed into their output frame. Vertices outside the image are
  fine (the fill is clipped); a non-finite vertex or parameter raises
  ``ValueError`` naming the shape index.
"""

import numpy as np
from numpy.typing import NDArray

KIND_POLYGON: int
KIND_STROKE: int
KIND_DISC: int
KIND_ELLIPSE: int

def rasterize(
    rows: int,
    cols: int,
    n_frames: int,
    shape_frame: NDArray[np.uint32],
    shape_kind: NDArray[np.uint8],
    shape_param: NDArray[np.float64],
    shape_ring_offsets: NDArray[np.uint64],
    ring_vertex_offsets: NDArray[np.uint64],
    ring_is_hole: NDArray[np.bool_],
    vertices: NDArray[np.float64],
) -> NDArray[np.uint8]:
    """Fill shapes into ``n_frames`` byte masks of shape ``(n_frames, rows, cols)``.

    ``shape_frame[i]`` is the output frame of shape ``i``; the rings of shape
    ``i`` are ``shape_ring_offsets[i]:shape_ring_offsets[i + 1]`` and the
    vertices of ring ``j`` are ``vertices[ring_vertex_offsets[j]:ring_vertex_offsets[j + 1]]``
    (``vertices`` is C-contiguous ``(n, 2)`` float64, ``x`` then ``y``).
    Values in the result are 0 or 1.
    """

def rasterize_packed(
    rows: int,
    cols: int,
    n_frames: int,
    shape_frame: NDArray[np.uint32],
    shape_kind: NDArray[np.uint8],
    shape_param: NDArray[np.float64],
    shape_ring_offsets: NDArray[np.uint64],
    ring_vertex_offsets: NDArray[np.uint64],
    ring_is_hole: NDArray[np.bool_],
    vertices: NDArray[np.float64],
) -> bytes:
    """As :func:`rasterize`, but returns the frames bit-packed in the DICOM
    BINARY Segmentation layout (see :func:`pack_bits`)."""

def pack_bits(masks: NDArray[np.uint8]) -> bytes:
    """Pack 0/1 masks of any shape (C order) into DICOM BINARY pixel data.

    Pixel ``k`` of the flattened array goes to bit ``k % 8`` (least significant
    first) of byte ``k // 8``; frames follow each other with no padding between
    them, so ``rows * cols`` need not be a multiple of 8. The result is padded
    with zero bits to a whole byte only at the very end. Any non-zero value
    counts as 1.
    """
