"""Big JSON exports, element by element: spans of array elements without parsing the document.

``orjson.loads`` of a whole export builds every dict and string at once: about 6×
the file's size in memory for a DICOM metadata export. :class:`Structure` finds
the braces and brackets that are outside strings (vectorised with numpy, chunk
by chunk, so memory stays bounded), with their nesting depths; from them the
spans of the elements of an array are known, and each element can be parsed on
its own when it is needed (:class:`LazyArray`).

A file is not read into memory, nor mapped: it stays open and each span is read
with ``pread`` when it is needed (:class:`FileSource`). So this process holds
neither the file nor its pages, a file cut short during a run is a clear error
(a mapped one would be a SIGBUS), and forked workers read through the same
descriptor without sharing an offset.

Strings are found exactly: a quote is real unless an odd run of backslashes
precedes it; braces inside strings are ignored. Only the depths up to
``max_depth`` are kept (the positions of the braces of every header attribute
would cost more than the header itself).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Sequence
from typing import IO, Any, overload

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
CHUNK = 1 << 18  # bytes scanned at once: the temporaries take about ten times this
BLOCK = 1 << 20  # bytes read at once when many small spans are read in order


class Truncated(InputFormatError):
    """The file became shorter than it was when it was scanned."""


class Source:
    """The bytes of a JSON document, read by span."""

    where = "document"

    def __len__(self) -> int:
        raise NotImplementedError

    def read(self, start: int, stop: int) -> bytes:
        """``document[start:stop]``.

        Raises:
            Truncated: the file has become shorter.
        """
        raise NotImplementedError

    def chunks(self, size: int) -> Iterator[tuple[int, bytes]]:
        """``(offset, bytes)`` of consecutive pieces of ``size`` bytes, in order."""
        for start in range(0, len(self), size):
            yield start, self.read(start, min(start + size, len(self)))

    def gather(self, spans: Iterable[tuple[int, int]]) -> Iterator[bytes]:
        """The bytes of each of ``spans`` (ascending), read a block at a time."""
        base, block = 0, b""
        for a, b in spans:
            if a < base or b > base + len(block):
                if b - a >= BLOCK:
                    yield self.read(a, b)
                    continue
                base, block = a, self.read(a, min(a + BLOCK, len(self)))
            yield block[a - base : b - base]


class BytesSource(Source):
    """A document in memory (a pipe's contents, or bytes given by the caller)."""

    def __init__(self, data: bytes | bytearray | memoryview) -> None:
        self._data = bytes(data)

    def __len__(self) -> int:
        return len(self._data)

    def read(self, start: int, stop: int) -> bytes:
        return self._data[start:stop]

    def gather(self, spans: Iterable[tuple[int, int]]) -> Iterator[bytes]:
        data = self._data
        return (data[a:b] for a, b in spans)


class FileSource(Source):
    """A regular file, kept open and read by ``pread`` (its size as it was when opened)."""

    def __init__(self, file: IO[bytes], where: str = "document") -> None:
        self._file = file
        self._fd = file.fileno()
        self._size = os.fstat(self._fd).st_size
        self.where = where

    def __len__(self) -> int:
        return self._size

    def read(self, start: int, stop: int) -> bytes:
        parts, at = [], start
        while at < stop:  # one read returns at most about 2 GB on Linux
            try:
                data = os.pread(self._fd, stop - at, at)
            except OSError as exc:
                raise InputFormatError(f"cannot read {self.where}: {exc}") from None
            if not data:
                raise Truncated(f"{self.where} was truncated while it was being read")
            parts.append(data)
            at += len(data)
        return parts[0] if len(parts) == 1 else b"".join(parts)


def as_source(raw: Source | bytes | bytearray | memoryview) -> Source:
    """``raw`` as a :class:`Source` (bytes are wrapped)."""
    return raw if isinstance(raw, Source) else BytesSource(raw)


class Structure:
    """Braces and brackets of a JSON document outside strings, with the depth after each.

    Attributes:
        pos: byte offsets; ``char``: the byte; ``depth``: nesting depth after it (an opening
            brace at top level has depth 1, its closing brace 0), for the characters up to
            ``max_depth``.
        balanced: every brace and quote is closed.
        deepest: the deepest nesting anywhere in the document.
    """

    def __init__(
        self, raw: Source | bytes | bytearray | memoryview, max_depth: int, chunk: int = CHUNK
    ) -> None:
        self.raw = as_source(raw)
        positions, chars, depths = [], [], []
        backslashes = 0  # backslashes that ended the previous chunk
        odd_quotes = 0  # parity of the real quotes so far
        depth = deepest = 0
        for start, piece in self.raw.chunks(chunk):
            d = np.frombuffer(piece, dtype=np.uint8)
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
            head = self.raw.read(max(0, p - len(needle) - 256), p).rstrip()
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
        pieces = list(self.raw.gather(_pairs(gaps, ends)))
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
    """The elements of a JSON array, each read and parsed when it is asked for (never
    cached): the document's :class:`Source` and two offset arrays, 16 bytes per element."""

    def __init__(
        self, raw: Source, starts: np.ndarray, stops: np.ndarray, where: str = "document"
    ) -> None:
        self._source = raw
        self._starts = starts
        self._stops = stops
        self.where = where

    def _parse(self, a: int, data: bytes) -> Any:
        try:
            return loads(data)
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
        a = int(self._starts[i])
        return self._parse(a, self.raw(i))

    def raw(self, i: int) -> bytes:
        """The bytes of element ``i``.

        Raises:
            InputFormatError: the file has become shorter since it was scanned.
        """
        return self._source.read(int(self._starts[i]), int(self._stops[i]))

    def __iter__(self) -> Iterator[Any]:
        spans = _pairs(self._starts, self._stops)
        for a, data in zip(self._starts.tolist(), self._source.gather(spans), strict=True):
            yield self._parse(a, data)


#: The arrays a document is split at: ``datasets[].<key>``.
_DATASETS = b"datasets"


def split_document(
    raw: Source | bytes | bytearray | memoryview,
    key: bytes,
    max_depth: int,
    where: str = "document",
) -> dict[str, Any] | None:
    """Parse an MD.ai export with every ``datasets[].<key>`` array left unparsed, as a
    :class:`LazyArray` (whose elements raise :class:`~.errors.InputFormatError` naming
    ``where`` when they are not valid JSON); everything else is parsed as usual.

    Returns None whenever the document is anything but the plain case — not an object,
    unbalanced, nested deeper than ``max_depth``, ``datasets`` given twice, an element that
    is not an object, invalid JSON outside the arrays — so that the caller parses it whole
    (and reports its problems as it always does).

    Raises:
        InputFormatError: the file became shorter while it was being read.
    """
    raw = as_source(raw)
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
        pieces += [raw.read(at, a), b"[%d]" % n]
        lazy.append(LazyArray(raw, *spans, where=where))
        at = b
    pieces.append(raw.read(at, len(raw)))
    try:
        doc = orjson.loads(b"".join(pieces))
    except orjson.JSONDecodeError:
        return None
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
