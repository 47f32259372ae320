"""Step 1 of the data path: read the two MD.ai JSON exports.

orjson parses standard JSON several times faster than the standard library.
Exports written by tools that emit the non-standard ``NaN``/``Infinity``
tokens are re-read with :mod:`json`, so such values reach validation (and are
reported per annotation) instead of failing the whole file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import orjson

from .errors import InputFormatError

PathLike = str | os.PathLike[str]


def _read_json(path: PathLike, what: str) -> Any:
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise InputFormatError(f"{what} file not found: {p}") from None
    except OSError as exc:
        raise InputFormatError(f"cannot read {what} file {p}: {exc}") from None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise InputFormatError(f"{what} file {p} is not valid JSON: {exc}") from None
        except RecursionError:
            # arrays/objects nested deeper than orjson's limit (1024) and the interpreter's
            raise InputFormatError(
                f"{what} file {p} is nested too deeply to be an MD.ai export: {exc}"
            ) from None


def load_annotations(path_or_obj: PathLike | dict[str, Any]) -> dict[str, Any]:
    """Read an MD.ai annotation export (or accept one already parsed).

    Raises:
        InputFormatError: the file is missing, not JSON, or not an annotation
            export (for instance the metadata export passed by mistake).
    """
    obj = path_or_obj if isinstance(path_or_obj, dict) else _read_json(path_or_obj, "annotation")
    where = (
        "annotation export" if isinstance(path_or_obj, dict) else f"annotation file {path_or_obj}"
    )
    if not isinstance(obj, dict):
        raise InputFormatError(f"{where}: top level is {type(obj).__name__}, expected an object")
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
    obj = path_or_obj if isinstance(path_or_obj, dict) else _read_json(path_or_obj, "metadata")
    where = "metadata export" if isinstance(path_or_obj, dict) else f"metadata file {path_or_obj}"
    if not isinstance(obj, dict):
        raise InputFormatError(f"{where}: top level is {type(obj).__name__}, expected an object")
    if "labelGroups" in obj:
        raise InputFormatError(
            f"{where} looks like an annotation export, not a DICOM metadata export "
            "(were the two files swapped?)"
        )
    datasets = obj.get("datasets")
    if not isinstance(datasets, list) or not all(
        isinstance(d, dict) and isinstance(d.get("dicomMetadata", []), list) for d in datasets
    ):
        raise InputFormatError(
            f"{where} has no 'datasets[].dicomMetadata' lists: not an MD.ai DICOM metadata export"
        )
    return obj
