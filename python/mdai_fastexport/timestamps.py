"""Content dates and times from the annotations, never from the clock."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable

from pydicom import Dataset
from pydicom.valuerep import DA, DT, TM


def parse_iso(value: str) -> _dt.datetime | None:
    """Parse MD.ai's ISO 8601 timestamps (``2026-03-04T10:11:12.000Z``); None if unparsable."""
    try:
        t = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return None
    if t.tzinfo is not None:
        t = t.astimezone(_dt.timezone.utc).replace(tzinfo=None)
    return t


def latest(times: Iterable[str | None]) -> _dt.datetime | None:
    """The latest parsable timestamp (UTC, naive)."""
    parsed = [t for t in (parse_iso(s) for s in times if s) if t is not None]
    return max(parsed) if parsed else None


def dicom_date_time(times: Iterable[str | None], source: Dataset) -> tuple[DA | None, TM | None]:
    """Content date/time: the latest annotation time, else the study's date/time.

    Returns ``(None, None)`` only when neither is available (highdicom then uses
    the clock, the one non-deterministic fallback).
    """
    t = latest(times)
    if t is not None:
        return DA(t.date()), TM(t.time().replace(microsecond=0))
    date, time = source.get("StudyDate"), source.get("StudyTime")
    if date:
        try:
            return DA(str(date)), (TM(str(time)) if time else TM("000000"))
        except ValueError:
            pass
    return None, None


def stamp(ds: Dataset, date: DA | None, time: TM | None) -> None:
    """Replace the clock readings highdicom puts into a new instance.

    Instance creation, series and contribution date/times become the content
    date/time, so a re-run of the same export writes the same bytes.
    """
    if date is None or time is None:
        return
    ds.InstanceCreationDate = date
    ds.InstanceCreationTime = time
    ds.SeriesDate = date
    ds.SeriesTime = time
    for item in ds.get("ContributingEquipmentSequence") or []:
        if "ContributionDateTime" in item:
            item.ContributionDateTime = DT(f"{date}{time}")
