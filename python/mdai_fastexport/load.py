"""Step 1 of the data path: read the two MD.ai JSON exports.

A file is not read whole: it stays open, its big arrays — the annotations, the
metadata entries — kept as spans into it (:mod:`.jsonscan`), and each
annotation and each instance header is read and parsed when the index or a file
needs it. So memory follows the index and the work, not the size of the files,
nor that of their parsed objects (several times more). A file must not be
rewritten while a run reads it (one cut short is reported).
orjson parses standard JSON several times faster than the standard library.
Exports written by tools that emit the non-standard ``NaN``/``Infinity`` tokens
are re-read with :mod:`json`, so such values reach validation (and are reported
per annotation) instead of failing the whole file.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import orjson

from .errors import InputFormatError
from .jsonscan import BytesSource, FileSource, LazyArray, Source, json_int, split_document

PathLike = str | os.PathLike[str]


def _open(path: PathLike, what: str) -> Source:
    """The file, open and read by span when needed (a regular file), or its bytes (a pipe,
    a special file)."""
    p = Path(path)
    where = f"{what} file {p}"
    try:
        f = p.open("rb")
    except FileNotFoundError:
        raise InputFormatError(f"{what} file not found: {p}") from None
    except OSError as exc:
        raise InputFormatError(f"cannot read {what} file {p}: {exc}") from None
    try:
        if stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            return FileSource(f, where)
        with f:
            return BytesSource(f.read())
    except OSError as exc:
        f.close()
        raise InputFormatError(f"cannot read {what} file {p}: {exc}") from None


def _read_json(path: PathLike, what: str, raw: Source | None = None) -> Any:
    p = Path(path)
    if raw is None:
        raw = _open(path, what)
    data = raw.read(0, len(raw))
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        try:
            # integers beyond 64 bits become floats, as orjson reads them: a NaN token
            # elsewhere in the file must not change how every other number is read
            return json.loads(data, parse_int=json_int)
        except (ValueError, UnicodeDecodeError):
            raise InputFormatError(f"{what} file {p} is not valid JSON: {exc}") from None
        except RecursionError:
            # arrays/objects nested deeper than orjson's limit (1024) and the interpreter's
            raise InputFormatError(
                f"{what} file {p} is nested too deeply to be an MD.ai export: {exc}"
            ) from None


#: Deepest nesting accepted (orjson's encoder limit; real exports nest about 10 levels). A
#: value nested thousands of levels deep (possible in a parsed dict, or up to orjson's
#: parse limit of 1024 in a file) would exhaust the recursion limit wherever it is printed.
MAX_DEPTH = 254


def _check_depth(obj: Any, where: str) -> None:
    """Refuse inputs nested deeper than :data:`MAX_DEPTH` (an export of any size is checked in
    C by orjson's encoder; the path is searched for only when it refuses).

    Raises:
        InputFormatError: names the path where the nesting is too deep.
    """
    try:
        orjson.dumps(obj)
        return
    except (orjson.JSONEncodeError, TypeError):
        pass  # too deep, or not plain JSON (non-string keys, huge integers): walk it
    stack: list[tuple[Any, tuple[Any, ...]]] = [(obj, ())]
    while stack:
        value, path = stack.pop()
        if len(path) >= MAX_DEPTH:
            shown = "".join(f"[{k!r}]" for k in path[:6])
            raise InputFormatError(
                f"{where} is nested deeper than {MAX_DEPTH} levels (at {shown}...): "
                "not an MD.ai export"
            )
        if isinstance(value, dict):
            stack.extend((v, (*path, k)) for k, v in value.items() if isinstance(v, (dict, list)))
        elif isinstance(value, list):
            stack.extend(
                (v, (*path, k)) for k, v in enumerate(value) if isinstance(v, (dict, list))
            )


def _load(path_or_obj: Any, what: str, big: bytes) -> tuple[Any, str, bool]:
    """The parsed export, how to name it, and whether its nesting is known to be within
    :data:`MAX_DEPTH`.

    A file is read with its big arrays (``datasets[].<big>``: the annotations, or the
    metadata entries) left unparsed, as spans into the file
    (:func:`..jsonscan.split_document`, 16 bytes per element): a parsed export takes
    several times the file's size in memory. A file that is not a plain export is parsed whole, so
    that its problems are reported as usual. Anything but a path is taken as the parsed
    JSON (a list or a number passed instead of a dict is then reported as such, not a
    TypeError from ``Path()``).
    """
    if isinstance(path_or_obj, (str, os.PathLike)):
        where = f"{what} file {path_or_obj}"
        raw = _open(path_or_obj, what)
        doc = split_document(raw, big, MAX_DEPTH, where)
        if doc is not None:
            return doc, where, True
        return _read_json(path_or_obj, what, raw), where, False
    return path_or_obj, f"{what} export", False


def load_annotations(path_or_obj: PathLike | dict[str, Any]) -> dict[str, Any]:
    """Read an MD.ai annotation export (or accept one already parsed).

    Raises:
        InputFormatError: the file is missing, not JSON, or not an annotation
            export (for instance the metadata export passed by mistake).
    """
    obj, where, checked = _load(path_or_obj, "annotation", b"annotations")
    if not isinstance(obj, dict):
        raise InputFormatError(f"{where}: top level is {type(obj).__name__}, expected an object")
    if not checked:
        _check_depth(obj, where)
    datasets = obj.get("datasets")
    if "labelGroups" not in obj:
        if isinstance(datasets, list) and any(
            isinstance(d, dict) and "dicomMetadata" in d for d in datasets
        ):
            raise InputFormatError(
                f"{where} looks like a DICOM metadata export, not an annotation export "
                "(were the two files swapped?)"
            )
        raise InputFormatError(f"{where} has no 'labelGroups': not an MD.ai annotation export")
    if not isinstance(obj["labelGroups"], list) or not isinstance(datasets, list):
        raise InputFormatError(f"{where}: 'labelGroups' and 'datasets' must be lists")
    return obj


def load_metadata(path_or_obj: PathLike | dict[str, Any]) -> dict[str, Any]:
    """Read an MD.ai DICOM metadata export (or accept one already parsed).

    Raises:
        InputFormatError: the file is missing, not JSON, or not a metadata export.
    """
    obj, where, checked = _load(path_or_obj, "metadata", b"dicomMetadata")
    if not isinstance(obj, dict):
        raise InputFormatError(f"{where}: top level is {type(obj).__name__}, expected an object")
    if not checked:
        _check_depth(obj, where)
    if "labelGroups" in obj:
        raise InputFormatError(
            f"{where} looks like an annotation export, not a DICOM metadata export "
            "(were the two files swapped?)"
        )
    datasets = obj.get("datasets")
    if not isinstance(datasets, list) or not all(
        isinstance(d, dict) and isinstance(d.get("dicomMetadata", []), (list, LazyArray))
        for d in datasets
    ):
        raise InputFormatError(
            f"{where} has no 'datasets[].dicomMetadata' lists: not an MD.ai DICOM metadata export"
        )
    return obj
