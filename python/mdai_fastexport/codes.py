"""Deterministic identifiers: UIDs, private codes and safe file-name parts.

Nothing here uses Python's salted ``hash()``, the clock or randomness, so a
re-run of the same export writes byte-identical UIDs and codes.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

from highdicom.coding_schemes import CodingSchemeIdentificationItem
from highdicom.sr import CodedConcept

from .dicom.values import lo
from .dicom.values import person_name as person_name

#: Private coding scheme for MD.ai labels, declared in every output's
#: CodingSchemeIdentificationSequence.
SCHEME = "99MDAI"
SCHEME_NAME = "MD.ai annotation labels"
SCHEME_ORGANIZATION = "MD.ai"
RADLEX = "RADLEX"

_SAFE_CODE = re.compile(r"^[A-Za-z0-9_.\-]{1,16}$")
_UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9._\-]+")


def _digest(*parts: str) -> bytes:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode("utf-8"))
        h.update(b"\x00")
    return h.digest()


def uid_from(*parts: str) -> str:
    """A ``2.25.<decimal>`` UID derived from ``parts`` (<= 64 characters).

    Uses 128 bits of SHA-256, as ISO/IEC 9834-8 UUID-derived UIDs do.
    """
    n = int.from_bytes(_digest("mdai-fastexport", *parts)[:16], "big")
    return f"2.25.{n}"


def code_value(kind: str, key: str) -> str:
    """A stable code value (SH, <= 16 chars) for a label/group key.

    MD.ai ids such as ``L_abc123`` are used as they are when they fit; other
    keys are hashed.
    """
    if _SAFE_CODE.match(key) and len(kind) + len(key) <= 16:
        return f"{kind}{key}"
    return kind + _digest(kind, key).hex()[: 16 - len(kind)].upper()


def meaning(text: str) -> str:
    """A Code Meaning / label text (a single LO value: <= 64 bytes, no control characters)."""
    return lo(text)


@lru_cache(maxsize=8192)
def private_code(kind: str, key: str, text: str) -> CodedConcept:
    """A code in the 99MDAI scheme (memoised; treat the result as read-only)."""
    return CodedConcept(
        value=code_value(kind, key), scheme_designator=SCHEME, meaning=meaning(text)
    )


@lru_cache(maxsize=8192)
def label_code(label_id: str, name: str, radlex_ids: tuple[str, ...]) -> CodedConcept:
    """The code of a label: its first RadLex id when given, else a 99MDAI code (memoised;
    treat the result as read-only)."""
    for rid in radlex_ids:
        if isinstance(rid, str) and re.fullmatch(r"RID\d{1,12}", rid):
            return CodedConcept(value=rid, scheme_designator=RADLEX, meaning=meaning(name))
    return private_code("", label_id, name)


def safe_name(text: str, max_len: int = 40) -> str:
    """A file-name part: ``[A-Za-z0-9._-]`` only, no leading dots, bounded length.

    When the text had to be changed or cut, a short digest of the original is
    appended so distinct inputs stay distinct.
    """
    cleaned = _UNSAFE_NAME_CHARS.sub("_", text)
    cleaned = re.sub(r"\.{2,}", "_", cleaned).strip("._-") or "x"  # no "..", even as a part
    if cleaned == text and len(text) <= max_len:
        return text
    tag = _digest("name", text).hex()[:8]
    return f"{cleaned[: max_len - 9]}-{tag}"


def coding_schemes(uses_radlex: bool = False) -> list[CodingSchemeIdentificationItem]:
    """CodingSchemeIdentificationSequence items: 99MDAI always, RADLEX when used."""
    items = [
        CodingSchemeIdentificationItem(
            designator=SCHEME, name=SCHEME_NAME, responsible_organization=SCHEME_ORGANIZATION
        )
    ]
    if uses_radlex:
        items.append(
            CodingSchemeIdentificationItem(
                designator=RADLEX,
                name="RadLex",
                uid="2.16.840.1.113883.6.256",
                responsible_organization="RSNA",
            )
        )
    return items
