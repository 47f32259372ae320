"""The Rust rasteriser against independent implementations, on random shapes.

References written here, not shared with the package:
* even-odd point-in-polygon over all pixel centres (vectorised crossing number),
* distance-to-segment for strokes and discs, the inequality for ellipses,
* ``skimage.draw.polygon`` (centres on integer coordinates, so shifted by 0.5),
* ``numpy.packbits(bitorder="little")`` for the DICOM bit layout,
* ``cv2.findContours`` exactly as MD.ai's ``convert_mask_data`` calls it, for
  ``KIND_MASK``: contours of random brushed masks must fill back to the mask,
  bit for bit; and a numpy reference of the mask rule on arbitrary integer rings.

Random float vertices make exact ties (a centre exactly on an edge) events of
probability ~0, so those comparisons are exact. Integer vertices do produce
ties; there the comparison ignores only pixels whose centre lies on an edge.
"""

from __future__ import annotations

import itertools
import math

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from skimage import draw

from mdai_fastexport import _rust

SETTINGS = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _pack_shapes(shapes, n_frames):
    """shapes: list of (frame, kind, param, [(ring (n,2), is_hole), ...])."""
    frame = np.array([s[0] for s in shapes], np.uint32)
    kind = np.array([s[1] for s in shapes], np.uint8)
    param = np.array([s[2] for s in shapes], np.float64)
    rings = [r for s in shapes for r in s[3]]
    sro = np.concatenate([[0], np.cumsum([len(s[3]) for s in shapes])]).astype(np.uint64)
    rvo = np.concatenate([[0], np.cumsum([len(r) for r, _ in rings])]).astype(np.uint64)
    hole = np.array([h for _, h in rings], bool)
    verts = (
        np.ascontiguousarray(np.concatenate([r for r, _ in rings]), np.float64).reshape(-1, 2)
        if rings
        else np.zeros((0, 2))
    )
    return frame, kind, param, sro, rvo, hole, verts


def rust(rows, cols, shapes, n_frames=1):
    return _rust.rasterize(rows, cols, n_frames, *_pack_shapes(shapes, n_frames))


def centres(rows, cols):
    yy, xx = np.mgrid[0:rows, 0:cols]
    return xx + 0.5, yy + 0.5


def ref_even_odd(rows, cols, ring):
    """Crossing number, half-open in y and counting crossings strictly right of the centre."""
    px, py = centres(rows, cols)
    inside = np.zeros((rows, cols), bool)
    n = len(ring)
    if n < 3:
        return inside
    for i in range(n):
        (x0, y0), (x1, y1) = ring[i], ring[(i + 1) % n]
        if y0 == y1:
            continue
        crosses = (y0 > py) != (y1 > py)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            x = x0 + (py - y0) * (x1 - x0) / (y1 - y0)
        inside ^= crosses & (px < x)
    return inside


def ref_on_edge(rows, cols, ring, tol=1e-9):
    px, py = centres(rows, cols)
    near = np.zeros((rows, cols), bool)
    n = len(ring)
    for i in range(n):
        near |= ref_dist(px, py, ring[i], ring[(i + 1) % n]) <= tol
    return near


def ref_dist(px, py, a, b):
    (ax, ay), (bx, by) = a, b
    dx, dy = bx - ax, by - ay
    den = dx * dx + dy * dy
    t = np.clip(((px - ax) * dx + (py - ay) * dy) / den, 0, 1) if den else 0.0
    return np.hypot(ax + t * dx - px, ay + t * dy - py)


def ref_shape(rows, cols, kind, param, rings):
    px, py = centres(rows, cols)
    if kind == _rust.KIND_POLYGON:
        fg = np.zeros((rows, cols), bool)
        hole = np.zeros((rows, cols), bool)
        for r, h in rings:
            if h:
                hole |= ref_even_odd(rows, cols, r)
            else:
                fg |= ref_even_odd(rows, cols, r)
        return fg & ~hole
    ring = rings[0][0]
    if kind == _rust.KIND_STROKE:
        out = np.zeros((rows, cols), bool)
        segs = [(ring[0], ring[0])] if len(ring) == 1 else list(itertools.pairwise(ring))
        for a, b in segs:
            out |= ref_dist(px, py, a, b) <= param / 2
        return out
    if kind == _rust.KIND_DISC:
        return np.hypot(px - ring[0][0], py - ring[0][1]) <= param
    (cx, cy), (rx, ry) = ring[0], ring[1]
    if rx <= 0 or ry <= 0:
        return np.zeros((rows, cols), bool)
    with np.errstate(over="ignore"):
        return ((px - cx) / rx) ** 2 + ((py - cy) / ry) ** 2 <= 1


dims = st.tuples(st.integers(0, 23), st.integers(0, 29))
coord = st.floats(-8, 38, allow_nan=False, allow_infinity=False)
float_ring = st.lists(st.tuples(coord, coord), min_size=1, max_size=14).map(np.array)
int_ring = st.lists(
    st.tuples(st.integers(-4, 34), st.integers(-4, 34)), min_size=1, max_size=10
).map(lambda v: np.array(v, dtype=float))


@SETTINGS
@given(dims, float_ring)
def test_polygon_matches_even_odd_reference(size, ring):
    rows, cols = size
    got = rust(rows, cols, [(0, _rust.KIND_POLYGON, 0.0, [(ring, False)])])[0]
    np.testing.assert_array_equal(got.astype(bool), ref_even_odd(rows, cols, ring))


@SETTINGS
@given(dims, int_ring)
def test_integer_polygons_differ_only_on_edges(size, ring):
    rows, cols = size
    got = rust(rows, cols, [(0, _rust.KIND_POLYGON, 0.0, [(ring, False)])])[0].astype(bool)
    expected = ref_even_odd(rows, cols, ring)
    differ = got != expected
    assert not (differ & ~ref_on_edge(rows, cols, ring)).any()


@SETTINGS
@given(st.tuples(st.integers(1, 23), st.integers(1, 29)), float_ring)
def test_simple_and_self_intersecting_polygons_match_skimage(size, ring):
    rows, cols = size
    got = rust(rows, cols, [(0, _rust.KIND_POLYGON, 0.0, [(ring, False)])])[0].astype(bool)
    expected = np.zeros((rows, cols), bool)
    if len(ring) >= 3:
        rr, cc = draw.polygon(ring[:, 1] - 0.5, ring[:, 0] - 0.5, shape=(rows, cols))
        expected[rr, cc] = True
    # skimage counts centres on an edge as inside; compare away from edges
    away = ~ref_on_edge(rows, cols, ring, tol=1e-6) if len(ring) >= 3 else np.ones_like(got)
    np.testing.assert_array_equal(got[away], expected[away])


@SETTINGS
@given(dims, st.lists(st.tuples(float_ring, st.booleans()), min_size=1, max_size=4))
def test_masks_with_holes(size, rings):
    rows, cols = size
    got = rust(rows, cols, [(0, _rust.KIND_POLYGON, 0.0, rings)])[0]
    np.testing.assert_array_equal(got.astype(bool), ref_shape(rows, cols, 0, 0.0, rings))


@SETTINGS
@given(
    dims,
    st.sampled_from([_rust.KIND_STROKE, _rust.KIND_DISC, _rust.KIND_ELLIPSE]),
    st.floats(0.0, 9.0, allow_nan=False),
    float_ring,
)
def test_strokes_discs_ellipses(size, kind, param, ring):
    rows, cols = size
    if kind == _rust.KIND_ELLIPSE:
        ring = np.array([ring[0], [abs(ring[-1][0]) / 3, abs(ring[-1][1]) / 3]])
    got = rust(rows, cols, [(0, kind, param, [(ring, False)])])[0].astype(bool)
    expected = ref_shape(rows, cols, kind, param, [(ring, False)])
    # distances equal to the radius in floating point may round either way
    np.testing.assert_array_equal(got, expected)


@SETTINGS
@given(
    st.tuples(st.integers(1, 13), st.integers(1, 11)),
    st.lists(
        st.tuples(st.integers(0, 2), st.sampled_from([0, 1, 2, 3]), float_ring),
        min_size=0,
        max_size=6,
    ),
)
def test_many_shapes_many_frames_and_packing(size, items):
    rows, cols = size
    shapes = []
    for frame, kind, ring in items:
        if kind == _rust.KIND_ELLIPSE:
            ring = np.array([ring[0], [2.0, 3.0]])
        shapes.append((frame, kind, 2.5, [(ring, False)]))
    got = rust(rows, cols, shapes, n_frames=3)
    expected = np.zeros((3, rows, cols), bool)
    for frame, kind, param, rings in shapes:
        expected[frame] |= ref_shape(rows, cols, kind, param, rings)
    np.testing.assert_array_equal(got.astype(bool), expected)
    packed = _rust.pack_bits(got)
    assert packed == np.packbits(got.ravel(), bitorder="little").tobytes()
    data, kept, _ = _rust.rasterize_packed(rows, cols, 3, *_pack_shapes(shapes, 3), False)
    assert (data, kept.tolist()) == (packed, [0, 1, 2])
    assert packed == _rust.pack_bits(got.astype(bool))
    assert packed == _rust.pack_bits(np.asfortranarray(got)), "logical (C) order, any strides"
    frame, kind, param, sro, rvo, hole, verts = _pack_shapes(shapes, 3)
    fortran = _rust.rasterize(
        rows, cols, 3, frame, kind, param, sro, rvo, hole, np.asfortranarray(verts)
    )
    np.testing.assert_array_equal(fortran, got)


def test_huge_vertex_count_and_odd_sizes():
    rng = np.random.default_rng(0)
    n = 20000
    a = np.sort(rng.uniform(0, 2 * np.pi, n))
    r = 40 + 25 * rng.uniform(-1, 1, n)
    ring = np.c_[50 + r * np.cos(a), 45 + r * np.sin(a)]
    for rows, cols in [(97, 101), (1, 1), (7, 13)]:
        got = rust(rows, cols, [(0, 0, 0.0, [(ring, False)])])[0].astype(bool)
        np.testing.assert_array_equal(got, ref_even_odd(rows, cols, ring))


def test_non_finite_is_a_value_error_naming_the_shape():
    ok = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 3.0]])
    bad = ok.copy()
    bad[1, 0] = np.nan
    with pytest.raises(ValueError, match="shape 1: non-finite vertex"):
        rust(4, 4, [(0, 0, 0.0, [(ok, False)]), (0, 0, 0.0, [(bad, False)])])
    with pytest.raises(ValueError, match="shape 0: non-finite parameter"):
        rust(4, 4, [(0, 1, np.inf, [(ok, False)])])
    with pytest.raises(ValueError, match="frame 2 >= n_frames 1"):
        rust(4, 4, [(2, 0, 0.0, [(ok, False)])])


def test_far_outside_vertices_are_clipped_without_blowing_up():
    ring = np.array([[-1e12, -1e12], [1e12, -1e12], [1e12, 1e12], [-1e12, 1e12]])
    assert rust(5, 7, [(0, 0, 0.0, [(ring, False)])]).all()
    assert rust(0, 7, [(0, 0, 0.0, [(ring, False)])]).shape == (1, 0, 7)


def test_python_face_names_the_annotation():
    from mdai_fastexport.errors import GeometryError
    from mdai_fastexport.index import Geometry
    from mdai_fastexport.raster import rasterize

    g = Geometry(
        kind=np.zeros(2, np.uint8),
        param=np.zeros(2),
        ann_ring_offsets=np.array([0, 1, 2], np.uint64),
        ring_vertex_offsets=np.array([0, 3, 6], np.uint64),
        ring_is_hole=np.zeros(2, bool),
        vertices=np.array([[0, 0], [3, 0], [0, 3], [0, 0], [np.inf, 0], [0, 3]], float),
    )
    with pytest.raises(GeometryError, match=r"^annotation A_2: shape 1: non-finite vertex"):
        rasterize(g, np.zeros(2, np.uint32), 1, 4, 4, ["A_1", "A_2"])


# --- rasterize_packed: straight into DICOM BINARY frames -----------------------------------

ALL_KINDS = [
    _rust.KIND_POLYGON,
    _rust.KIND_STROKE,
    _rust.KIND_DISC,
    _rust.KIND_ELLIPSE,
    _rust.KIND_MASK,
]
small_coord = st.floats(-4, 20, allow_nan=False, allow_infinity=False)
small_ring = st.lists(st.tuples(small_coord, small_coord), min_size=1, max_size=9).map(np.array)
int_small_ring = st.lists(
    st.tuples(st.integers(-3, 19), st.integers(-3, 19)), min_size=1, max_size=9
).map(lambda v: np.array(v, dtype=float))


@st.composite
def frame_shapes(draw):
    """(rows, cols, n_frames, shapes) with shapes of every kind, holes included."""
    rows, cols = draw(
        st.one_of(
            st.tuples(st.integers(0, 13), st.integers(0, 17)),
            st.sampled_from([(7, 13), (1, 1), (0, 9), (9, 0), (3, 3), (5, 7)]),
        )
    )
    n_frames = draw(st.integers(1, 6))
    shapes = []
    for _ in range(draw(st.integers(0, 8))):
        frame = draw(st.integers(0, n_frames - 1))
        kind = draw(st.sampled_from(ALL_KINDS))
        param = draw(st.floats(0.0, 6.0))
        if kind == _rust.KIND_ELLIPSE:
            c = draw(small_ring)[0]
            rings = [(np.array([c, [draw(st.floats(0, 6)), draw(st.floats(0, 6))]]), False)]
        else:
            ring_st = int_small_ring if kind == _rust.KIND_MASK else small_ring
            rings = draw(st.lists(st.tuples(ring_st, st.booleans()), min_size=1, max_size=3))
        shapes.append((frame, kind, param, rings))
    return rows, cols, n_frames, shapes


def packed_reference(rows, cols, n_frames, shapes, omit_empty):
    dense = rust(rows, cols, shapes, n_frames=n_frames).astype(bool)
    kept = [f for f in range(n_frames) if not omit_empty or dense[f].any()]
    data = np.packbits(dense[kept].ravel(), bitorder="little").tobytes()
    alone = [int(rust(rows, cols, [(0, *s[1:])]).sum()) for s in shapes]
    return data, kept, alone


@SETTINGS
@given(frame_shapes(), st.booleans())
def test_packed_matches_dense_packbits(case, omit_empty):
    rows, cols, n_frames, shapes = case
    data, kept, pixels = _rust.rasterize_packed(
        rows, cols, n_frames, *_pack_shapes(shapes, n_frames), omit_empty
    )
    assert kept.dtype == np.uint32 and pixels.dtype == np.uint64
    assert (data, kept.tolist(), pixels.tolist()) == packed_reference(
        rows, cols, n_frames, shapes, omit_empty
    )
    assert len(data) == math.ceil(len(kept) * rows * cols / 8)


def _geometry(shapes):
    from mdai_fastexport.index import Geometry

    frame, kind, param, sro, rvo, hole, verts = _pack_shapes(shapes, 1)
    return Geometry(kind, param, sro, rvo, hole, verts), frame


def test_python_rasterize_packed_frames_and_errors():
    from mdai_fastexport.errors import GeometryError
    from mdai_fastexport.raster import PackedFrames, rasterize, rasterize_packed

    sq = np.array([[0, 0], [3, 0], [3, 3], [0, 3]], float)
    far = sq + 100
    shapes = [(2, 0, 0.0, [(sq, False)]), (0, 0, 0.0, [(far, False)]), (2, 4, 0.0, [(sq, False)])]
    g, frame = _geometry(shapes)
    got = rasterize_packed(g, frame, 4, 5, 3)
    assert isinstance(got, PackedFrames)
    assert got.kept.tolist() == [2] and got.shape_pixels.tolist() == [9, 0, 12]
    dense = rasterize(g, frame, 4, 5, 3)
    assert got.data == np.packbits(dense[2].ravel(), bitorder="little").tobytes()
    every = rasterize_packed(g, frame, 4, 5, 3, omit_empty=False)
    assert every.kept.tolist() == [0, 1, 2, 3]
    assert every.data == np.packbits(dense.ravel(), bitorder="little").tobytes()
    with pytest.raises(AttributeError):
        got.data = b""  # frozen
    bad = sq.copy()
    bad[2, 1] = np.nan
    g, frame = _geometry([(0, 0, 0.0, [(sq, False)]), (0, 4, 0.0, [(bad, False)])])
    with pytest.raises(GeometryError, match=r"^annotation B: shape 1: non-finite vertex"):
        rasterize_packed(g, frame, 1, 4, 4, ["A", "B"])
    with pytest.raises(GeometryError, match=r"frame 0 >= n_frames 0"):
        rasterize_packed(g, frame, 0, 4, 4)


def test_packed_frames_start_mid_byte():
    # 3x3 frames: 9 bits each, the second kept frame starts at bit 9 of the stream
    px = np.array([[1.0, 1.0]])
    shapes = [(0, _rust.KIND_MASK, 0.0, [(px, False)]), (3, _rust.KIND_MASK, 0.0, [(px, False)])]
    data, kept, pixels = _rust.rasterize_packed(3, 3, 5, *_pack_shapes(shapes, 5), True)
    assert (data, kept.tolist(), pixels.tolist()) == (bytes([0b10000, 0b100000, 0]), [0, 3], [1, 1])
    data, kept, _ = _rust.rasterize_packed(3, 3, 5, *_pack_shapes(shapes, 5), False)
    assert kept.tolist() == [0, 1, 2, 3, 4] and len(data) == 6
    assert data == bytes([0b10000, 0, 0, 0b10000000, 0, 0]), "frame 3 starts at bit 27"


# --- KIND_MASK: MD.ai mask contours, pixel-exact -------------------------------------------


def mdai_contours(mask, method=cv2.CHAIN_APPROX_NONE):
    """MD.ai's ``common_utils.convert_mask_data``, line for line (``method`` aside)."""
    mask = np.uint8(np.array(mask) > 0)
    contours, hierarchy = cv2.findContours(mask, cv2.RETR_TREE, method)
    contours = [contours[i].reshape(-1, 2) for i in range(len(contours))]
    output_data = {"foreground": [], "background": []}
    counts = [0] * len(contours)
    for i in range(len(contours)):
        parent = hierarchy[0][i][-1]
        if parent != -1:
            counts[i] = counts[parent] + 1
        if counts[i] % 2:
            output_data["background"].append(contours[i].tolist())
        else:
            output_data["foreground"].append(contours[i].tolist())
    return output_data


def mask_shape(data, frame=0):
    """How the index layer passes a mask annotation: one KIND_MASK shape."""
    rings = [(np.array(p, float).reshape(-1, 2), False) for p in data["foreground"]]
    rings += [(np.array(p, float).reshape(-1, 2), True) for p in data["background"]]
    return (frame, _rust.KIND_MASK, 0.0, rings)


def fill_mask(mask, method=cv2.CHAIN_APPROX_NONE):
    rows, cols = mask.shape
    return rust(rows, cols, [mask_shape(mdai_contours(mask, method))])[0].astype(bool)


@st.composite
def brushed_masks(pick):
    """Masks drawn like a brush would: blobs, 1-px lines, dots, rings with holes,
    islands in holes, noise, anything touching the border, odd sizes."""
    rows, cols = pick(st.integers(1, 40)), pick(st.integers(1, 40))
    mask = np.zeros((rows, cols), bool)
    for _ in range(pick(st.integers(1, 7))):
        op = pick(st.sampled_from(["disc", "target", "rect", "line", "dot", "noise", "clear"]))
        r, c = pick(st.integers(-3, rows + 2)), pick(st.integers(-3, cols + 2))
        size = pick(st.integers(0, 12))
        if op == "noise":  # salt and pepper, toggling
            seed, p = pick(st.integers(0, 2**32 - 1)), pick(st.floats(0.05, 0.9))
            mask ^= np.random.default_rng(seed).random((rows, cols)) < p
            continue
        if op == "target":  # nested annuli: hole, island in the hole, hole in the island...
            r, c = pick(st.integers(0, rows - 1)), pick(st.integers(0, cols - 1))
            radius = pick(st.integers(2, max(2, min(rows, cols) // 2 + 2)))
            step = pick(st.sampled_from([1.0, 1.5, 2.0, 2.5, 3.0]))
            for k in range(pick(st.integers(2, 6))):
                if radius + 0.5 - k * step > 0:  # skimage draws |radius|
                    _put(mask, *draw.disk((r, c), radius + 0.5 - k * step), k % 2 == 0)
            continue
        value = pick(st.sampled_from([True, True, False])) if op != "clear" else False
        if op in ("disc", "clear"):
            rr, cc = draw.disk((r, c), size / 2 + 0.5)
        elif op == "rect":
            rr, cc = np.mgrid[r : r + pick(st.integers(0, 9)), c : c + pick(st.integers(0, 9))]
        elif op == "line":  # 1 px wide, any slope
            rr, cc = draw.line(r, c, pick(st.integers(-3, rows + 2)), pick(st.integers(-3, cols)))
        else:
            rr, cc = np.array([r]), np.array([c])
        _put(mask, rr, cc, value)
    return mask


@st.composite
def nested_masks(pick):
    """Concentric targets on a larger canvas: holes, islands in holes, holes in islands,
    plus a few brush strokes (lines cutting the rings, dots in the holes)."""
    rows, cols = pick(st.integers(9, 40)), pick(st.integers(9, 40))
    mask = np.zeros((rows, cols), bool)
    for _ in range(pick(st.integers(1, 3))):
        r = pick(st.integers(rows // 4, rows - 1 - rows // 4))
        c = pick(st.integers(cols // 4, cols - 1 - cols // 4))
        radius = pick(st.integers(4, max(4, min(rows, cols) // 2)))
        step = pick(st.sampled_from([2.0, 1.5, 2.5, 3.0, 1.0]))
        for k in range(pick(st.integers(2, 7))):
            if radius + 0.5 - k * step > 0:  # skimage draws |radius|
                _put(mask, *draw.disk((r, c), radius + 0.5 - k * step), k % 2 == 0)
    for _ in range(pick(st.integers(0, 3))):
        r0, c0 = pick(st.integers(0, rows - 1)), pick(st.integers(0, cols - 1))
        r1, c1 = pick(st.integers(0, rows - 1)), pick(st.integers(0, cols - 1))
        _put(mask, *draw.line(r0, c0, r1, c1), pick(st.booleans()))
    return mask


def _put(mask, rr, cc, value):
    rr, cc = np.ravel(rr), np.ravel(cc)
    ok = (rr >= 0) & (rr < mask.shape[0]) & (cc >= 0) & (cc < mask.shape[1])
    mask[rr[ok], cc[ok]] = value


MASK_SETTINGS = settings(SETTINGS, max_examples=600)


@MASK_SETTINGS
@given(st.one_of(brushed_masks(), nested_masks()))
def test_mask_contours_round_trip_bit_for_bit(mask):
    np.testing.assert_array_equal(fill_mask(mask), mask)
    # through the packed path too: one frame, its pixel count
    rows, cols = mask.shape
    data, kept, pixels = _rust.rasterize_packed(
        rows, cols, 2, *_pack_shapes([mask_shape(mdai_contours(mask), frame=1)], 2), True
    )
    assert kept.tolist() == ([1] if mask.any() else [])
    assert pixels.tolist() == [int(mask.sum())]
    assert data == np.packbits(mask.ravel(), bitorder="little").tobytes() * bool(mask.any())


@SETTINGS
@given(brushed_masks())
def test_mask_simple_chain_contours_round_trip_too(mask):
    # CHAIN_APPROX_SIMPLE keeps only the ends of straight runs: the edges' lattice points
    np.testing.assert_array_equal(fill_mask(mask, cv2.CHAIN_APPROX_SIMPLE), mask)


@SETTINGS
@given(brushed_masks(), st.floats(-0.49, 0.49), st.floats(-0.49, 0.49))
def test_mask_vertices_round_to_the_nearest_index(mask, dx, dy):
    rows, cols = mask.shape
    frame, kind, param, rings = mask_shape(mdai_contours(mask))
    moved = [(r + np.array([dx, dy]), h) for r, h in rings]
    got = rust(rows, cols, [(frame, kind, param, moved)])[0].astype(bool)
    np.testing.assert_array_equal(got, mask)


def ref_mask(rows, cols, rings):
    """The KIND_MASK rule from its definition, on integer rings, over every pixel."""
    yy, xx = np.mgrid[0:rows, 0:cols]
    parity = np.zeros((rows, cols), bool)
    fg_outline = np.zeros((rows, cols), bool)
    for ring, is_hole in rings:
        ring = np.round(ring).astype(np.int64)  # no .5 in the test data
        n = len(ring)
        inside = np.zeros((rows, cols), bool)
        outline = np.zeros((rows, cols), bool)
        for i in range(n):
            (x0, y0), (x1, y1) = ring[i], ring[(i + 1) % n]
            # lattice points on the segment: collinear and within its box
            cross = (x1 - x0) * (yy - y0) - (y1 - y0) * (xx - x0)
            outline |= (
                (cross == 0)
                & (np.minimum(x0, x1) <= xx)
                & (xx <= np.maximum(x0, x1))
                & (np.minimum(y0, y1) <= yy)
                & (yy <= np.maximum(y0, y1))
            )
            if n >= 3 and y0 != y1:
                # crossing strictly right of the centre: xx < x0 + (yy-y0)(x1-x0)/(y1-y0)
                crosses = (y0 > yy) != (y1 > yy)
                lhs = (xx - x0) * (y1 - y0)
                rhs = (yy - y0) * (x1 - x0)
                right = np.where(y1 > y0, lhs < rhs, lhs > rhs)
                inside ^= crosses & right
        parity ^= inside & ~outline
        if not is_hole:
            fg_outline |= outline
    return parity | fg_outline


@SETTINGS
@given(dims, st.lists(st.tuples(int_ring, st.booleans()), min_size=1, max_size=4))
def test_mask_rule_matches_reference_on_arbitrary_rings(size, rings):
    # self-intersecting, long edges through centres, outside the image, 1-2 vertex rings
    rows, cols = size
    got = rust(rows, cols, [(0, _rust.KIND_MASK, 0.0, rings)])[0].astype(bool)
    np.testing.assert_array_equal(got, ref_mask(rows, cols, rings))


def grid(text):
    return np.array([[ch == "#" for ch in line] for line in text.split()], bool)


@pytest.mark.parametrize(
    "picture",
    [
        # ring with a hole, an island in the hole, a hole in the island, border contact
        """
        ###########
        #.........#
        #.#######.#
        #.#.....#.#
        #.#.###.#.#
        #.#.#.#.#.#
        #.#.###.#.#
        #.#.....#.#
        #.#######.#
        #.........#
        ###########
        """,
        # a solid island (with interior pixels) inside a hole
        """
        #########
        #.......#
        #.#####.#
        #.#####.#
        #.#####.#
        #.......#
        #########
        """,
        # 1-px lines, diagonal-only connectivity, single pixels, a 2-pixel blob
        """
        #...#..#.
        .#.#.....
        ..#...##.
        .#.#.....
        #...#.#.#
        """,
        # checkerboard: one 8-connected component, every background pixel a hole
        "#.#.#. .#.#.# #.#.#. .#.#.#",
        # full image, single pixel image, a one-pixel-wide wall between two holes
        "### ### ###",
        "#",
        "##### #.#.# ##### ",
        # a hole touching a diagonal gap: 4-connected background only
        """
        #####
        #..##
        #.#.#
        ##..#
        #####
        """,
    ],
)
def test_mask_hand_written_cases(picture):
    mask = grid(picture)
    np.testing.assert_array_equal(fill_mask(mask), mask)
    np.testing.assert_array_equal(fill_mask(mask, cv2.CHAIN_APPROX_SIMPLE), mask)


def test_mask_hand_written_contours():
    # a hole contour runs through the foreground pixels around the hole (corners cut)
    outer = np.array([[0, 0], [4, 0], [4, 4], [0, 4]], float)  # simple-chain square
    hole = np.array([[1, 2], [2, 1], [3, 2], [2, 3]], float)
    got = rust(5, 5, [(0, _rust.KIND_MASK, 0.0, [(outer, False), (hole, True)])])[0]
    np.testing.assert_array_equal(got, ~grid("..... ..... ..#.. ..... ....."))
    # a lone background ring fills its interior (parity); cv2 never writes one
    got = rust(5, 5, [(0, _rust.KIND_MASK, 0.0, [(hole, True)])])[0]
    np.testing.assert_array_equal(got, grid("..... ..... ..#.. ..... ....."))
    # polygon semantics are untouched: the same square as KIND_POLYGON samples centres
    got = rust(5, 5, [(0, _rust.KIND_POLYGON, 0.0, [(outer, False)])])[0]
    np.testing.assert_array_equal(got, grid("####. ####. ####. ####. ....."))
