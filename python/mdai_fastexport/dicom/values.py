"""Values made valid for their VR before they reach a file.

Everything taken from the inputs (label names, notes, user names, numbers,
UIDs) passes through here: control characters are removed, the value
delimiter (backslash) is kept out of single values, strings are cut to the
VR's maximum length **in bytes of the output character set** (UTF-8,
``ISO_IR 192``) without splitting a character, and numbers are formatted as
valid DS/IS strings. Invalid UIDs are refused (:func:`is_valid_uid`), never
repaired.
"""

from __future__ import annotations

import math
import re
import unicodedata

from pydicom.valuerep import format_number_as_ds

#: Specific Character Set of every file we write.
CHARSET = "ISO_IR 192"

#: Maximum value lengths in bytes (PS3.5 Table 6.2-1) of the text VRs we write.
MAX_BYTES = {"CS": 16, "SH": 16, "LO": 64, "ST": 1024, "LT": 10240, "UT": 0xFFFFFFFE, "UC": 0}
#: ISO 8824 root arc (0, 1 or 2) then numeric components: "123.4" or "18446744073709551616"
#: (a number where a UID belongs) have no legal root; dciodvfy rejects them.
_UID = re.compile(r"^[012](\.(0|[1-9][0-9]*))*$")
_ALL_ZERO = re.compile(r"^0(\.0)*$")
_DS = re.compile(r"^[ ]*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?[ ]*$")


def is_valid_uid(value: object) -> bool:
    """True for a DICOM UID: digits and dots, no empty or leading-zero component, <= 64 chars,
    rooted at 0, 1 or 2 and not only zeros ("0", "0.0": "nothing but zero components")."""
    return (
        isinstance(value, str)
        and len(value) <= 64
        and _UID.match(value) is not None
        and _ALL_ZERO.match(value) is None
    )


def _keep(ch: str, multiline: bool) -> bool:
    if multiline and ch in "\r\n\t":
        return True
    return unicodedata.category(ch)[0] != "C"


def clean(text: object, *, multiline: bool = False, single: bool = True) -> str:
    """``text`` as a string without control/format characters (CR, LF, TAB kept when
    ``multiline``) and, when ``single``, without backslashes (the value delimiter);
    each removed character becomes a space."""
    s = text if isinstance(text, str) else str(text)
    if single:
        s = s.replace("\\", " ")
    if s.isprintable() and "\x7f" not in s:
        return s
    return "".join(ch if _keep(ch, multiline) else " " for ch in s)


def cut(text: str, max_bytes: int) -> str:
    """``text`` cut to at most ``max_bytes`` UTF-8 bytes, never inside a character."""
    raw = text.encode("utf-8")
    if len(raw) <= max_bytes:
        return text
    return raw[:max_bytes].decode("utf-8", errors="ignore")


def lo(text: object, fallback: str = "(unnamed)") -> str:
    """A single LO value (<= 64 bytes, no control characters, no backslash)."""
    s = cut(" ".join(clean(text).split()), MAX_BYTES["LO"]).strip()
    return s or fallback


def sh(text: object, fallback: str = "") -> str:
    """A single SH value (<= 16 bytes)."""
    s = cut(" ".join(clean(text).split()), MAX_BYTES["SH"]).strip()
    return s or fallback


def st(text: object) -> str:
    """A single ST value (<= 1024 bytes, line breaks kept)."""
    return cut(clean(text, multiline=True, single=False), MAX_BYTES["ST"]).rstrip()


def ut(text: object, max_bytes: int = 1 << 20) -> str:
    """A UT value (line breaks kept), bounded to ``max_bytes`` (1 MiB by default)."""
    return cut(clean(text, multiline=True, single=False), max_bytes).rstrip()


def person_name(name: object) -> str:
    """A PN value from a free-text name: ``"Ann B. Otator"`` → ``"Otator^Ann B."``.

    Names already in DICOM form (with ``^``) are kept. Characters that would
    start a new value or component group (``\\``, ``=``) are removed and the
    alphabetic group is cut to 64 bytes.
    """
    cleaned = " ".join(clean(name).replace("=", " ").split())
    if not cleaned:
        return "unknown^"
    if "^" in cleaned:
        pn = "^".join(part.strip() for part in cleaned.split("^")[:5])
    else:
        *given, family = cleaned.split(" ")
        pn = f"{family}^{' '.join(given)}" if given else f"{family}^"
    return cut(pn, 64)


def ds(value: float | str) -> str:
    """A DS string for ``value``: a valid DS string from the input is kept (trimmed);
    a number is written with at most 16 characters.

    Raises:
        ValueError: not a finite number.
    """
    if isinstance(value, str):
        s = value.strip()
        if len(s) <= 16 and _DS.match(s):
            f = float(s)
            if math.isfinite(f):
                return s
        value = float(s)
    f = float(value)
    if not math.isfinite(f):
        raise ValueError(f"not a finite number: {value!r}")
    if f == 0.0:
        return "0.0"
    if f.is_integer() and abs(f) < 1e15:
        s = f"{int(f)}.0"
        if len(s) <= 16:
            return s
    return format_number_as_ds(f)


def is_(value: int) -> str:
    """An IS string (range-checked: IS holds -2^31 .. 2^31-1)."""
    v = int(value)
    if not -(2**31) <= v <= 2**31 - 1:
        raise ValueError(f"{value} does not fit an IS value")
    return str(v)
