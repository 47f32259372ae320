"""The floor: the least work any exporter of these inputs has to do.

* parse both JSON exports with orjson;
* (SEG) rasterise every exportable annotation's geometry with the package's Rust
  rasteriser ``mdai_fastexport._rust.rasterize`` — one call per output file, with
  the geometry flattened here straight from the JSON (same grouping as
  ``export_seg``: dataset × series × annotator or model, one frame per label ×
  image);
* write the output bytes, either

  - **raw**: the bytes of our own output files, read into memory beforehand
    (untimed), written again; or
  - **pydicom**: our output files ``dcmread`` beforehand (untimed), then
    ``dcmwrite`` (pydicom's encoder) timed.

The SR floor is the same without rasterisation (SR needs no pixels).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import orjson

LOCAL = {"bbox", "polygon", "freeform", "line", "location", "ellipse", "mask"}
LINE_WIDTH = 12.0
POINT_RADIUS = 7.0


def load_rust() -> ModuleType:
    """Import ``mdai_fastexport._rust`` without executing the package's ``__init__``
    (which imports highdicom and the pipeline), so the floor pays for the extension
    only; falls back to the ordinary import."""
    spec = importlib.util.find_spec("mdai_fastexport")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = Path(folder) / f"_rust{suffix}"
            if path.is_file():
                ext_spec = importlib.util.spec_from_file_location("mdai_fastexport._rust", path)
                if ext_spec is not None and ext_spec.loader is not None:
                    module = importlib.util.module_from_spec(ext_spec)
                    ext_spec.loader.exec_module(module)
                    return module
    from mdai_fastexport import _rust

    return _rust


class _Shapes:
    """Flat geometry arrays for one ``rasterize`` call."""

    def __init__(self) -> None:
        self.frame: list[int] = []
        self.kind: list[int] = []
        self.param: list[float] = []
        self.ring_offsets: list[int] = [0]
        self.vertex_offsets: list[int] = [0]
        self.is_hole: list[bool] = []
        self.vertices: list[list[float]] = []

    def add(self, frame: int, kind: int, param: float, rings: list[tuple[Any, bool]]) -> None:
        self.frame.append(frame)
        self.kind.append(kind)
        self.param.append(param)
        for ring, hole in rings:
            self.vertices.extend(ring)
            self.vertex_offsets.append(len(self.vertices))
            self.is_hole.append(hole)
        self.ring_offsets.append(len(self.is_hole))

    def arrays(self) -> tuple[np.ndarray, ...]:
        verts = np.asarray(self.vertices, dtype=np.float64).reshape(-1, 2)
        return (
            np.asarray(self.frame, dtype=np.uint32),
            np.asarray(self.kind, dtype=np.uint8),
            np.asarray(self.param, dtype=np.float64),
            np.asarray(self.ring_offsets, dtype=np.uint64),
            np.asarray(self.vertex_offsets, dtype=np.uint64),
            np.asarray(self.is_hole, dtype=np.bool_),
            np.ascontiguousarray(verts),
        )


def _add_annotation(rust: ModuleType, shapes: _Shapes, frame: int, mode: str, d: Any) -> None:
    if mode == "bbox":
        x, y, w, h = d["x"], d["y"], d["width"], d["height"]
        ring = [[x, y], [x + w, y], [x + w, y + h], [x, y + h]]
        shapes.add(frame, rust.KIND_POLYGON, 0.0, [(ring, False)])
    elif mode in ("polygon", "freeform"):
        shapes.add(frame, rust.KIND_POLYGON, 0.0, [(d["vertices"], False)])
    elif mode == "line":
        shapes.add(frame, rust.KIND_STROKE, LINE_WIDTH, [(d["vertices"], False)])
    elif mode == "location":
        shapes.add(frame, rust.KIND_DISC, POINT_RADIUS, [([[d["x"], d["y"]]], False)])
    elif mode == "ellipse":
        ring = [[d["cx"], d["cy"]], [d["rx"], d["ry"]]]
        shapes.add(frame, rust.KIND_ELLIPSE, 0.0, [(ring, False)])
    elif mode == "mask":
        kind = getattr(rust, "KIND_MASK", rust.KIND_POLYGON)
        rings = [(r, False) for r in d.get("foreground") or []]
        rings += [(r, True) for r in d.get("background") or []]
        shapes.add(frame, kind, 0.0, rings)


def parse_and_rasterise(
    ann_path: Path, meta_path: Path, rasterise: bool, rust: ModuleType | None
) -> dict[str, int]:
    """Parse both exports; if ``rasterise``, fill every exportable annotation's mask.

    Returns:
        ``annotations`` rasterised, ``frames`` (label × image planes) and
        ``calls`` (one per output file).
    """
    ann = orjson.loads(Path(ann_path).read_bytes())
    meta = orjson.loads(Path(meta_path).read_bytes())
    if not rasterise or rust is None:
        return {"annotations": 0, "frames": 0, "calls": 0}
    labels = {lab["id"]: lab for g in ann["labelGroups"] for lab in g["labels"]}
    dims: dict[str, tuple[int, int, int]] = {}
    for d in meta["datasets"]:
        for m in d["dicomMetadata"]:
            t = m["dicomTags"]
            dims[m["SOPInstanceUID"]] = (
                int(t.get("Rows") or 0),
                int(t.get("Columns") or 0),
                int(t.get("NumberOfFrames") or 1),
            )
    # (dataset, series, annotator) -> list of (sop, frame number, label id, mode, data)
    files: dict[tuple[str, str, str], list[tuple[str, int, str, str, Any]]] = {}
    for d in ann["datasets"]:
        for a in d["annotations"]:
            lab = labels.get(a["labelId"])
            sop = a.get("SOPInstanceUID")
            if lab is None or lab["scope"] != "INSTANCE" or a.get("data") is None:
                continue
            mode = lab.get("annotationMode")
            if mode not in LOCAL or sop not in dims:
                continue
            # a model's annotations make their own file, as a separate annotator
            key = (d["id"], a["SeriesInstanceUID"], a.get("modelId") or a["createdById"])
            files.setdefault(key, []).append(
                (sop, int(a.get("frameNumber") or 0), a["labelId"], mode, a["data"])
            )
    n_ann = n_frames = 0
    for items in files.values():
        rows, cols, _ = dims[items[0][0]]
        planes: dict[tuple[str, str, int], int] = {}
        shapes = _Shapes()
        for sop, frame_no, label_id, mode, data in items:
            frame = planes.setdefault((label_id, sop, frame_no), len(planes))
            _add_annotation(rust, shapes, frame, mode, data)
        masks = rust.rasterize(rows, cols, len(planes), *shapes.arrays())
        del masks
        n_ann += len(items)
        n_frames += len(planes)
    return {"annotations": n_ann, "frames": n_frames, "calls": len(files)}


def prepare_raw(source_dir: Path) -> list[tuple[str, bytes]]:
    """Untimed: the bytes of every ``*.dcm`` in ``source_dir``."""
    return [(p.name, p.read_bytes()) for p in sorted(source_dir.glob("*.dcm"))]


def prepare_pydicom(source_dir: Path) -> list[tuple[str, Any]]:
    """Untimed: every ``*.dcm`` in ``source_dir`` read fully with pydicom."""
    import pydicom

    return [(p.name, pydicom.dcmread(p)) for p in sorted(source_dir.glob("*.dcm"))]


def write_raw(items: list[tuple[str, bytes]], out_dir: Path) -> int:
    """Write the bytes again; return the number of files."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, data in items:
        (out_dir / name).write_bytes(data)
    return len(items)


def write_pydicom(items: list[tuple[str, Any]], out_dir: Path) -> int:
    """Encode the datasets again with ``pydicom.dcmwrite``; return the number of files."""
    import pydicom

    out_dir.mkdir(parents=True, exist_ok=True)
    for name, ds in items:
        pydicom.dcmwrite(out_dir / name, ds, enforce_file_format=True)
    return len(items)


WRITERS: dict[str, tuple[Callable[[Path], list[Any]], Callable[[list[Any], Path], int]]] = {
    "raw": (prepare_raw, write_raw),
    "pydicom": (prepare_pydicom, write_pydicom),
}
