"""Annotation exports over *any* metadata entries (for the real vendor headers).

Independent of the package: plain Python and cv2 (masks are real
``cv2.findContours(RETR_TREE, CHAIN_APPROX_NONE)`` contours, split by nesting
depth as MD.ai does), so tests can compare the SEG pixels of mask annotations
with the binary masks they were made from.
"""

from __future__ import annotations

import random
from typing import Any

import cv2
import numpy as np

LABELS = [
    # (id, name, scope, mode)
    ("L_study", "Normal study", "STUDY", None),
    ("L_series", "Motion", "SERIES", None),
    ("L_key", "Key image", "INSTANCE", None),
    ("L_poly", "Lesion", "INSTANCE", "polygon"),
    ("L_box", "Box", "INSTANCE", "bbox"),
    ("L_mask", "Organ", "INSTANCE", "mask"),
    ("L_line", "Ruler", "INSTANCE", "line"),
]


def _int(v: Any, default: int = 1) -> int:
    try:
        return int(float(v))
    except (TypeError, ValueError):
        return default


def mask_contours(mask: np.ndarray) -> dict[str, list[list[list[int]]]]:
    """MD.ai's mask ``data`` for a binary mask (contours by even/odd nesting depth)."""
    contours, hierarchy = cv2.findContours(
        mask.astype(np.uint8), cv2.RETR_TREE, cv2.CHAIN_APPROX_NONE
    )
    fg, bg = [], []
    for k, c in enumerate(contours):
        depth, parent = 0, hierarchy[0][k][3]
        while parent >= 0:
            depth += 1
            parent = hierarchy[0][parent][3]
        (bg if depth % 2 else fg).append(c.reshape(-1, 2).tolist())
    return {"foreground": fg, "background": bg}


def random_mask(rng: random.Random, rows: int, cols: int) -> np.ndarray:
    """A blob with a hole (and sometimes an island in the hole)."""
    m = np.zeros((rows, cols), np.uint8)
    cy, cx = rng.uniform(0.3, 0.7) * rows, rng.uniform(0.3, 0.7) * cols
    r = max(3.0, rng.uniform(0.1, 0.25) * min(rows, cols))
    cv2.circle(m, (int(cx), int(cy)), int(r), 1, -1)
    cv2.circle(m, (int(cx), int(cy)), max(1, int(r / 2)), 0, -1)
    if rng.random() < 0.5:
        m[int(cy), int(cx)] = 1
    return m


def annotate(
    entries: list[dict[str, Any]],
    *,
    seed: int = 0,
    annotators: tuple[str, ...] = ("U_a", "U_b"),
    frames_per_instance: int = 3,
    dataset_id: str = "D_vendor",
) -> tuple[dict[str, Any], dict[str, Any], dict[str, np.ndarray]]:
    """``(annotation export, metadata export, {annotation id: binary mask})`` over ``entries``.

    Every instance gets, per annotator and per annotated frame (multi-frame: up to
    ``frames_per_instance`` frames spread over the instance, 0-based ``frameNumber``),
    a polygon, a box, a mask and a line, plus study, series and image labels.
    """
    rng = random.Random(seed)
    masks: dict[str, np.ndarray] = {}
    anns: list[dict[str, Any]] = []
    study = entries[0]["StudyInstanceUID"]

    def add(label: str, user: str, se: str | None, sop: str | None, frame: int | None, data: Any):
        a = {
            "id": f"A_{len(anns):05d}",
            "labelId": label,
            "StudyInstanceUID": study,
            "SeriesInstanceUID": se,
            "SOPInstanceUID": sop,
            "frameNumber": frame,
            "data": data,
            "createdById": user,
            "createdAt": f"2026-05-0{1 + len(anns) % 9}T10:00:{len(anns) % 60:02d}.000Z",
        }
        anns.append(a)
        return a

    for user in annotators:
        add("L_study", user, None, None, None, None)
        add("L_series", user, entries[0]["SeriesInstanceUID"], None, None, None)
        for e in entries:
            tags = e["dicomTags"]
            rows, cols = _int(tags.get("Rows")), _int(tags.get("Columns"))
            nf = _int(tags.get("NumberOfFrames"), 1)
            frames = (
                sorted(
                    {
                        round(k * (nf - 1) / max(1, frames_per_instance - 1))
                        for k in range(frames_per_instance)
                    }
                )
                if nf > 1
                else [None]
            )
            se, sop = e["SeriesInstanceUID"], e["SOPInstanceUID"]
            add("L_key", user, se, sop, frames[0], None)
            for f in frames:
                cx, cy = rng.uniform(0.3, 0.7) * cols, rng.uniform(0.3, 0.7) * rows
                r = max(2.0, 0.2 * min(rows, cols))
                poly = [
                    [round(cx + r * np.cos(t), 3), round(cy + r * np.sin(t), 3)]
                    for t in np.linspace(0, 2 * np.pi, 7)[:-1]
                ]
                add("L_poly", user, se, sop, f, {"vertices": poly})
                add(
                    "L_box",
                    user,
                    se,
                    sop,
                    f,
                    {"x": cx - r, "y": cy - r / 2, "width": r, "height": r / 2 + 1},
                )
                m = random_mask(rng, rows, cols)
                a = add("L_mask", user, se, sop, f, mask_contours(m))
                masks[a["id"]] = m
                add(
                    "L_line", user, se, sop, f, {"vertices": [[1.5, 1.5], [cols - 1.5, rows - 1.5]]}
                )
    labels = [
        {
            "id": lid,
            "name": name,
            "scope": scope,
            "type": "LOCAL" if mode else "GLOBAL",
            "annotationMode": mode,
            "color": "#ff0000",
            "radlexTagIds": [],
        }
        for lid, name, scope, mode in LABELS
    ]
    ann = {
        "id": "P_vendor",
        "name": "Vendor headers",
        "users": [{"id": u, "name": f"User {u}", "email": f"{u}@example.org"} for u in annotators],
        "labelGroups": [{"id": "G_1", "name": "Group", "labels": labels}],
        "datasets": [{"id": dataset_id, "type": "DICOM", "annotations": anns}],
    }
    meta = {"name": "Vendor headers", "datasets": [{"id": dataset_id, "dicomMetadata": entries}]}
    return ann, meta, masks
