"""Instances of the DICOM metadata export, and the study → series → instance hierarchy.

Each entry keeps its raw ``dicomTags`` (converted to DICOM only where a work
item needs them; for an export read from a file, only the place of its entry in
the file) plus the few numbers planning needs. UIDs are validated; an
entry with an invalid UID is ignored and remembered, so annotations pointing
at it are skipped as ``invalid_uid`` rather than ``missing_instance``.

The same SOP Instance UID listed twice with different study or series is a
contradiction in the input: it is collected in :attr:`MetadataIndex.conflicts`
and the run stops before writing anything (see :func:`..index.build_index`).
Series are ordered by Series Number then UID, instances by Instance Number
then UID.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..dicom.values import is_valid_uid
from ..headers import integer
from ..jsonscan import LazyArray

_BIG = 2**31


@dataclass(frozen=True, slots=True)
class Instance:
    """One instance of the metadata export: its UIDs, the numbers planning needs, and its
    header — kept as the parsed ``dicomTags`` of an export given as a dict, or as the place
    of its entry in the export file (:class:`~..jsonscan.LazyArray`), parsed again each
    time :attr:`tags` is read (a header is needed only by the files that reference it, so
    the index of a large export holds no parsed headers)."""

    dataset_id: str | None
    study_uid: str
    series_uid: str
    sop_uid: str
    instance_number: int
    number_of_frames: int
    series_number: int
    rows: int | None
    columns: int | None
    sop_class_uid: str | None
    header: Mapping[str, Any] | None = None
    entries: LazyArray | None = None
    entry: int = 0

    @property
    def tags(self) -> Mapping[str, Any]:
        """The instance's ``dicomTags`` (an empty mapping when the entry has none)."""
        if self.header is not None:
            return self.header
        assert self.entries is not None
        return _tags_of(self.entries[self.entry])

    def raw(self) -> bytes | None:
        """The bytes of the instance's entry in the export file (None for a parsed export)."""
        return None if self.entries is None else self.entries.raw(self.entry)


def _tags_of(entry: Any) -> Mapping[str, Any]:
    tags = entry.get("dicomTags") if isinstance(entry, Mapping) else None
    return tags if isinstance(tags, Mapping) else {}


@dataclass(slots=True)
class MetadataIndex:
    """The metadata export as indices."""

    instances: dict[str, Instance] = field(default_factory=dict)
    series_instances: dict[str, list[str]] = field(default_factory=dict)
    study_series: dict[str, list[str]] = field(default_factory=dict)
    series_study: dict[str, str] = field(default_factory=dict)
    invalid_uids: set[str] = field(default_factory=set)
    video_datasets: set[str] = field(default_factory=set)
    conflicts: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _uid(entry: Mapping[str, Any], tags: Mapping[str, Any], key: str) -> str | None:
    v = entry.get(key)
    if v in (None, ""):
        v = tags.get(key)
    return str(v).strip() if v not in (None, "") else None


def parse_metadata(metadata_export: Mapping[str, Any]) -> MetadataIndex:
    """Index the metadata export (never raises for a bad entry; see the module docstring)."""
    out = MetadataIndex()
    no_uid = bad_tags = dupes = 0
    datasets = metadata_export.get("datasets")
    strings: dict[str, str] = {}  # one object per study/series UID and dataset id
    for d in datasets if isinstance(datasets, list) else []:
        if not isinstance(d, Mapping):
            continue
        did = d.get("id")
        did = str(did) if did not in (None, "") else None
        if d.get("videoMetadata") and did is not None:
            out.video_datasets.add(did)
        entries = d.get("dicomMetadata")
        lazy = entries if isinstance(entries, LazyArray) else None
        if lazy is None and not isinstance(entries, list):
            entries = []
        for k, m in enumerate(entries):
            if not isinstance(m, Mapping):
                bad_tags += 1
                continue
            tags = m.get("dicomTags")
            if not isinstance(tags, Mapping):
                bad_tags += 1
                tags = {}
            st, se, sop = (
                _uid(m, tags, k)
                for k in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID")
            )
            if not (st and se and sop):
                no_uid += 1
                continue
            bad = [u for u in (st, se, sop) if not is_valid_uid(u)]
            if bad:
                out.invalid_uids.update(bad)
                out.warnings.append(
                    f"metadata entry {sop[:80]!r} ignored: invalid UID {bad[0][:80]!r} "
                    "(UIDs are digits and dots, at most 64 characters, no leading zeros)"
                )
                continue
            prev = out.instances.get(sop)
            if prev is not None:
                if (prev.study_uid, prev.series_uid) != (st, se):
                    out.conflicts.append(
                        f"SOPInstanceUID {sop} is listed in study {prev.study_uid} series "
                        f"{prev.series_uid} and again in study {st} series {se}"
                    )
                else:
                    dupes += 1
                continue
            known_study = out.series_study.setdefault(se, st)
            if known_study != st:
                out.conflicts.append(
                    f"SeriesInstanceUID {se} is listed in study {known_study} and in study {st}"
                )
                continue
            frames = integer(tags.get("NumberOfFrames"))
            number = integer(tags.get("InstanceNumber"))
            series_no = integer(tags.get("SeriesNumber"))
            sop_class = tags.get("SOPClassUID")
            out.instances[sop] = Instance(
                dataset_id=did if did is None else strings.setdefault(did, did),
                study_uid=strings.setdefault(st, st),
                series_uid=strings.setdefault(se, se),
                sop_uid=sop,
                instance_number=number if number is not None and abs(number) < _BIG else 0,
                number_of_frames=frames if frames is not None and 0 < frames < _BIG else 1,
                series_number=series_no if series_no is not None and abs(series_no) < _BIG else 0,
                rows=integer(tags.get("Rows")),
                columns=integer(tags.get("Columns")),
                sop_class_uid=sop_class if isinstance(sop_class, str) and sop_class else None,
                header=None if lazy is not None else tags,
                entries=lazy,
                entry=k,
            )
    for inst in out.instances.values():
        out.series_instances.setdefault(inst.series_uid, []).append(inst.sop_uid)
    first: dict[str, Instance] = {}
    for se, sops in out.series_instances.items():
        sops.sort(key=lambda s: (out.instances[s].instance_number, s))
        first[se] = out.instances[sops[0]]
    for se, inst in sorted(first.items(), key=lambda kv: (kv[1].series_number, kv[0])):
        out.study_series.setdefault(inst.study_uid, []).append(se)
    if no_uid:
        out.warnings.append(
            f"{no_uid} metadata entr{'y' if no_uid == 1 else 'ies'} without "
            "Study/Series/SOP Instance UID ignored"
        )
    if bad_tags:
        out.warnings.append(
            f"{bad_tags} metadata entr{'y' if bad_tags == 1 else 'ies'} without a dicomTags object"
        )
    if dupes:
        out.warnings.append(
            f"{dupes} metadata entr{'y is' if dupes == 1 else 'ies are'} listed twice: "
            "the first kept"
        )
    return out
