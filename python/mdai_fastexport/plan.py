"""Step 3 of the data path: cut the indexed export into independent work items.

* :class:`SegJob`: one SEG file = one (dataset, series, annotator[, label group]).
* :class:`SrJob`: one SR file = one (dataset, study, annotator).

A job carries everything its worker needs (the subset of annotations with their
flat geometry, the raw headers of the instances it references, the labels),
so jobs can be shipped to other processes or machines and built in any order;
the output does not depend on the number of workers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .codes import safe_name, uid_from
from .index import AnnotationTable, ExportIndex, Geometry, Label
from .report import Skip


@dataclass(slots=True)
class Batch:
    """A subset of the annotation table, in output order."""

    ids: list[str]
    label_ids: list[str]
    series_uids: list[str | None]
    sop_uids: list[str | None]
    frames: list[int | None]
    notes: list[str | None]
    times: list[str | None]
    geometry: Geometry

    @classmethod
    def take(cls, table: AnnotationTable, idx: list[int]) -> Batch:
        return cls(
            ids=[table.ids[i] for i in idx],
            label_ids=[table.label_ids[i] for i in idx],
            series_uids=[table.series_uids[i] for i in idx],
            sop_uids=[table.sop_uids[i] for i in idx],
            frames=[table.frames[i] for i in idx],
            notes=[table.notes[i] for i in idx],
            times=[table.times[i] for i in idx],
            geometry=table.geometry.take(idx),
        )

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(slots=True)
class SegJob:
    """Everything needed to build and write one SEG file."""

    dataset_id: str
    study_uid: str
    series_uid: str
    annotator_id: str
    annotator: Mapping[str, str]
    label_groups: tuple[str, ...]
    segments: list[Label]  # segment k+1 = segments[k]
    parents: dict[str, Label]  # parent labels of the segments, by id
    source_uids: list[str]  # annotated instances, in instance-number order
    source_tags: dict[str, Mapping[str, Any]]
    batch: Batch
    filename: str
    series_instance_uid: str
    sop_instance_uid: str
    project_name: str


@dataclass(slots=True)
class SrJob:
    """Everything needed to build and write one SR file."""

    dataset_id: str
    study_uid: str
    annotator_id: str
    annotator: Mapping[str, str]
    labels: dict[str, Label]
    series_order: list[str]
    series_instances: dict[str, list[str]]  # referenced series -> all their SOP UIDs
    instance_tags: dict[str, Mapping[str, Any]]
    batch: Batch
    filename: str
    series_instance_uid: str
    sop_instance_uid: str
    project_name: str


def _annotator_part(annotator_id: str) -> str:
    return safe_name(annotator_id, 40)


def plan_seg(
    index: ExportIndex, combine_label_groups: bool = True
) -> tuple[list[SegJob], list[Skip]]:
    """One job per (dataset, series, annotator[, label group]) with INSTANCE-scope geometry.

    Series whose annotated instances are several multi-frame instances are split
    into one job per instance (a SEG derives from one multi-frame image).
    """
    t = index.annotations
    groups: dict[tuple[str, str, str, str, str], list[int]] = {}
    for i in range(len(t)):
        lab = index.labels[t.label_ids[i]]
        if not lab.is_local or t.sop_uids[i] is None:
            continue
        sop = t.sop_uids[i]
        inst = index.instances[sop]
        part = sop if inst.number_of_frames > 1 else ""
        group = "" if combine_label_groups else lab.group_id
        key = (t.dataset_ids[i], inst.series_uid, part, t.annotators[i], group)
        groups.setdefault(key, []).append(i)

    jobs: list[SegJob] = []
    skips: list[Skip] = []
    # multi-frame instances sharing a series: count parts per series to name files
    parts_per_series: dict[tuple[str, str, str, str], int] = {}
    for did, se, _part, ann, grp in groups:
        parts_per_series[(did, se, ann, grp)] = parts_per_series.get((did, se, ann, grp), 0) + 1

    def job_order(k: tuple[str, str, str, str, str]) -> tuple[Any, ...]:
        return (k[0], _series_rank(index, k[1]), k[1], k[2], k[3], k[4])

    for key in sorted(groups, key=job_order):
        did, se, part, ann, grp = key
        idx = groups[key]
        rows_sops = {t.sop_uids[i] for i in idx}
        sops = [s for s in index.series_instances[se] if s in rows_sops]
        # mixed frame sizes cannot share one SEG
        sizes = {
            (
                _int(index.instances[s].tags.get("Rows")),
                _int(index.instances[s].tags.get("Columns")),
            )
            for s in sops
        }
        study = index.instances[sops[0]].study_uid
        if len(sizes) > 1:
            skips.append(
                Skip(
                    "mixed_frame_sizes",
                    f"series {se}: annotated instances have different Rows/Columns "
                    f"{sorted(sizes)}; SEG for annotator {ann} not written",
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
        # frames grouped by segment, then by source frame; stable within
        idx_sorted = sorted(
            idx,
            key=lambda i: (
                seg_rank[t.label_ids[i]],
                sop_rank[t.sop_uids[i]],
                t.frames[i] or 0,
                i,
            ),
        )
        group_names = tuple(sorted({s.group_name for s in segments}))
        name_parts = ["DICOM_SEG", safe_name(did or "dataset", 40)]
        if grp:
            name_parts += ["label_group", safe_name(index.labels[segment_ids[0]].group_name, 40)]
            name_parts += ["series"]
        name_parts += [safe_name(se, 64)]
        if part and parts_per_series[(did, se, ann, grp)] > 1:
            name_parts += ["instance", safe_name(part, 64)]
        name_parts += ["annotator", _annotator_part(ann)]
        ident = ("SEG", did, se, part, ann, grp)
        jobs.append(
            SegJob(
                dataset_id=did,
                study_uid=study,
                series_uid=se,
                annotator_id=ann,
                annotator=index.users.get(ann, {}),
                label_groups=group_names,
                segments=segments,
                parents={
                    s.parent_id: index.labels[s.parent_id]
                    for s in segments
                    if s.parent_id and s.parent_id in index.labels
                },
                source_uids=sops,
                source_tags={s: index.instances[s].tags for s in sops},
                batch=Batch.take(t, idx_sorted),
                filename="_".join(name_parts) + ".dcm",
                series_instance_uid=uid_from(*ident, "series"),
                sop_instance_uid=uid_from(*ident, "instance"),
                project_name=index.project_name,
            )
        )
    _dedupe_filenames(jobs)
    return jobs, skips


def _dedupe_filenames(jobs: list[SegJob] | list[SrJob]) -> None:
    """Make file names unique (distinct label groups may share a sanitised name)."""
    seen: dict[str, int] = {}
    for job in jobs:
        seen[job.filename] = seen.get(job.filename, 0) + 1
    for job in jobs:
        if seen[job.filename] > 1:
            stem = job.filename[: -len(".dcm")]
            job.filename = f"{stem}_{job.sop_instance_uid[-8:]}.dcm"


def _series_rank(index: ExportIndex, series_uid: str) -> int:
    sops = index.series_instances.get(series_uid)
    if not sops:
        return 0
    study = index.instances[sops[0]].study_uid
    order = index.study_series.get(study, [])
    return order.index(series_uid) if series_uid in order else len(order)


def _int(v: Any) -> int | None:
    try:
        return int(float(v))
    except (TypeError, ValueError):
        return None


def plan_sr(index: ExportIndex) -> list[SrJob]:
    """One job per (dataset, study, annotator), annotations ordered exam → series → image."""
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
            scope_rank = {"EXAM": 0, "SERIES": 1, "INSTANCE": 2}[lab.scope]
            se = t.series_uids[i]
            sop = t.sop_uids[i]
            inst_no = index.instances[sop].instance_number if sop else 0
            return (
                scope_rank,
                s_rank.get(se, len(s_rank)) if se else -1,
                inst_no,
                sop or "",
                t.frames[i] or 0,
                lab.order,
                i,
            )

        idx_sorted = sorted(idx, key=order)
        batch = Batch.take(t, idx_sorted)
        pairs = zip(batch.series_uids, batch.sop_uids, strict=True)
        ref_series = {s for s, sop in pairs if s and not sop}
        series_instances = {s: list(index.series_instances[s]) for s in ref_series}
        needed = {s for s in batch.sop_uids if s}
        for sops in series_instances.values():
            needed.update(sops)
        label_ids = set(batch.label_ids)
        labels = {lid: index.labels[lid] for lid in label_ids}
        for lid in list(label_ids):
            p = index.labels[lid].parent_id
            if p and p in index.labels:
                labels[p] = index.labels[p]
        ident = ("SR", did, st, ann)
        jobs.append(
            SrJob(
                dataset_id=did,
                study_uid=st,
                annotator_id=ann,
                annotator=index.users.get(ann, {}),
                labels=labels,
                series_order=series_order,
                series_instances=series_instances,
                instance_tags={s: index.instances[s].tags for s in sorted(needed)},
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
                project_name=index.project_name,
            )
        )
    _dedupe_filenames(jobs)
    return jobs
