"""SR content items (PS3.3 C.17.3), encoded straight to bytes.

One method per value type (CONTAINER, CODE, TEXT, UIDREF, PNAME, NUM, IMAGE,
SCOORD). Each returns the *body* of a content item (its elements in tag order,
without the item header); :meth:`ContentEncoder.sequence` wraps bodies into a
Content Sequence. Concept names, coded values and the relationship/value-type
prefix of each (relationship, value type, concept) triple are encoded once per
report and reused — a report repeats the same few dozen codes thousands of
times.

The element layout is the one highdicom's content item classes produce (the
tests compare the two byte for byte and read every report back with
:func:`highdicom.sr.srread`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

import numpy as np

from ..dicom.encode import Codec
from ..dicom.values import ds, lo, ut


class Code(NamedTuple):
    """A coded concept: (value, scheme designator, meaning)."""

    value: str
    scheme: str
    meaning: str


# Tags of content items, in encoding order.
REFERENCED_SOP_SEQUENCE = 0x00081199
REFERENCED_SOP_CLASS_UID = 0x00081150
REFERENCED_SOP_INSTANCE_UID = 0x00081155
REFERENCED_FRAME_NUMBER = 0x00081160
RELATIONSHIP_TYPE = 0x0040A010
VALUE_TYPE = 0x0040A040
CONCEPT_NAME_CODE_SEQUENCE = 0x0040A043
CONTINUITY_OF_CONTENT = 0x0040A050
PERSON_NAME = 0x0040A123
UID = 0x0040A124
TEXT_VALUE = 0x0040A160
CONCEPT_CODE_SEQUENCE = 0x0040A168
MEASURED_VALUE_SEQUENCE = 0x0040A300
MEASUREMENT_UNITS_CODE_SEQUENCE = 0x004008EA
FLOATING_POINT_VALUE = 0x0040A161
NUMERIC_VALUE = 0x0040A30A
CONTENT_TEMPLATE_SEQUENCE = 0x0040A504
MAPPING_RESOURCE = 0x00080105
TEMPLATE_IDENTIFIER = 0x0040DB00
CONTENT_SEQUENCE = 0x0040A730
GRAPHIC_DATA = 0x00700022
GRAPHIC_TYPE = 0x00700023


class ContentEncoder:
    """Encodes content items for one report with one :class:`~..dicom.encode.Codec`."""

    def __init__(self, codec: Codec) -> None:
        self.c = codec
        self._codes: dict[tuple[int, Code], bytes] = {}
        self._heads: dict[tuple[str, str, Code], bytes] = {}
        self._templates: dict[str, bytes] = {}

    def schemes(self) -> set[str]:
        """Coding scheme designators used so far."""
        return {code.scheme for _, code in self._codes}

    def code_sequence(self, tag: int, code: Code) -> bytes:
        """A one-item code sequence element (cached)."""
        key = (tag, code)
        b = self._codes.get(key)
        if b is None:
            b = self.c.code(tag, code.value, code.scheme, lo(code.meaning))
            self._codes[key] = b
        return b

    def _head(self, relationship: str, value_type: str, name: Code) -> bytes:
        key = (relationship, value_type, name)
        b = self._heads.get(key)
        if b is None:
            c = self.c
            b = (
                c.text(RELATIONSHIP_TYPE, "CS", relationship)
                + c.text(VALUE_TYPE, "CS", value_type)
                + self.code_sequence(CONCEPT_NAME_CODE_SEQUENCE, name)
            )
            self._heads[key] = b
        return b

    def sequence(self, bodies: Iterable[bytes]) -> bytes:
        """A Content Sequence element of item bodies."""
        return self.c.sequence(CONTENT_SEQUENCE, bodies)

    def container(
        self,
        relationship: str,
        name: Code,
        children: Sequence[bytes],
        *,
        template: str | None = None,
        continuity: str = "CONTINUOUS",
    ) -> bytes:
        body = self._head(relationship, "CONTAINER", name) + self.c.text(
            CONTINUITY_OF_CONTENT, "CS", continuity
        )
        if template is not None:
            t = self._templates.get(template)
            if t is None:
                item = self.c.text(MAPPING_RESOURCE, "CS", "DCMR") + self.c.text(
                    TEMPLATE_IDENTIFIER, "CS", template
                )
                t = self.c.sequence(CONTENT_TEMPLATE_SEQUENCE, (item,))
                self._templates[template] = t
            body += t
        if children:
            body += self.sequence(children)
        return body

    def code(self, relationship: str, name: Code, value: Code) -> bytes:
        return self._head(relationship, "CODE", name) + self.code_sequence(
            CONCEPT_CODE_SEQUENCE, value
        )

    def text(self, relationship: str, name: Code, value: str) -> bytes:
        return self._head(relationship, "TEXT", name) + self.c.text(TEXT_VALUE, "UT", ut(value))

    def uidref(self, relationship: str, name: Code, value: str) -> bytes:
        return self._head(relationship, "UIDREF", name) + self.c.uid(UID, value)

    def pname(self, relationship: str, name: Code, value: str) -> bytes:
        return self._head(relationship, "PNAME", name) + self.c.text(PERSON_NAME, "PN", value)

    def num(self, relationship: str, name: Code, value: float, unit: Code) -> bytes:
        c = self.c
        measured = (
            self.code_sequence(MEASUREMENT_UNITS_CODE_SEQUENCE, unit)
            + c.fd(FLOATING_POINT_VALUE, (value,))
            + c.text(NUMERIC_VALUE, "DS", ds(value))
        )
        return self._head(relationship, "NUM", name) + c.sequence(
            MEASURED_VALUE_SEQUENCE, (measured,)
        )

    def reference(self, sop_class: str, sop_uid: str, frames: Sequence[int] | None) -> bytes:
        """A Referenced SOP Sequence element (frame numbers 1-based)."""
        c = self.c
        body = c.uid(REFERENCED_SOP_CLASS_UID, sop_class) + c.uid(
            REFERENCED_SOP_INSTANCE_UID, sop_uid
        )
        if frames:
            body += c.texts(REFERENCED_FRAME_NUMBER, "IS", [str(f) for f in frames])
        return c.sequence(REFERENCED_SOP_SEQUENCE, (body,))

    def image(
        self,
        relationship: str,
        name: Code,
        reference: bytes,
        children: Sequence[bytes] = (),
    ) -> bytes:
        """An IMAGE item; ``reference`` from :meth:`reference` (may be cached by the caller)."""
        body = reference + self._head(relationship, "IMAGE", name)
        if children:
            body += self.sequence(children)
        return body

    def scoord(
        self,
        relationship: str,
        name: Code,
        graphic_type: str,
        data: np.ndarray,
        source: bytes,
    ) -> bytes:
        """A SCOORD item whose child is ``source`` (a SELECTED FROM IMAGE body)."""
        c = self.c
        return (
            self._head(relationship, "SCOORD", name)
            + self.sequence((source,))
            + c.fl(GRAPHIC_DATA, np.asarray(data, dtype=np.float64).ravel())
            + c.text(GRAPHIC_TYPE, "CS", graphic_type)
        )
