"""The Rust rasteriser against independent implementations, on random shapes.

References written here, not shared with the package:
* even-odd point-in-polygon over all pixel centres (vectorised crossing number),
* distance-to-segment for strokes and discs, the inequality for ellipses,
* ``skimage.draw.polygon`` (centres on integer coordinates, so shifted by 0.5),
* ``numpy.packbits(bitorder="little")`` for the DICOM bit layout.

Random float vertices make exact ties (a centre exactly on an edge) events of
probability ~0, so those comparisons are exact. Integer vertices do produce
ties; there the comparison ignores only pixels whose centre lies on an edge.
"""

from __future__ import annotations

import itertools

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
    assert packed == _rust.rasterize_packed(rows, cols, 3, *_pack_shapes(shapes, 3))
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
