"""Independent views of an export for the tests (plain json, no package internals)."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

LOCAL_MODES = {"bbox", "polygon", "freeform", "line", "location", "ellipse", "mask"}


def read(path: Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def labels(ann: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out = {}
    for g in ann["labelGroups"]:
        for lab in g["labels"]:
            out[lab["id"]] = {**lab, "group": g["name"], "group_id": g["id"]}
    return out


def annotations(ann: dict[str, Any]) -> list[dict[str, Any]]:
    return [dict(a, datasetId=d["id"]) for d in ann["datasets"] for a in d["annotations"]]


def instances(meta: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["SOPInstanceUID"]: m for d in meta["datasets"] for m in d["dicomMetadata"]}


def annotator(a: dict[str, Any]) -> str:
    """Who made an annotation: the model for model outputs, else the user."""
    return a.get("modelId") or a.get("machineLearningModelId") or a["createdById"]


def is_local(lab: dict[str, Any]) -> bool:
    return lab["scope"] == "INSTANCE" and lab.get("annotationMode") in LOCAL_MODES


def expected_seg_keys(ann_path: Path, meta_path: Path, split: bool) -> set[tuple[str, ...]]:
    """(dataset, series, annotator[, group]) for which a SEG must exist."""
    ann, meta = read(ann_path), read(meta_path)
    labs, insts = labels(ann), instances(meta)
    keys = set()
    for a in annotations(ann):
        lab = labs.get(a["labelId"])
        if lab is None or not is_local(lab) or a.get("data") is None:
            continue
        if a.get("SOPInstanceUID") not in insts:
            continue
        key = (a["datasetId"], a["SeriesInstanceUID"], annotator(a))
        keys.add((*key, lab["group"]) if split else key)
    return keys


def local_annotations_by_frame(
    ann_path: Path, meta_path: Path
) -> dict[tuple[str, str, str, int], list[dict[str, Any]]]:
    """(annotator, label id, SOP UID, 0-based frame) -> annotations."""
    ann, meta = read(ann_path), read(meta_path)
    labs, insts = labels(ann), instances(meta)
    out: dict[tuple[str, str, str, int], list[dict[str, Any]]] = defaultdict(list)
    for a in annotations(ann):
        lab = labs.get(a["labelId"])
        if lab is None or not is_local(lab) or a.get("data") is None:
            continue
        if a.get("SOPInstanceUID") not in insts:
            continue
        out[(annotator(a), lab["id"], a["SOPInstanceUID"], a.get("frameNumber") or 0)].append(
            dict(a, annotationMode=lab["annotationMode"])
        )
    return out


def unpack_frames(ds: Any) -> np.ndarray:
    """BINARY SEG pixel data → (frames, rows, cols) uint8, straight from the bits."""
    n, r, c = int(ds.NumberOfFrames), int(ds.Rows), int(ds.Columns)
    bits = np.unpackbits(np.frombuffer(ds.PixelData, dtype=np.uint8), bitorder="little")
    return bits[: n * r * c].reshape(n, r, c)
