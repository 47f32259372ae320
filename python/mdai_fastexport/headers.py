"""Rebuild pydicom headers from the metadata export's ``dicomTags`` dicts.

MD.ai's metadata export stores each instance's header as ``keyword -> value``
(sequences as lists of dicts, multi-valued attributes as lists, numbers as
numbers or strings, binary values as ``"b'...'"`` strings). highdicom only needs
headers, never pixel data, so a :class:`pydicom.Dataset` rebuilt from that dict
is a valid ``source_images`` / ``evidence`` item.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from pydicom import Dataset
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.sequence import Sequence
from pydicom.valuerep import DSfloat

from .errors import ExportError


def floats(value: Any, n: int | None = None) -> list[float] | None:
    """Finite numbers from a tag value (number, list, or backslash-joined string);
    None if absent, malformed, non-finite or not ``n`` values."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        parts: list[Any] = [value]
    elif isinstance(value, str):
        parts = value.split("\\")
    elif isinstance(value, (list, tuple)):
        parts = list(value)
    else:
        return None
    out = []
    for p in parts:
        if isinstance(p, bool) or not isinstance(p, (int, float, str)):
            return None
        try:
            f = float(p)
        except ValueError:
            return None
        if not math.isfinite(f):
            return None
        out.append(f)
    if not out or (n is not None and len(out) != n):
        return None
    return out


def integer(value: Any) -> int | None:
    """An integer tag value (``512``, ``"512"``, ``512.0``); None if absent or not integral."""
    f = floats(value, 1)
    if f is None or not f[0].is_integer():
        return None
    return int(f[0])


#: Binary VRs are never needed to build SEG/SR and arrive as Python-literal
#: strings; they are dropped rather than guessed at.
_BINARY_VRS = {"OB", "OW", "OD", "OF", "OL", "OV", "UN", "OB or OW", "AT"}
_INT_VRS = {"US", "SS", "UL", "SL", "UV", "SV", "US or SS"}
_FLOAT_VRS = {"FL", "FD"}
#: Attributes that must not be copied from a source header into our dataset
#: (pixel-level and file-level elements).
_DROP = {
    "PixelData",
    "FloatPixelData",
    "DoubleFloatPixelData",
    "EncapsulatedDocument",
    "SpecificCharacterSet",
}


def _num_list(value: Any) -> list[Any]:
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, str) and "\\" in value:
        return value.split("\\")
    return [value]


def _to_ds(v: Any) -> DSfloat | None:
    if v is None or v == "":
        return None
    f = float(v)
    if not math.isfinite(f):
        raise ValueError(f"non-finite decimal {v!r}")
    return DSfloat(f, auto_format=True)


def _to_is(v: Any) -> int | None:
    if v is None or v == "":
        return None
    f = float(v)
    if not f.is_integer():
        raise ValueError(f"non-integer value {v!r} for an IS attribute")
    return int(f)


def _convert(keyword: str, vr: str, value: Any) -> tuple[str, Any]:
    if value is None:
        return vr, None
    if vr == "SQ":
        items = value if isinstance(value, list) else [value]
        return vr, Sequence([tags_to_dataset(i) for i in items if isinstance(i, Mapping)])
    if vr == "DS":
        vals = [_to_ds(v) for v in _num_list(value)]
        return vr, vals[0] if len(vals) == 1 else vals
    if vr == "IS":
        vals = [_to_is(v) for v in _num_list(value)]
        return vr, vals[0] if len(vals) == 1 else vals
    if vr in _INT_VRS:
        vals = [int(float(v)) for v in _num_list(value)]
        if vr == "US or SS":
            vr = "SS" if any(v < 0 for v in vals) else "US"
        return vr, vals[0] if len(vals) == 1 else vals
    if vr in _FLOAT_VRS:
        vals = [float(v) for v in _num_list(value)]
        return vr, vals[0] if len(vals) == 1 else vals
    # string VRs
    if isinstance(value, list):
        return vr, [("" if v is None else str(v)) for v in value]
    if isinstance(value, dict):
        # PN as {"Alphabetic": ...} (DICOM JSON style)
        return vr, str(value.get("Alphabetic", ""))
    return vr, str(value)


def tags_to_dataset(tags: Mapping[str, Any]) -> Dataset:
    """Build a :class:`pydicom.Dataset` from a ``dicomTags`` mapping.

    Unknown keywords, private attributes, binary values and values that cannot
    be converted to their VR are dropped: the outputs never need them.
    """
    ds = Dataset()
    for keyword, value in tags.items():
        if keyword in _DROP:
            continue
        tag = tag_for_keyword(keyword)
        if tag is None:
            continue
        vr = dictionary_VR(tag)
        if vr in _BINARY_VRS:
            continue
        try:
            vr, converted = _convert(keyword, vr, value)
        except (TypeError, ValueError):
            continue
        ds.add_new(tag, vr, converted)
    return ds


def instance_header(uid: str, tags: Mapping[str, Any], required: tuple[str, ...]) -> Dataset:
    """The header of instance ``uid`` for highdicom: rebuilt from ``tags``, with the SOP
    Instance UID of the metadata entry and a Modality (``OT`` when absent).

    Raises:
        ExportError: any of the ``required`` attributes is absent or empty (all are named).
    """
    ds = tags_to_dataset(tags)
    ds.SOPInstanceUID = uid
    missing = [k for k in required if k not in ds or ds[k].value in (None, "")]
    if missing:
        raise ExportError(f"instance {uid}: metadata lacks {', '.join(missing)}")
    if not ds.get("Modality"):
        ds.Modality = "OT"
    return ds
