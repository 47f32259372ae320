"""Element, item and sequence encoding for the hot paths (Little Endian, Explicit or Implicit VR).

pydicom encodes through generic machinery, ~10 µs per element. A SEG's per-frame
functional groups and an SR's content tree have tens of thousands of elements of
a few fixed shapes, so they are encoded here, as bytes, and spliced behind the
pydicom-encoded header (:mod:`.part10`). The bytes are the ones pydicom writes
for the same values (defined lengths, space/NUL padding to even length), which
``tests/test_encode.py`` checks element by element and file by file.

Values arrive already formatted (see :mod:`.values`); these functions only add
tags, VRs, lengths and padding.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence

import numpy as np
from pydicom import Dataset
from pydicom.dataelem import DataElement

#: VRs with a 4-byte length field in Explicit VR (PS3.5 Table 7.1-1).
LONG_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"})
_ITEM = b"\xfe\xff\x00\xe0"
_PACK_HH2sH = struct.Struct("<HH2sH").pack
_PACK_HH2sHI = struct.Struct("<HH2sHI").pack
_PACK_HHI = struct.Struct("<HHI").pack
_PACK_I = struct.Struct("<I").pack


class ValueTooLong(ValueError):
    """A value does not fit the 2-byte length field of its VR in Explicit VR."""


class Codec:
    """Encoder for one transfer syntax: Explicit VR Little Endian (default) or Implicit.

    Implicit VR gives every element a 4-byte length; the SR writer falls back to it
    when a value (e.g. the GraphicData of a 10^5-vertex polygon) is longer than
    the 65,534 bytes an Explicit VR FL element can hold.
    """

    __slots__ = ("_heads", "implicit")

    def __init__(self, implicit: bool = False) -> None:
        self.implicit = implicit
        self._heads: dict[tuple[int, str], tuple[bytes, bool]] = {}

    def _head(self, tag: int, vr: str) -> tuple[bytes, bool]:
        key = (tag, vr)
        head = self._heads.get(key)
        if head is None:
            group, elem = tag >> 16, tag & 0xFFFF
            if self.implicit:
                head = (struct.pack("<HH", group, elem), True)
            else:
                head = (struct.pack("<HH2s", group, elem, vr.encode()), vr in LONG_VRS)
            self._heads[key] = head
        return head

    def element(self, tag: int, vr: str, value: bytes) -> bytes:
        """One element; ``value`` must already have even length."""
        prefix, long_length = self._head(tag, vr)
        n = len(value)
        if self.implicit:
            return prefix + _PACK_I(n) + value
        if long_length:
            return prefix + b"\x00\x00" + _PACK_I(n) + value
        if n > 0xFFFF:
            raise ValueTooLong(
                f"({tag >> 16:04X},{tag & 0xFFFF:04X}) {vr} value of {n} bytes does not fit "
                "Explicit VR"
            )
        return prefix + n.to_bytes(2, "little") + value

    def text(self, tag: int, vr: str, value: str | None) -> bytes:
        """A string value (already valid for ``vr``), UTF-8, space-padded."""
        raw = value.encode("utf-8") if value else b""
        if len(raw) & 1:
            raw += b" "
        return self.element(tag, vr, raw)

    def texts(self, tag: int, vr: str, values: Sequence[str]) -> bytes:
        """A multi-valued string (values joined with backslash)."""
        return self.text(tag, vr, "\\".join(values))

    def uid(self, tag: int, value: str) -> bytes:
        """A UI value, NUL-padded."""
        raw = value.encode("ascii")
        if len(raw) & 1:
            raw += b"\x00"
        return self.element(tag, "UI", raw)

    def us(self, tag: int, *values: int) -> bytes:
        return self.element(tag, "US", struct.pack(f"<{len(values)}H", *values))

    def ul(self, tag: int, *values: int) -> bytes:
        return self.element(tag, "UL", struct.pack(f"<{len(values)}I", *values))

    def fl(self, tag: int, values: np.ndarray | Sequence[float]) -> bytes:
        return self.element(tag, "FL", np.asarray(values, dtype="<f4").tobytes())

    def fd(self, tag: int, values: np.ndarray | Sequence[float]) -> bytes:
        return self.element(tag, "FD", np.asarray(values, dtype="<f8").tobytes())

    def at(self, tag: int, *tags: int) -> bytes:
        return self.element(
            tag, "AT", b"".join(struct.pack("<HH", t >> 16, t & 0xFFFF) for t in tags)
        )

    def item(self, body: bytes) -> bytes:
        """A sequence item with a defined length."""
        return _ITEM + _PACK_I(len(body)) + body

    def sequence(self, tag: int, items: Iterable[bytes]) -> bytes:
        """A sequence of already-encoded item *bodies* (each wrapped in an item here)."""
        return self.element(tag, "SQ", b"".join(_ITEM + _PACK_I(len(b)) + b for b in items))

    def code(self, tag: int, value: str, scheme: str, meaning: str) -> bytes:
        """A one-item code sequence (CodeValue, CodingSchemeDesignator, CodeMeaning)."""
        body = (
            self.text(0x00080100, "SH", value)
            + self.text(0x00080102, "SH", scheme)
            + self.text(0x00080104, "LO", meaning)
        )
        return self.sequence(tag, (body,))


EXPLICIT = Codec(implicit=False)
IMPLICIT = Codec(implicit=True)


def implicit_head(tag: int, length: int) -> bytes:
    """Header of an Implicit VR element (used to re-frame pre-encoded values)."""
    return _PACK_HHI(tag >> 16, tag & 0xFFFF, length)


def explicit_long_head(tag: int, vr: str, length: int) -> bytes:
    """Header of an Explicit VR element with a 4-byte length (OB, SQ, UT, ...)."""
    return _PACK_HH2sHI(tag >> 16, tag & 0xFFFF, vr.encode(), 0, length)


def explicit_short_head(tag: int, vr: str, length: int) -> bytes:
    """Header of an Explicit VR element with a 2-byte length."""
    return _PACK_HH2sH(tag >> 16, tag & 0xFFFF, vr.encode(), length)


# --- pydicom datasets ------------------------------------------------------------------------
#: String VRs written as text (UI is NUL-padded, the rest space-padded).
TEXT_VRS = frozenset(
    {"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM", "UC", "UR", "UT"}
)
_NUMERIC = {"US": "H", "SS": "h", "UL": "I", "SL": "i", "FL": "f", "FD": "d", "UV": "Q", "SV": "q"}


def _values(value: object) -> list[object]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return list(value)  # type: ignore[call-overload]
    return [value]


def encode_element(elem: DataElement, codec: Codec = EXPLICIT) -> bytes:
    """One pydicom data element, encoded as pydicom would (checked in the tests).

    Raises:
        NotImplementedError: a VR the outputs never contain (``OF``, ``OL``, ...).
    """
    tag, vr = int(elem.tag), elem.VR
    if vr == "SQ":
        return codec.sequence(tag, (encode_dataset(item, codec) for item in elem.value or ()))
    values = _values(elem.value)
    if not values or (len(values) == 1 and values[0] == ""):
        return codec.element(tag, vr, b"")
    if vr == "UI":
        return codec.uid(tag, "\\".join(str(v) for v in values))
    if vr in TEXT_VRS:
        return codec.text(tag, vr, "\\".join("" if v is None else str(v) for v in values))
    fmt = _NUMERIC.get(vr)
    if fmt is not None:
        return codec.element(tag, vr, struct.pack(f"<{len(values)}{fmt}", *values))
    if vr == "AT":
        return codec.at(tag, *(int(v) for v in values))  # type: ignore[call-overload]
    if vr in ("OB", "UN", "OW"):
        raw = bytes(elem.value)
        return codec.element(tag, vr, raw + b"\x00" if len(raw) % 2 else raw)
    raise NotImplementedError(f"encoding of VR {vr} ({elem.tag})")


def encode_elements(ds: Dataset, codec: Codec = EXPLICIT) -> dict[int, bytes]:
    """Every element of ``ds`` encoded, by tag (merge several, then :func:`join`)."""
    return {int(elem.tag): encode_element(elem, codec) for elem in ds}


def encode_dataset(ds: Dataset, codec: Codec = EXPLICIT) -> bytes:
    """``ds`` encoded: its elements in ascending tag order (group lengths left out)."""
    return join(encode_elements(ds, codec))


def join(elements: dict[int, bytes]) -> bytes:
    """Encoded elements in ascending tag order, without group length elements (gggg,0000)
    of groups above 0x0006 (as pydicom writes datasets)."""
    return b"".join(elements[t] for t in sorted(elements) if (t & 0xFFFF) != 0 or (t >> 16) <= 6)
