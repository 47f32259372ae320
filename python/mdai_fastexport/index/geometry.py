"""Annotation geometry: parsed and checked once, stored as flat numpy arrays.

``data`` by mode (pixel coordinates, ``x`` = column, ``y`` = row):

* ``bbox`` ``{x, y, width, height}`` → a 4-vertex ring (kind POLYGON);
* ``polygon``/``freeform`` ``{vertices: [[x, y], ...]}`` (or a flat
  ``[x0, y0, x1, ...]`` list) → one ring (POLYGON);
* ``line`` → one open polyline (STROKE, width ``RasterOptions.line_width``);
* ``location`` ``{x, y}`` → one point (DISC, radius ``RasterOptions.point_radius``);
* ``ellipse`` ``{cx, cy, rx, ry}`` → two "vertices" ``(cx, cy)``, ``(rx, ry)`` (ELLIPSE);
* ``mask`` ``{foreground: [ring, ...], background: [ring, ...]}`` → MASK rings
  whose vertices are pixel *indices* (``cv2.findContours`` output; see
  ``_rust.pyi``).

Problems raise :class:`GeometryProblem` with a reason code: ``null_data``,
``invalid_geometry`` (malformed, or a coordinate beyond ±10^7 px, far outside
any image), ``non_finite_vertex``, ``empty_geometry`` (fills nothing by
construction: fewer than 3 distinct polygon vertices, a zero-size box, a
1-vertex line, a zero radius).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np

from ..errors import OptionError

# Shape kinds, mirrored from the Rust extension (checked at import in raster.py).
KIND_POLYGON = 0
KIND_STROKE = 1
KIND_DISC = 2
KIND_ELLIPSE = 3
KIND_MASK = 4

#: No image is larger than 65535 px; coordinates beyond this bound are input errors.
MAX_COORDINATE = 1e7


@dataclass(frozen=True, slots=True)
class RasterOptions:
    """Parameters of the shapes that have no area of their own.

    Defaults match the stroke and dot sizes of MD.ai's original exporter
    (``cv2`` line thickness 12, circle radius 7).

    Attributes:
        line_width: Width in pixels of the stroke drawn for ``line`` annotations
            (finite, > 0, at most 10,000).
        point_radius: Radius in pixels of the disc drawn for ``location``
            annotations (finite, > 0, at most 10,000).

    Raises:
        OptionError: a value is not a finite number in ``(0, 10000]`` (a ``ValueError``).
    """

    line_width: float = 12.0
    point_radius: float = 7.0

    def __post_init__(self) -> None:
        for name in ("line_width", "point_radius"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise OptionError(f"RasterOptions.{name} must be a number, not {v!r}")
            if not (math.isfinite(v) and 0 < v <= 10_000):
                raise OptionError(f"RasterOptions.{name} must be > 0 and <= 10000, not {v!r}")


class GeometryProblem(Exception):
    """An annotation's geometry cannot be used; ``reason`` is the skip code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(slots=True)
class Geometry:
    """Geometry of many annotations as flat arrays.

    Annotation ``a`` owns rings ``ann_ring_offsets[a]:ann_ring_offsets[a+1]``;
    ring ``r`` owns ``vertices[ring_vertex_offsets[r]:ring_vertex_offsets[r+1]]``.
    ``kind``/``param`` per annotation follow the Rust extension's shape kinds.
    """

    kind: np.ndarray  # uint8 (n,)
    param: np.ndarray  # float64 (n,)
    ann_ring_offsets: np.ndarray  # uint64 (n+1,)
    ring_vertex_offsets: np.ndarray  # uint64 (n_rings+1,)
    ring_is_hole: np.ndarray  # bool (n_rings,)
    vertices: np.ndarray  # float64 (n_vertices, 2)

    def __len__(self) -> int:
        return int(self.kind.shape[0])

    @classmethod
    def build(
        cls, kinds: list[int], params: list[float], rings: list[list[tuple[np.ndarray, bool]]]
    ) -> Geometry:
        """From per-annotation ``(kind, param, [(ring, is_hole), ...])``."""
        flat = [r for rs in rings for r in rs]
        return cls(
            kind=np.asarray(kinds, dtype=np.uint8),
            param=np.asarray(params, dtype=np.float64),
            ann_ring_offsets=np.concatenate([[0], np.cumsum([len(r) for r in rings])]).astype(
                np.uint64
            ),
            ring_vertex_offsets=np.concatenate([[0], np.cumsum([len(v) for v, _ in flat])]).astype(
                np.uint64
            ),
            ring_is_hole=np.asarray([h for _, h in flat], dtype=bool),
            vertices=(
                np.ascontiguousarray(np.concatenate([v for v, _ in flat]), dtype=np.float64)
                if flat
                else np.zeros((0, 2), np.float64)
            ),
        )

    def rings(self, a: int) -> list[tuple[np.ndarray, bool]]:
        """The rings of annotation ``a`` as ``(vertices, is_hole)`` pairs."""
        out = []
        for r in range(int(self.ann_ring_offsets[a]), int(self.ann_ring_offsets[a + 1])):
            v0, v1 = int(self.ring_vertex_offsets[r]), int(self.ring_vertex_offsets[r + 1])
            out.append((self.vertices[v0:v1], bool(self.ring_is_hole[r])))
        return out

    def take(self, idx: Iterable[int]) -> Geometry:
        """A new Geometry holding annotations ``idx`` in that order."""
        idx = np.asarray(list(idx), dtype=np.int64)
        aro = self.ann_ring_offsets.astype(np.int64)
        rvo = self.ring_vertex_offsets.astype(np.int64)
        ring_counts = aro[idx + 1] - aro[idx]
        ring_idx = (
            np.concatenate([np.arange(aro[a], aro[a + 1]) for a in idx])
            if len(idx)
            else np.zeros(0, np.int64)
        ).astype(np.int64)
        vert_counts = rvo[ring_idx + 1] - rvo[ring_idx]
        vert_idx = (
            np.concatenate([np.arange(rvo[r], rvo[r + 1]) for r in ring_idx])
            if len(ring_idx)
            else np.zeros(0, np.int64)
        ).astype(np.int64)
        return Geometry(
            kind=self.kind[idx],
            param=self.param[idx],
            ann_ring_offsets=np.concatenate([[0], np.cumsum(ring_counts)]).astype(np.uint64),
            ring_vertex_offsets=np.concatenate([[0], np.cumsum(vert_counts)]).astype(np.uint64),
            ring_is_hole=self.ring_is_hole[ring_idx],
            vertices=np.ascontiguousarray(self.vertices[vert_idx].reshape(-1, 2)),
        )


def _numbers(*values: Any) -> list[float]:
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise GeometryProblem("invalid_geometry", f"expected a number, got {v!r:.60}")
        f = float(v)
        if not math.isfinite(f):
            raise GeometryProblem("non_finite_vertex", f"non-finite coordinate {v!r}")
        if abs(f) > MAX_COORDINATE:
            raise GeometryProblem(
                "invalid_geometry", f"coordinate {v!r} is outside any image (|value| > 1e7)"
            )
        out.append(f)
    return out


_LIST, _PAIR = {list}, {2}
_NUMBER = {int, float}  # exact types (not bool, which subclasses int)


def _ring(points: Any, what: str) -> np.ndarray:
    """A ring from ``[[x, y], ...]`` or a flat ``[x0, y0, x1, y1, ...]`` list."""
    if not isinstance(points, list):
        raise GeometryProblem("invalid_geometry", f"{what} is {type(points).__name__}, not a list")
    if not points:
        raise GeometryProblem("empty_geometry", f"{what} has no vertices")
    if (
        type(points[0]) is list
        and set(map(type, points)) == _LIST
        and set(map(len, points)) == _PAIR
        and set(map(type, chain.from_iterable(points))) <= _NUMBER
    ):
        # the usual [[x, y], ...] of plain numbers (type checks at C speed, no bool, no
        # string numpy would convert): one vectorised check of the values
        arr = np.asarray(points, dtype=np.float64)
        if np.isfinite(arr).all() and np.abs(arr).max() <= MAX_COORDINATE:
            return arr
    if all(isinstance(p, (int, float)) and not isinstance(p, bool) for p in points):
        if len(points) % 2:
            raise GeometryProblem("invalid_geometry", f"{what} is a flat list of odd length")
        flat = _numbers(*points)
    else:
        flat = []
        for p in points:
            if not isinstance(p, (list, tuple)) or len(p) < 2:
                raise GeometryProblem(
                    "invalid_geometry", f"{what} has a malformed vertex {p!r:.60}"
                )
            flat.extend(_numbers(p[0], p[1]))
    return np.asarray(flat, dtype=np.float64).reshape(-1, 2)


def _distinct(v: np.ndarray, at_least: int) -> bool:
    """Whether ``v`` has at least ``at_least`` (2 or 3) distinct vertices."""
    differs = (v != v[0]).any(axis=1)
    if at_least <= 1 or not differs.any():
        return at_least <= 1
    if at_least == 2:
        return True
    second = v[int(differs.argmax())]
    return bool((differs & (v != second).any(axis=1)).any())


def parse_geometry(
    mode: str, data: Any, options: RasterOptions
) -> tuple[int, float, list[tuple[np.ndarray, bool]]]:
    """Parse one annotation's ``data`` into ``(kind, param, rings)``.

    Raises:
        GeometryProblem: with a reason code and a sentence (see the module docstring).
    """
    if data is None:
        raise GeometryProblem("null_data", f"{mode} annotation has null data")
    if not isinstance(data, dict):
        raise GeometryProblem("invalid_geometry", f"data is {type(data).__name__}, not an object")
    if mode == "bbox":
        x, y, w, h = _numbers(data.get("x"), data.get("y"), data.get("width"), data.get("height"))
        if w == 0 or h == 0:
            raise GeometryProblem("empty_geometry", f"bbox has zero size (width={w}, height={h})")
        x0, x1, y0, y1 = min(x, x + w), max(x, x + w), min(y, y + h), max(y, y + h)
        ring = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)
        return KIND_POLYGON, 0.0, [(ring, False)]
    if mode in ("polygon", "freeform"):
        ring = _ring(data.get("vertices"), "vertices")
        if not _distinct(ring, 3):
            raise GeometryProblem("empty_geometry", f"{mode} has fewer than 3 distinct vertices")
        return KIND_POLYGON, 0.0, [(ring, False)]
    if mode == "line":
        ring = _ring(data.get("vertices"), "vertices")
        if not _distinct(ring, 2):
            raise GeometryProblem("empty_geometry", "line has fewer than 2 distinct vertices")
        return KIND_STROKE, options.line_width, [(ring, False)]
    if mode == "location":
        x, y = _numbers(data.get("x"), data.get("y"))
        return KIND_DISC, options.point_radius, [(np.array([[x, y]], dtype=np.float64), False)]
    if mode == "ellipse":
        cx, cy, rx, ry = _numbers(data.get("cx"), data.get("cy"), data.get("rx"), data.get("ry"))
        if rx <= 0 or ry <= 0:
            raise GeometryProblem(
                "empty_geometry" if rx == 0 or ry == 0 else "invalid_geometry",
                f"ellipse radii must be > 0 (rx={rx}, ry={ry})",
            )
        return KIND_ELLIPSE, 0.0, [(np.array([[cx, cy], [rx, ry]], dtype=np.float64), False)]
    if mode == "mask":
        fg = data.get("foreground")
        bg = data.get("background")
        if fg is None or fg == []:
            raise GeometryProblem("null_data", "mask annotation has no foreground polygon")
        if not isinstance(fg, list) or not isinstance(bg, (list, type(None))):
            raise GeometryProblem("invalid_geometry", "mask foreground/background must be lists")
        rings = [(_ring(p, f"foreground[{i}]"), False) for i, p in enumerate(fg)]
        rings += [(_ring(p, f"background[{i}]"), True) for i, p in enumerate(bg or [])]
        return KIND_MASK, 0.0, rings
    raise GeometryProblem("invalid_geometry", f"unknown annotation mode {mode!r}")
