"""Big JSON exports, element by element: spans of array elements without parsing the document.

``orjson.loads`` of a whole export builds every dict and string at once: about 6×
the file's size in memory for a DICOM metadata export. :class:`Structure` finds
the braces and brackets that are outside strings (vectorised with numpy, chunk
by chunk, so memory stays bounded), with their nesting depths; from them the
spans of the elements of an array are known, and each element can be parsed on
its own when it is needed (:class:`LazyArray`), while the document stays one
``bytes`` object.

Strings are found exactly: a quote is real unless an odd run of backslashes
precedes it; braces inside strings are ignored. Only the depths up to
``max_depth`` are kept (the positions of the braces of every header attribute
would cost more than the header itself).
"""

from __future__ import annotations

import json
import mmap
from collections.abc import Iterator, Sequence
from typing import Any, overload

import numpy as np
import orjson

from .errors import InputFormatError

_QUOTE, _BACKSLASH = 34, 92
_OPEN_OBJECT, _CLOSE_OBJECT, _OPEN_ARRAY = 123, 125, 91
_STRUCTURAL = np.zeros(256, dtype=bool)
_STRUCTURAL[[123, 125, 91, 93]] = True
_STEP = np.zeros(256, dtype=np.int32)
_STEP[[123, 91]] = 1
_STEP[[125, 93]] = -1
CHUNK = 1 << 18  # bytes scanned at once: the temporaries take about ten times this (as fast
# as larger chunks, which only add to the peak of a small export)

#: A document: its bytes, or a read-only map of its file (then the pages read are given
#: back as soon as they have been parsed, so the file does not stay in this process's
#: memory; the kernel keeps it in its page cache while there is room).
Buffer = bytes | mmap.mmap
_PAGE = mmap.PAGESIZE


#: A page fault can map pages around the faulting one (fault-around, and whole large
#: folios of the page cache, up to 2 MiB): a reader that goes forward gives back so much
#: behind each range too, or it would keep a part of every range it has given back.
BEHIND = 2 << 20


def forget(raw: Buffer, start: int, stop: int) -> None:
    """Give back the pages of ``raw[start:stop]`` (a no-op for bytes)."""
    if isinstance(raw, mmap.mmap) and hasattr(mmap, "MADV_DONTNEED"):
        start = max(0, start)
        a = start - start % _PAGE
        b = min(stop + (-stop) % _PAGE, len(raw))
        if b > a:
            raw.madvise(mmap.MADV_DONTNEED, a, b - a)


class Structure:
    """Braces and brackets of a JSON document outside strings, with the depth after each.

    Attributes:
        pos: byte offsets; ``char``: the byte; ``depth``: nesting depth after it (an opening
            brace at top level has depth 1, its closing brace 0), for the characters up to
            ``max_depth``.
        balanced: every brace and quote is closed.
        deepest: the deepest nesting anywhere in the document.
    """

    def __init__(self, raw: Buffer, max_depth: int, chunk: int = CHUNK) -> None:
        self.raw = raw
        data = np.frombuffer(raw, dtype=np.uint8)
        positions, chars, depths = [], [], []
        backslashes = 0  # backslashes that ended the previous chunk
        odd_quotes = 0  # parity of the real quotes so far
        depth = deepest = 0
        for start in range(0, len(data), chunk):
            d = data[start : start + chunk]
            n = len(d)
            bs = d == _BACKSLASH
            edge = np.diff(np.concatenate(([backslashes > 0], bs, [False])).astype(np.int8))
            run_starts = np.flatnonzero(edge == 1)
            run_ends = np.flatnonzero(edge == -1)
            if backslashes:
                run_starts = np.concatenate(([-backslashes], run_starts))
            escaped = np.zeros(n + 1, dtype=bool)
            escaped[run_ends[(run_ends - run_starts) % 2 == 1]] = True  # after an odd run
            quotes = np.flatnonzero(d == _QUOTE)
            real = quotes[~escaped[quotes]]
            s = np.flatnonzero(_STRUCTURAL[d])
            s = s[(np.searchsorted(real, s) + odd_quotes) % 2 == 0]
            c = d[s]
            dep = depth + np.cumsum(_STEP[c], dtype=np.int32)
            if len(dep):
                depth = int(dep[-1])
                deepest = max(deepest, int(dep.max()))
            keep = dep <= max_depth
            positions.append(s[keep] + start)
            chars.append(c[keep])
            depths.append(dep[keep])
            odd_quotes = (odd_quotes + len(real)) % 2
            last_not_bs = np.argmin(bs[::-1])  # first False from the end (0 if none)
            trailing = int(last_not_bs) if not bs[n - 1 - last_not_bs] else n
            backslashes = trailing + (backslashes if trailing == n else 0)
            forget(raw, start - BEHIND, start + n)
        self.pos = np.concatenate(positions) if positions else np.zeros(0, np.int64)
        self.char = np.concatenate(chars) if chars else np.zeros(0, np.uint8)
        self.depth = np.concatenate(depths) if depths else np.zeros(0, np.int32)
        self.balanced = depth == 0 and odd_quotes == 0
        #: The deepest nesting anywhere in the document.
        self.deepest = deepest

    def _end(self, k: int, depth: int) -> int:
        """Index of the structural character closing the one at index ``k`` (depth after it
        back to ``depth``)."""
        after = self.depth[k + 1 :] <= depth
        if not after.any():
            raise ValueError("unbalanced JSON")
        return k + 1 + int(np.argmax(after))

    def arrays(self, key: bytes, depth: int) -> list[tuple[int, int]]:
        """``(k_open, k_close)`` structure indices of every array that is the value of ``key``
        in an object whose contents are at ``depth`` (the array's ``[`` has depth ``depth+1``)."""
        needle = b'"' + key + b'"'
        found = []
        for k in np.flatnonzero((self.char == _OPEN_ARRAY) & (self.depth == depth + 1)).tolist():
            p = int(self.pos[k])
            head = self.raw[max(0, p - len(needle) - 256) : p].rstrip()
            if not head.endswith(b":"):
                continue
            head = head[:-1].rstrip()
            # the key itself, not a longer key ending in it ("x\"annotations"): a { or , before it
            if head.endswith(needle) and head[: -len(needle)].rstrip()[-1:] in (b"{", b","):
                found.append((k, self._end(k, depth)))
        return found

    def elements(self, k_open: int, k_close: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Byte offsets ``(starts, stops)`` of the elements of the array at ``k_open``, or None
        unless every element is an object (anything else is left to a whole parse)."""
        inner = self.depth[k_open] + 1
        sl = slice(k_open + 1, k_close)
        c, d, p = self.char[sl], self.depth[sl], self.pos[sl]
        starts = p[(c == _OPEN_OBJECT) & (d == inner)]
        stops = p[(c == _CLOSE_OBJECT) & (d == inner - 1)] + 1
        opened = np.count_nonzero(((c == _OPEN_OBJECT) | (c == _OPEN_ARRAY)) & (d == inner))
        if len(starts) != len(stops) or opened != len(starts):
            return None  # an array nested directly in the array
        # between the elements: only commas and white space (no string, number or null)
        gaps = np.empty(len(starts) + 1, dtype=np.int64)
        gaps[0] = int(self.pos[k_open]) + 1
        gaps[1:] = stops
        ends = np.empty_like(gaps)
        ends[:-1] = starts
        ends[-1] = int(self.pos[k_close])
        raw = self.raw
        pieces, done = [], 0
        for a, b in _pairs(gaps, ends):
            pieces.append(raw[a:b])
            if b - done >= CHUNK:  # each gap touches a page: given back as the scan goes
                forget(raw, done - BEHIND, b)
                done = b
        forget(raw, done - BEHIND, int(self.pos[k_close]))
        between = b"".join(pieces)
        if between.translate(None, b" \t\r\n") != b"," * max(len(starts) - 1, 0):
            return None
        return starts, stops

    def span(self, k_open: int, k_close: int) -> tuple[int, int]:
        """Byte span of the value from structure index ``k_open`` to ``k_close``."""
        return int(self.pos[k_open]), int(self.pos[k_close]) + 1


def _pairs(a: np.ndarray, b: np.ndarray) -> Iterator[tuple[int, int]]:
    return zip(a.tolist(), b.tolist(), strict=True)


def json_int(text: str) -> int | float:
    """A JSON integer as orjson reads it: an int within 64 bits, else a float."""
    value = int(text)
    return value if -(2**63) <= value < 2**64 else float(value)


def loads(raw: bytes | memoryview) -> Any:
    """orjson, falling back to the standard library for NaN/Infinity tokens (MD.ai's own
    tools can write them; they must reach validation, not fail the whole file), with
    integers read as orjson reads them.

    Raises:
        ValueError: not valid JSON (also for invalid UTF-8).
    """
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(bytes(raw), parse_int=json_int)


class LazyArray(Sequence[Any]):
    """The elements of a JSON array, each parsed when it is read (never cached): the
    document's bytes and two offset arrays, 16 bytes per element."""

    def __init__(
        self, raw: Buffer, starts: np.ndarray, stops: np.ndarray, where: str = "document"
    ) -> None:
        self._buffer = raw
        self._raw = memoryview(raw)
        self._starts = starts
        self._stops = stops
        self.where = where

    def _bytes(self, a: int, b: int) -> memoryview:
        raw = self._buffer
        if isinstance(raw, mmap.mmap) and raw.size() < len(raw):
            # a mapped file cut short: reading past its new end would be a SIGBUS
            raise InputFormatError(f"{self.where} was truncated while it was being read")
        return self._raw[a:b]

    def _parse(self, a: int, b: int) -> Any:
        try:
            return loads(self._bytes(a, b))
        except (ValueError, RecursionError) as exc:
            raise InputFormatError(f"{self.where} is not valid JSON at byte {a}: {exc}") from None

    def __len__(self) -> int:
        return len(self._starts)

    @overload
    def __getitem__(self, i: int) -> Any: ...
    @overload
    def __getitem__(self, i: slice) -> list[Any]: ...
    def __getitem__(self, i: int | slice) -> Any:
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        a, b = int(self._starts[i]), int(self._stops[i])
        value = self._parse(a, b)
        forget(self._buffer, a, b)
        return value

    def raw(self, i: int) -> bytes:
        """A copy of the bytes of element ``i``."""
        a, b = int(self._starts[i]), int(self._stops[i])
        data = bytes(self._bytes(a, b))
        forget(self._buffer, a, b)
        return data

    def __iter__(self) -> Iterator[Any]:
        done = 0
        for a, b in _pairs(self._starts, self._stops):
            yield self._parse(a, b)
            if b - done >= CHUNK:  # pages given back a chunk at a time
                forget(self._buffer, done - BEHIND, b)
                done = b
        if len(self._starts):
            forget(self._buffer, done - BEHIND, int(self._stops[-1]))


#: The arrays a document is split at: ``datasets[].<key>``.
_DATASETS = b"datasets"


def split_document(
    raw: Buffer, key: bytes, max_depth: int, where: str = "document"
) -> dict[str, Any] | None:
    """Parse an MD.ai export with every ``datasets[].<key>`` array left unparsed, as a
    :class:`LazyArray` (whose elements raise :class:`~.errors.InputFormatError` naming
    ``where`` when they are not valid JSON); everything else is parsed as usual.

    Returns None whenever the document is anything but the plain case — not an object,
    unbalanced, nested deeper than ``max_depth``, ``datasets`` given twice, an element that
    is not an object, invalid JSON outside the arrays — so that the caller parses it whole
    (and reports its problems as it always does).
    """
    try:
        st = Structure(raw, max_depth=5)
    except ValueError:
        return None
    if not st.balanced or st.deepest > max_depth or len(st.char) == 0 or st.char[0] != 123:
        return None
    top = st.arrays(_DATASETS, 1)
    if len(top) != 1:
        return None
    d_open, d_close = top[0]
    arrays = [(a, b) for a, b in st.arrays(key, 3) if d_open < a < d_close]
    pieces, lazy, at = [], [], 0
    for n, (k_open, k_close) in enumerate(arrays):
        spans = st.elements(k_open, k_close)
        if spans is None:
            return None
        a, b = st.span(k_open, k_close)
        pieces += [raw[at:a], b"[%d]" % n]
        lazy.append(LazyArray(raw, *spans, where=where))
        at = b
    pieces.append(raw[at:])
    try:
        doc = orjson.loads(b"".join(pieces))
    except orjson.JSONDecodeError:
        return None
    finally:
        forget(raw, 0, len(raw))
    datasets = doc.get("datasets") if isinstance(doc, dict) else None
    if not isinstance(datasets, list):
        return None
    used = 0
    name = key.decode()
    for d in datasets:
        if isinstance(d, dict) and name in d:
            v = d[name]
            if not (isinstance(v, list) and len(v) == 1 and type(v[0]) is int):
                return None
            d[name] = lazy[v[0]]
            used += 1
    return doc if used == len(lazy) else None
