"""Step 3 of the data path: cut the indexed export into independent work items.

* :class:`SegJob`: one SEG file = one (dataset, series, annotator[, label group]).
* :class:`SrJob`: one SR file = one (dataset, study, annotator).

A job carries its annotations (a column subset with their flat geometry) and
the UIDs of the instances it references — not their headers: the runner ships
each header once per batch of jobs (:mod:`.run`). Jobs are deterministic and
independent, so the output does not depend on how many workers build them or
in which order. Each job has a cost estimate (for balancing batches and
shards) and SEG jobs are checked against a memory budget before they run.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from ._version import __version__
from .codes import safe_name, uid_from
from .index import AnnotationTable, Annotator, ExportIndex, Geometry, Label
from .report import Skip

#: Default memory budget of one SEG job (bytes): scratch frame + packed frames.
DEFAULT_MEMORY_BUDGET = 2 << 30


@dataclass(slots=True)
class Batch:
    """A subset of the annotation table, in output order."""

    ids: list[str]
    tracking: list[str]
    label_ids: list[str]
    series_uids: list[str | None]
    sop_uids: list[str | None]
    frames: list[int | None]
    notes: list[str | None]
    times: list[str | None]
    from_model: list[bool]
    parent_tracking: list[str | None]
    parent_labels: list[str | None]
    geometry: Geometry

    @classmethod
    def take(cls, table: AnnotationTable, idx: list[int]) -> Batch:
        assert table.geometry is not None
        return cls(
            ids=[table.ids[i] for i in idx],
            tracking=[table.tracking[i] for i in idx],
            label_ids=[table.label_ids[i] for i in idx],
            series_uids=[table.series_uids[i] for i in idx],
            sop_uids=[table.sop_uids[i] for i in idx],
            frames=[table.frames[i] for i in idx],
            notes=[table.notes[i] for i in idx],
            times=[table.times[i] for i in idx],
            from_model=[table.from_model[i] for i in idx],
            parent_tracking=[
                table.tracking[table.parents[i]] if table.parents[i] >= 0 else None for i in idx
            ],
            parent_labels=[table.parent_labels[i] for i in idx],
            geometry=table.geometry.take(idx),
        )

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(slots=True)
class SegJob:
    """Everything needed to build and write one SEG file, but the source headers."""

    dataset_id: str
    study_uid: str
    series_uid: str
    annotator: Annotator
    label_groups: tuple[str, ...]
    segments: list[Label]  # segment k+1 = segments[k]
    parents: dict[str, Label]  # parent label of each segment, by segment label id
    source_uids: list[str]  # annotated instances, in instance-number order
    batch: Batch
    filename: str
    series_instance_uid: str
    sop_instance_uid: str
    cost: float
    digest: str = ""

    @property
    def kind(self) -> str:
        return "SEG"

    @property
    def instance_uids(self) -> list[str]:
        return self.source_uids


@dataclass(slots=True)
class SrJob:
    """Everything needed to build and write one SR file, but the instance headers."""

    dataset_id: str
    study_uid: str
    annotator: Annotator
    labels: dict[str, Label]
    series_order: list[str]
    series_instances: dict[str, list[str]]  # series of series-level labels -> their SOP UIDs
    referenced_uids: list[str]  # every instance the SR references, study order
    header_uid: str  # the instance whose patient/study attributes the SR copies
    series_of: dict[str, str]  # series of every instance above (from the metadata index)
    batch: Batch
    filename: str
    series_instance_uid: str
    sop_instance_uid: str
    cost: float
    digest: str = ""

    @property
    def kind(self) -> str:
        return "SR"

    @property
    def instance_uids(self) -> list[str]:
        if self.header_uid in self.referenced_uids:
            return self.referenced_uids
        return [*self.referenced_uids, self.header_uid]


Job = SegJob | SrJob


def _annotator_part(key: str) -> str:
    return safe_name(key, 40)


def _sizes(index: ExportIndex, sops: Iterable[str]) -> set[tuple[int | None, int | None]]:
    return {(index.instances[s].rows, index.instances[s].columns) for s in sops}


def plan_seg(
    index: ExportIndex,
    combine_label_groups: bool = True,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
) -> tuple[list[SegJob], list[Skip]]:
    """One job per (dataset, series, annotator[, label group]) with INSTANCE-scope geometry.

    A series of several multi-frame instances is one job (one SEG) like any other.
    Jobs whose annotated instances differ in Rows/Columns, or that would need
    more than ``memory_budget`` bytes, become skips naming the cause.
    """
    t = index.annotations
    groups: dict[tuple[str, str, str, str], list[int]] = {}
    for i in range(len(t)):
        lab = index.labels[t.label_ids[i]]
        sop = t.sop_uids[i]
        if not lab.is_local or sop is None:
            continue
        se = index.instances[sop].series_uid
        group = "" if combine_label_groups else lab.group_id
        groups.setdefault((t.dataset_ids[i], se, t.annotators[i], group), []).append(i)

    jobs: list[SegJob] = []
    skips: list[Skip] = []

    def job_order(k: tuple[str, str, str, str]) -> tuple[Any, ...]:
        first = index.instances[index.series_instances[k[1]][0]]
        return (k[0], first.study_uid, first.series_number, k[1], k[2], k[3])

    for key in sorted(groups, key=job_order):
        did, se, ann, grp = key
        idx = groups[key]
        annotator = index.annotators[ann]
        rows_sops = {t.sop_uids[i] for i in idx}
        sops = [s for s in index.series_instances[se] if s in rows_sops]
        study = index.instances[sops[0]].study_uid
        sizes = _sizes(index, sops)
        if len(sizes) > 1:
            skips.append(
                Skip(
                    "mixed_frame_sizes",
                    f"series {se}: annotated instances have different Rows/Columns "
                    f"{sorted(sizes, key=str)}; SEG of annotator {ann} not written",
                    None,
                    study,
                    se,
                )
            )
            continue
        segment_ids = sorted({t.label_ids[i] for i in idx}, key=lambda lid: index.labels[lid].order)
        segments = [index.labels[lid] for lid in segment_ids]
        seg_rank = {lid: k for k, lid in enumerate(segment_ids)}
        sop_rank = {s: k for k, s in enumerate(sops)}
        idx_sorted = sorted(
            idx,
            key=lambda i: (seg_rank[t.label_ids[i]], sop_rank[t.sop_uids[i]], t.frames[i] or 0, i),
        )
        frames_out = len({(t.label_ids[i], t.sop_uids[i], t.frames[i]) for i in idx})
        rows, cols = next(iter(sizes))
        pixels = (rows or 0) * (cols or 0)
        need = pixels + frames_out * (pixels // 8 + 512)
        if need > memory_budget:
            skips.append(
                Skip(
                    "too_large",
                    f"series {se}, annotator {ann}: {frames_out} frame(s) of {rows}x{cols} need "
                    f"about {need / 2**20:.0f} MiB, over the memory budget of "
                    f"{memory_budget / 2**20:.0f} MiB (raise it with --memory-budget)",
                    None,
                    study,
                    se,
                )
            )
            continue
        group_names = tuple(sorted({s.group_name for s in segments}))
        name_parts = ["DICOM_SEG", safe_name(did or "dataset", 40)]
        if grp:
            name_parts += ["label_group", safe_name(index.labels[segment_ids[0]].group_name, 40)]
            name_parts += ["series"]
        name_parts += [safe_name(se, 64), "annotator", _annotator_part(ann)]
        ident = ("SEG", did, se, ann, grp)
        batch = Batch.take(t, idx_sorted)
        jobs.append(
            SegJob(
                dataset_id=did,
                study_uid=study,
                series_uid=se,
                annotator=annotator,
                label_groups=group_names,
                segments=segments,
                parents=_segment_parents(index, segments, batch),
                source_uids=sops,
                batch=batch,
                filename="_".join(name_parts) + ".dcm",
                series_instance_uid=uid_from(*ident, "series"),
                sop_instance_uid=uid_from(*ident, "instance"),
                cost=frames_out * (1.0 + pixels / 262144) + 0.05 * len(idx) + 2.0,
            )
        )
    _dedupe_filenames(jobs)
    return jobs, skips


def _segment_parents(index: ExportIndex, segments: list[Label], batch: Batch) -> dict[str, Label]:
    """Parent label per segment: the label's own parent, else the one its annotations name."""
    out: dict[str, Label] = {}
    for seg in segments:
        pid = seg.parent_id
        if pid is None:
            named = {
                p
                for lid, p in zip(batch.label_ids, batch.parent_labels, strict=True)
                if lid == seg.id and p
            }
            pid = named.pop() if len(named) == 1 else None
        if pid is not None and pid in index.labels:
            out[seg.id] = index.labels[pid]
    return out


def _dedupe_filenames(jobs: list[SegJob] | list[SrJob]) -> None:
    """Make file names unique (distinct label groups may share a sanitised name)."""
    seen: dict[str, int] = {}
    for job in jobs:
        seen[job.filename] = seen.get(job.filename, 0) + 1
    for job in jobs:
        if seen[job.filename] > 1:
            stem = job.filename[: -len(".dcm")]
            job.filename = f"{stem}_{job.sop_instance_uid[-8:]}.dcm"


def plan_sr(index: ExportIndex) -> list[SrJob]:
    """One job per (dataset, study, annotator); groups ordered study → series → image.

    Series follow Series Number (then UID), images Instance Number (then UID,
    then frame), as in the metadata index.
    """
    t = index.annotations
    groups: dict[tuple[str, str, str], list[int]] = {}
    for i in range(len(t)):
        groups.setdefault((t.dataset_ids[i], t.study_uids[i], t.annotators[i]), []).append(i)

    jobs: list[SrJob] = []
    for key in sorted(groups):
        did, st, ann = key
        idx = groups[key]
        series_order = index.study_series.get(st, [])
        s_rank = {s: k for k, s in enumerate(series_order)}

        def order(i: int, s_rank: dict[str, int] = s_rank) -> tuple[Any, ...]:
            lab = index.labels[t.label_ids[i]]
            se, sop = t.series_uids[i], t.sop_uids[i]
            inst = index.instances[sop] if sop else None
            return (
                lab.scope_rank,
                s_rank.get(se, len(s_rank)) if se else -1,
                inst.instance_number if inst else 0,
                sop or "",
                t.frames[i] or 0,
                lab.order,
                i,
            )

        idx_sorted = sorted(idx, key=order)
        batch = Batch.take(t, idx_sorted)
        ref_series = [
            s
            for s in series_order
            if any(
                se == s and not sop
                for se, sop in zip(batch.series_uids, batch.sop_uids, strict=True)
            )
        ]
        series_instances = {s: list(index.series_instances[s]) for s in ref_series}
        needed = {s for s in batch.sop_uids if s}
        for sops in series_instances.values():
            needed.update(sops)
        referenced = [
            sop
            for se in series_order
            for sop in index.series_instances.get(se, [])
            if sop in needed
        ]
        # the patient/study header comes from a referenced instance, or (study labels only)
        # from the first instance of the study
        header_uid = referenced[0] if referenced else index.series_instances[series_order[0]][0]
        labels = {lid: index.labels[lid] for lid in set(batch.label_ids)}
        for lid in [*batch.parent_labels, *(lab.parent_id for lab in list(labels.values()))]:
            if lid and lid in index.labels:
                labels[lid] = index.labels[lid]
        ident = ("SR", did, st, ann)
        jobs.append(
            SrJob(
                dataset_id=did,
                study_uid=st,
                annotator=index.annotators[ann],
                labels=labels,
                series_order=series_order,
                series_instances=series_instances,
                referenced_uids=referenced,
                header_uid=header_uid,
                series_of={
                    uid: index.instances[uid].series_uid for uid in [*referenced, header_uid]
                },
                batch=batch,
                filename="_".join(
                    [
                        "DICOM_SR",
                        safe_name(did or "dataset", 40),
                        safe_name(st, 64),
                        "annotator",
                        _annotator_part(ann),
                    ]
                )
                + ".dcm",
                series_instance_uid=uid_from(*ident, "series"),
                sop_instance_uid=uid_from(*ident, "instance"),
                cost=1.0 + len(idx) + 0.1 * len(referenced),
            )
        )
    _dedupe_filenames(jobs)
    return jobs


class Digests:
    """Input digests of jobs: what went into a file (its annotations with their geometry,
    labels, annotator, the headers of the instances it references, its UIDs and name) and
    this version of the software. Equal digests mean byte-identical files, which is what
    ``--resume`` relies on. Each header is hashed once per run."""

    def __init__(self, index: ExportIndex) -> None:
        self._index = index
        self._headers: dict[str, bytes] = {}
        self._labels: dict[str, tuple[Label, bytes]] = {}

    def _label(self, label: Label) -> bytes:
        """The label serialised (once per run: ``dataclasses.asdict`` is slow)."""
        got = self._labels.get(label.id)
        if got is None or got[0] is not label:
            got = (label, orjson.dumps(dataclasses.asdict(label), default=str))
            self._labels[label.id] = got
        return got[1]

    def _header(self, uid: str) -> bytes:
        h = self._headers.get(uid)
        if h is None:
            inst = self._index.instances[uid]
            raw = inst.raw()  # read from a file: its entry's bytes, as they are
            if raw is None:
                tags = inst.tags
                try:
                    raw = orjson.dumps(
                        tags,
                        option=orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY,
                        default=str,
                    )
                except TypeError:
                    # a parsed dict orjson cannot serialise (an integer beyond 64 bits, a key
                    # that is not a string): its repr is as deterministic within a version
                    raw = repr(tags).encode("utf-8", "surrogatepass")
            h = self._headers[uid] = hashlib.blake2b(raw, digest_size=16).digest()
        return h

    def __call__(self, job: Job) -> str:
        b = job.batch
        g = b.geometry
        labels = _job_labels(job)
        h = hashlib.blake2b(digest_size=20)
        h.update(
            orjson.dumps(
                [
                    __version__,
                    job.kind,
                    job.filename,
                    job.sop_instance_uid,
                    job.series_instance_uid,
                    dataclasses.asdict(job.annotator),
                    len(labels),
                    [b.ids, b.tracking, b.label_ids, b.series_uids, b.sop_uids, b.frames],
                    [b.notes, b.times, b.from_model, b.parent_tracking, b.parent_labels],
                    list(job.instance_uids),
                ],
                default=str,
            )
        )
        for arr in (
            g.kind,
            g.param,
            g.ann_ring_offsets,
            g.ring_vertex_offsets,
            g.ring_is_hole,
            g.vertices,
        ):
            h.update(arr.tobytes())
        for lab in labels:
            h.update(self._label(lab))
        for uid in job.instance_uids:
            h.update(self._header(uid))
        return h.hexdigest()


def _job_labels(job: Job) -> list[Label]:
    if isinstance(job, SegJob):
        return [*job.segments, *(job.parents[k] for k in sorted(job.parents))]
    return [job.labels[k] for k in sorted(job.labels)]


def add_digests(index: ExportIndex, jobs: Iterable[Job]) -> None:
    """Set :attr:`digest` on every job."""
    digests = Digests(index)
    for job in jobs:
        job.digest = digests(job)
