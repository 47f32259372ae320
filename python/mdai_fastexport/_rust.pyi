"""Type stub for the Rust rasteriser extension (``rust/``, built by maturin).

The extension only turns geometry into bits. Geometry arrives as flat arrays
("shapes" made of "rings" made of vertices) so a whole SEG's worth of
annotations crosses the FFI boundary in one call, and the GIL is released
while the masks are filled. :func:`rasterize_packed` writes the frames
straight into bit-packed DICOM SEG pixel data, never building a dense volume.

Convention (also in the README and the crate's rustdoc)
-------------------------------------------------------
* Coordinates are MD.ai / DICOM SCOORD pixel coordinates: ``x`` = column,
  ``y`` = row, the image's top-left *corner* is ``(0, 0)``, so pixel
  ``(row r, column c)`` has its centre at ``(c + 0.5, r + 0.5)``.
* A pixel is set when its **centre** is inside the shape (all kinds but
  ``KIND_MASK``).
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
* ``KIND_MASK``: MD.ai ``mask`` contours, i.e. the output of
  ``cv2.findContours(mask, RETR_TREE, CHAIN_APPROX_NONE)``; non-hole rings are
  the ``foreground`` contours (even nesting depth), hole rings the
  ``background`` ones (odd depth), vertices unchanged. Here vertices are pixel
  **indices**: pixel ``(r, c)`` is the point ``(x=c, y=r)``; a non-integer
  vertex is rounded to the nearest index (halves away from zero; coordinates
  are clamped to ``±2**61``) and everything after is exact integer arithmetic.
  The *outline* of a ring is the set of pixels on the closed polyline through
  its vertices (with ``CHAIN_APPROX_NONE`` exactly its vertices, as
  consecutive vertices are 8-neighbours; with ``CHAIN_APPROX_SIMPLE`` again the
  boundary pixels). A pixel is *strictly inside* a ring when it is inside its
  polygon by the even-odd rule and not on its outline. A pixel is set when it
  is strictly inside an **odd number** of the shape's rings (foreground or
  background: nesting parity), **or** on the outline of a foreground ring.
  So a brushed mask round-trips bit for bit: boundary pixels, 1-px lines and
  single pixels stay (rings of 1 or 2 vertices have no interior, only their
  outline), a hole's interior is cleared while its ring's own pixels (the
  foreground around the hole) stay, and an island inside a hole is set again.
  A background ring outside every foreground ring would fill its own interior
  (parity); ``cv2`` never produces one.
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
KIND_MASK: int

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
    omit_empty: bool,
) -> tuple[bytes, NDArray[np.uint32], NDArray[np.uint64]]:
    """Fill shapes frame by frame straight into DICOM BINARY Segmentation pixel data.

    Same geometry arrays, convention and errors as :func:`rasterize`, but no
    dense ``(n_frames, rows, cols)`` array is ever built: shapes are bucketed
    by frame (input order kept within a frame) and frames are painted in
    ascending id, one at a time, into one reused ``rows * cols`` scratch frame
    that is appended to the packed output. Peak memory is one frame's bytes
    plus the packed output. The GIL is released while filling.

    Returns ``(data, kept, shape_pixels)``:

    * ``data``: the kept frames in ascending frame order, bit-packed as by
      :func:`pack_bits`: pixel ``k`` of the concatenated kept frames is bit
      ``k % 8`` (least significant first) of byte ``k // 8``, **no padding
      between frames** (a frame may start mid-byte when ``rows * cols`` is not
      a multiple of 8), zero bits only to complete the last byte; its length
      is ``ceil(len(kept) * rows * cols / 8)`` (not padded to even length).
    * ``kept``: uint32, the frame ids written, ascending. With ``omit_empty``
      a frame with no set pixel is left out; otherwise it is ``0..n_frames-1``.
    * ``shape_pixels``: uint64, ``shape_pixels[i]`` is the number of pixels
      shape ``i`` covers on its own (clipped to the image, holes removed),
      whatever the other shapes on its frame; 0 means the shape fills nothing
      (outside the image, degenerate, thinner than a pixel centre). All zeros
      when ``rows * cols == 0``.

    Raises ``ValueError`` (``"shape N: ..."`` for a bad shape) as
    :func:`rasterize` does.
    """

def pack_bits(masks: NDArray[np.uint8]) -> bytes:
    """Pack 0/1 masks of any shape (C order) into DICOM BINARY pixel data.

    Pixel ``k`` of the flattened array goes to bit ``k % 8`` (least significant
    first) of byte ``k // 8``; frames follow each other with no padding between
    them, so ``rows * cols`` need not be a multiple of 8. The result is padded
    with zero bits to a whole byte only at the very end. Any non-zero value
    counts as 1.
    """
