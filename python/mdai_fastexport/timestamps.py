"""Content dates and times from the annotations, never from the clock.

A re-run of the same export writes byte-identical files, so every date and
time in a file derives from the input: the latest annotation time of the
file's annotations (UTC), else the study's date and time, else 1970-01-01.
An unparsable timestamp costs nothing but itself.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Mapping
from typing import Any

_EPOCH = ("19700101", "000000")


def parse_iso(value: object) -> _dt.datetime | None:
    """Parse MD.ai's ISO 8601 timestamps (``2026-03-04T10:11:12.000Z``) to naive UTC;
    None if unparsable or out of range."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        t = _dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        if t.tzinfo is not None:
            t = t.astimezone(_dt.timezone.utc).replace(tzinfo=None)
    except (TypeError, ValueError, OverflowError):
        return None
    return t


def latest(times: Iterable[object]) -> _dt.datetime | None:
    """The latest parsable timestamp (UTC, naive)."""
    parsed = [t for t in (parse_iso(s) for s in times if s) if t is not None]
    return max(parsed) if parsed else None


def _study(tags: Mapping[str, Any]) -> tuple[str, str] | None:
    date = str(tags.get("StudyDate") or "").strip()
    time = str(tags.get("StudyTime") or "").strip() or "000000"
    try:
        _dt.datetime.strptime(date, "%Y%m%d")
        main = time.split(".")[0]
        _dt.datetime.strptime(main, {2: "%H", 4: "%H%M", 6: "%H%M%S"}[len(main)])
    except (ValueError, KeyError):
        return None
    return date, main


def content_date_time(times: Iterable[object], source_tags: Mapping[str, Any]) -> tuple[str, str]:
    """``(DA, TM)`` strings: the latest annotation time, else the study's, else the epoch."""
    t = latest(times)
    if t is not None:
        return t.strftime("%Y%m%d"), t.strftime("%H%M%S")
    return _study(source_tags) or _EPOCH
