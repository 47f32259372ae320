"""A dataset under construction as encoded elements, addressed by keyword.

:class:`Elements` is what the SEG and SR headers are built with: each
attribute is encoded the moment it is set (tag and VR from pydicom's data
dictionary), elements from other sources (copied patient/study attributes,
highdicom content items) are merged in already encoded, and :meth:`encode`
joins them in tag order. Building a header this way costs a few dict
operations per attribute instead of pydicom's per-element machinery.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache

from pydicom.datadict import dictionary_VR, tag_for_keyword

from .encode import EXPLICIT, TEXT_VRS, Codec, join


@cache
def tag_vr(keyword: str) -> tuple[int, str]:
    """(tag, VR) of a standard keyword."""
    tag = tag_for_keyword(keyword)
    if tag is None:
        raise KeyError(f"unknown DICOM keyword {keyword!r}")
    return int(tag), dictionary_VR(tag)


class Elements:
    """Encoded elements of one dataset (or sequence item), by tag."""

    __slots__ = ("c", "elements")

    def __init__(self, codec: Codec = EXPLICIT) -> None:
        self.c = codec
        self.elements: dict[int, bytes] = {}

    def set(self, keyword: str, value: str | int | float | Sequence[str] | None) -> Elements:
        """Set a string, UID or numeric attribute (None or "" = empty, for Type 2)."""
        tag, vr = tag_vr(keyword)
        c = self.c
        if value is None or value == "":
            self.elements[tag] = c.element(tag, vr, b"")
        elif vr == "UI":
            self.elements[tag] = c.uid(tag, str(value))
        elif vr in TEXT_VRS:
            text = "\\".join(value) if isinstance(value, (list, tuple)) else str(value)
            self.elements[tag] = c.text(tag, vr, text)
        elif vr == "US":
            self.elements[tag] = c.us(
                tag, *(value if isinstance(value, (list, tuple)) else [value])
            )  # type: ignore[arg-type]
        elif vr == "UL":
            self.elements[tag] = c.ul(
                tag, *(value if isinstance(value, (list, tuple)) else [value])
            )  # type: ignore[arg-type]
        elif vr == "AT":
            self.elements[tag] = c.at(tag, int(value))  # type: ignore[arg-type]
        else:
            raise NotImplementedError(f"{keyword}: VR {vr}")
        return self

    def sequence(self, keyword: str, items: Iterable[bytes | Elements]) -> Elements:
        """Set a sequence from item bodies (encoded bytes or :class:`Elements`)."""
        tag, _ = tag_vr(keyword)
        self.elements[tag] = self.c.sequence(
            tag, (i.encode() if isinstance(i, Elements) else i for i in items)
        )
        return self

    def code(self, keyword: str, value: str, scheme: str, meaning: str) -> Elements:
        """Set a one-item code sequence."""
        tag, _ = tag_vr(keyword)
        self.elements[tag] = self.c.code(tag, value, scheme, meaning)
        return self

    def update(self, encoded: dict[int, bytes]) -> Elements:
        """Merge already-encoded elements (later ones win)."""
        self.elements.update(encoded)
        return self

    def __contains__(self, keyword: str) -> bool:
        return tag_vr(keyword)[0] in self.elements

    def encode(self) -> bytes:
        """The elements in ascending tag order."""
        return join(self.elements)
