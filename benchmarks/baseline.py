"""A straightforward SEG pipeline to measure mdai-fastexport against.

What a careful engineer writes first with the same building blocks: the stdlib
``json`` parser, a linear scan to group annotations, a Python rasteriser
(``skimage.draw`` for polygons, boxes, ellipses and discs; a distance test for
strokes), one highdicom ``Segmentation`` per file built serially, and
``save_as``. It writes the same files as ``export_seg`` (same grouping: one file
per dataset, series and annotator (or model) with every label group; same pixel
convention), only slower; the benchmark prints both frame counts so the
comparison can be checked to be like for like.

Only public building blocks are used (pydicom, highdicom, scikit-image): the
``dicomTags`` → header conversion below is the benchmark's own, so the package's
internals can change without touching this file.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import highdicom as hd
import numpy as np
from pydicom import Dataset
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.sequence import Sequence
from pydicom.valuerep import DA, DT, TM, DSfloat
from skimage import draw

#: Annotation modes that carry geometry (local labels).
LOCAL = {"bbox", "polygon", "freeform", "line", "location", "ellipse", "mask"}
_SKIP_VRS = {"OB", "OW", "OD", "OF", "OL", "OV", "UN", "OB or OW", "AT"}
_INT_VRS = {"US", "SS", "UL", "SL", "UV", "SV", "US or SS"}
_SKIP_KEYWORDS = {"PixelData", "SpecificCharacterSet"}
_DATETIME_VRS: dict[str, Callable[[str], Any]] = {"DA": DA, "TM": TM, "DT": DT}


def _values(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _one_or_many(vals: list[Any]) -> Any:
    return vals[0] if len(vals) == 1 else vals


def tags_to_dataset(tags: Mapping[str, Any]) -> Dataset:
    """Rebuild a pydicom header from a metadata export ``dicomTags`` dict.

    A first-version converter: keywords looked up in pydicom's dictionary,
    sequences recursed into, numbers converted for numeric VRs, binary and
    unknown attributes (and anything else that does not convert) dropped, an
    invalid date or time kept empty.
    """
    ds = Dataset()
    for keyword, value in tags.items():
        tag = tag_for_keyword(keyword)
        if tag is None or keyword in _SKIP_KEYWORDS or value is None:
            continue
        vr = dictionary_VR(tag)
        if vr in _SKIP_VRS:
            continue
        try:
            if vr == "SQ":
                converted: Any = Sequence(
                    [tags_to_dataset(item) for item in value if isinstance(item, Mapping)]
                )
            elif vr in _INT_VRS:
                ints = [int(float(v)) for v in _values(value)]
                if vr == "US or SS":
                    vr = "SS" if min(ints) < 0 else "US"
                converted = _one_or_many(ints)
            elif vr in ("FL", "FD"):
                converted = _one_or_many([float(v) for v in _values(value)])
            elif vr == "DS":
                converted = _one_or_many([DSfloat(v, auto_format=True) for v in _values(value)])
            elif vr == "IS":
                converted = _one_or_many([int(float(v)) for v in _values(value)])
            elif vr in _DATETIME_VRS:
                # an invalid date/time (some exports have them) would make highdicom raise;
                # kept empty, as the attribute may be required (type 2)
                strings = [str(v) for v in _values(value)]
                try:
                    for v in strings:
                        _DATETIME_VRS[vr](v)
                    converted = _one_or_many(strings)
                except ValueError:
                    converted = None
            elif isinstance(value, list):
                converted = [str(v) for v in value]
            else:
                converted = str(value)
            ds.add_new(tag, vr, converted)
        except (TypeError, ValueError):
            continue
    return ds


def _poly(mask: np.ndarray, pts: list[list[float]], value: bool = True) -> None:
    v = np.asarray(pts, dtype=float)
    if len(v) < 3:
        return
    # skimage puts pixel centres on integer coordinates; MD.ai's are at +0.5
    rr, cc = draw.polygon(v[:, 1] - 0.5, v[:, 0] - 0.5, shape=mask.shape)
    mask[rr, cc] = value


def rasterize(
    mode: str,
    data: dict[str, Any],
    shape: tuple[int, int],
    line_width: float = 12.0,
    point_radius: float = 7.0,
) -> np.ndarray:
    """One annotation's mask with the Python rasteriser."""
    m = np.zeros(shape, dtype=bool)
    if mode == "bbox":
        x, y, w, h = data["x"], data["y"], data["width"], data["height"]
        _poly(m, [[x, y], [x + w, y], [x + w, y + h], [x, y + h]])
    elif mode in ("polygon", "freeform"):
        _poly(m, data["vertices"])
    elif mode == "mask":
        fg = np.zeros(shape, dtype=bool)
        for p in data.get("foreground") or []:
            part = np.zeros(shape, dtype=bool)
            _poly(part, p)
            fg |= part
        for p in data.get("background") or []:
            hole = np.zeros(shape, dtype=bool)
            _poly(hole, p)
            fg &= ~hole
        m = fg
    elif mode == "ellipse":
        rr, cc = draw.ellipse(
            data["cy"] - 0.5, data["cx"] - 0.5, data["ry"], data["rx"], shape=shape
        )
        m[rr, cc] = True
    elif mode == "location":
        rr, cc = draw.disk((data["y"] - 0.5, data["x"] - 0.5), point_radius, shape=shape)
        m[rr, cc] = True
    elif mode == "line":
        yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
        px, py = xx + 0.5, yy + 0.5
        v = np.asarray(data["vertices"], dtype=float)
        for (x0, y0), (x1, y1) in itertools.pairwise(v):
            dx, dy = x1 - x0, y1 - y0
            den = dx * dx + dy * dy
            t = np.clip(((px - x0) * dx + (py - y0) * dy) / den, 0, 1) if den else 0.0
            m |= np.hypot(px - (x0 + t * dx), py - (y0 + t * dy)) <= line_width / 2
    return m


def export_seg_baseline(ann_path: Path, meta_path: Path, out_dir: Path) -> dict[str, int]:
    """Write one SEG per (dataset, series, annotator).

    Returns:
        ``files``, ``frames`` and ``annotations`` (annotations rasterised) written.
    """
    ann = json.loads(Path(ann_path).read_text())
    meta = json.loads(Path(meta_path).read_text())
    labels = {lab["id"]: lab for g in ann["labelGroups"] for lab in g["labels"]}
    entries = [m for d in meta["datasets"] for m in d["dicomMetadata"]]
    known = {m["SOPInstanceUID"] for m in entries}
    out_dir.mkdir(parents=True, exist_ok=True)
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for d in ann["datasets"]:
        for a in d["annotations"]:
            lab = labels.get(a["labelId"])
            if not lab or lab["scope"] != "INSTANCE" or lab.get("annotationMode") not in LOCAL:
                continue
            if a.get("data") is None or a.get("SOPInstanceUID") not in known:
                continue
            key = (d["id"], a["SeriesInstanceUID"], a.get("modelId") or a["createdById"])
            groups.setdefault(key, []).append(a)
    frames = annotations = 0
    for n, ((_did, series, _user), anns) in enumerate(sorted(groups.items())):
        sops: list[str] = []
        for a in anns:  # linear scans, as a first version would do
            if a["SOPInstanceUID"] not in sops:
                sops.append(a["SOPInstanceUID"])
        tags = {
            m["SOPInstanceUID"]: m["dicomTags"] for m in entries if m["SeriesInstanceUID"] == series
        }
        sops.sort(key=lambda s: int(tags[s].get("InstanceNumber") or 0))
        sources = []
        for s in sops:
            ds = tags_to_dataset(tags[s])
            ds.SOPInstanceUID = s
            sources.append(ds)
        rows, cols = int(sources[0].Rows), int(sources[0].Columns)
        multiframe = len(sources) == 1 and int(sources[0].get("NumberOfFrames") or 1) > 1
        n_planes = int(sources[0].NumberOfFrames) if multiframe else len(sources)
        seg_ids = sorted({a["labelId"] for a in anns}, key=list(labels).index)
        arr = np.zeros((n_planes, rows, cols, len(seg_ids)), dtype=bool)
        for a in anns:
            plane = (a.get("frameNumber") or 0) if multiframe else sops.index(a["SOPInstanceUID"])
            k = seg_ids.index(a["labelId"])
            arr[plane, :, :, k] |= rasterize(
                labels[a["labelId"]]["annotationMode"], a["data"], (rows, cols)
            )
            annotations += 1
        descriptions = [
            hd.seg.SegmentDescription(
                segment_number=k + 1,
                segment_label=labels[lid]["name"][:64],
                segmented_property_category=hd.sr.CodedConcept("G", "99MDAI", "Label group"),
                segmented_property_type=hd.sr.CodedConcept(
                    lid[:16], "99MDAI", labels[lid]["name"][:64]
                ),
                algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
            )
            for k, lid in enumerate(seg_ids)
        ]
        seg = hd.seg.Segmentation(
            source_images=sources,
            pixel_array=arr,
            segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
            segment_descriptions=descriptions,
            series_instance_uid=hd.UID(),
            series_number=1000,
            sop_instance_uid=hd.UID(),
            instance_number=1,
            manufacturer="baseline",
            manufacturer_model_name="baseline",
            software_versions="0",
            device_serial_number="0",
        )
        seg.save_as(out_dir / f"seg_{n:05d}.dcm")
        frames += int(seg.NumberOfFrames)
    return {"files": len(groups), "frames": frames, "annotations": annotations}
