"""Shards for job arrays: run 1/N of a project per task, then merge the manifests.

``--shard I/N`` (or, inside a SLURM job array, ``SLURM_ARRAY_TASK_ID`` /
``SLURM_ARRAY_TASK_MIN`` / ``SLURM_ARRAY_TASK_COUNT``) selects a deterministic
subset of the planned files: files are dealt out largest first to the shard
with the least estimated cost so far (cost = frames × segments for SEG, groups
for SR), so shards take about equal time, not just equal counts. Every task
plans the whole project the same way, so the subsets never overlap and their
union is the whole plan. Each shard writes ``report.<format>.shard-I-of-N.json``;
:func:`merge_reports` checks that every planned file is accounted for exactly
once and writes the merged ``report.<format>.json``.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from .errors import OptionError, OutputError

_SPEC = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


@dataclass(frozen=True, slots=True)
class Shard:
    """Shard ``index`` (0-based) of ``count``."""

    index: int
    count: int

    @property
    def suffix(self) -> str:
        """``.shard-01-of-04`` (empty for the whole run)."""
        if self.count == 1:
            return ""
        width = len(str(self.count))
        return f".shard-{self.index + 1:0{width}d}-of-{self.count}"

    def __str__(self) -> str:
        return f"{self.index + 1}/{self.count}"


WHOLE = Shard(0, 1)


def parse_shard(text: str) -> Shard:
    """``"2/8"`` (1-based) → ``Shard(1, 8)``.

    Raises:
        OptionError: not ``I/N`` with ``1 <= I <= N``.
    """
    m = _SPEC.match(text or "")
    if not m or not 1 <= int(m.group(1)) <= int(m.group(2)):
        raise OptionError(f"--shard must be I/N with 1 <= I <= N (e.g. 3/8), not {text!r}")
    return Shard(int(m.group(1)) - 1, int(m.group(2)))


def shard_from_environment(env: Mapping[str, str] = os.environ) -> Shard | None:
    """The shard of a SLURM job array task, or None outside one.

    Raises:
        OptionError: the SLURM variables are inconsistent.
    """
    task, count = env.get("SLURM_ARRAY_TASK_ID"), env.get("SLURM_ARRAY_TASK_COUNT")
    if task is None or count is None:
        return None
    try:
        index = int(task) - int(env.get("SLURM_ARRAY_TASK_MIN", "0"))
        n = int(count)
    except ValueError:
        raise OptionError(
            f"SLURM_ARRAY_TASK_ID={task!r} / SLURM_ARRAY_TASK_COUNT={count!r} are not integers"
        ) from None
    if not 0 <= index < n:
        raise OptionError(
            f"SLURM array task {task} is not one of {n} tasks starting at "
            f"{env.get('SLURM_ARRAY_TASK_MIN', '0')}: use --array=MIN-MAX without a step, or "
            "pass --shard I/N"
        )
    return Shard(index, n)


def select(costs: Sequence[float], names: Sequence[str], shard: Shard) -> list[int]:
    """Indices (in plan order) of the jobs of ``shard``: largest first to the least loaded."""
    if shard.count == 1:
        return list(range(len(costs)))
    load = [0.0] * shard.count
    mine = []
    for k in sorted(range(len(costs)), key=lambda k: (-costs[k], names[k])):
        s = min(range(shard.count), key=lambda j: (load[j], j))
        load[s] += costs[k]
        if s == shard.index:
            mine.append(k)
    return sorted(mine)


def plan_digest(names: Sequence[str]) -> str:
    """Identifies a plan (the ordered file names of the whole project)."""
    return hashlib.blake2b("\n".join(names).encode(), digest_size=12).hexdigest()


def merge_reports(out: Path, output_format: str) -> dict[str, Any]:
    """Merge ``report.<fmt>.shard-*.json`` into ``report.<fmt>.json``; return the merged dict.

    Raises:
        OutputError: no shard manifests, shards missing or duplicated, plans that differ,
            or a planned file accounted for zero or several times (the message says which).
    """
    fmt = output_format.lower()
    paths = sorted(out.glob(f"report.{fmt}.shard-*-of-*.json"))
    if not paths:
        raise OutputError(f"no shard manifests report.{fmt}.shard-*-of-*.json in {out}")
    reports = []
    for p in paths:
        try:
            reports.append(orjson.loads(p.read_bytes()))
        except (OSError, orjson.JSONDecodeError) as exc:
            raise OutputError(f"cannot read {p}: {exc}") from None
    plans = {r.get("shard", {}).get("plan_digest") for r in reports}
    counts = {r.get("shard", {}).get("count") for r in reports}
    if len(plans) != 1 or len(counts) != 1:
        raise OutputError(
            f"the shard manifests in {out} come from different plans or shard counts: run all "
            "shards with the same inputs, options and version"
        )
    count = counts.pop()
    seen = sorted(r["shard"]["index"] for r in reports)
    if seen != list(range(count)):
        missing = sorted(set(range(count)) - set(seen))
        raise OutputError(
            f"shards {', '.join(str(i + 1) for i in missing) or '(duplicates)'} of {count} are "
            f"missing or duplicated in {out}"
        )
    planned: list[str] = []
    for r in reports:
        planned += r["shard"]["planned"]
    accounted: list[str] = []
    for r in reports:
        accounted += [f["path"] for f in r["files"]] + r.get("not_written", [])
        accounted += r["shard"].get("failed", [])
    if sorted(planned) != sorted(set(planned)) or sorted(accounted) != sorted(planned):
        lost = sorted(set(planned) - set(accounted))
        twice = sorted({n for n in accounted if accounted.count(n) > 1})
        raise OutputError(
            f"the shards do not account for every planned file exactly once "
            f"(missing: {lost[:3]}, twice: {twice[:3]})"
        )
    first = reports[0]
    merged = {
        "output_format": first["output_format"],
        "output_dir": first["output_dir"],
        "interrupted": next((r["interrupted"] for r in reports if r.get("interrupted")), None),
        "inputs": first["inputs"],
        "shards": count,
        "files": [f for r in reports for f in r["files"]],
        "not_written": [n for r in reports for n in r.get("not_written", [])],
        "stale": sorted({n for r in reports for n in r.get("stale", [])} - set(planned)),
        "removed": [n for r in reports for n in r.get("removed", [])],
        "skips": [s for r in reports for s in r["skips"]],
        "warnings": list(dict.fromkeys(w for r in reports for w in r["warnings"])),
        "internal_errors": sum(r.get("internal_errors", 0) for r in reports),
    }
    order = {name: k for k, name in enumerate(first["shard"]["plan"])}
    merged["files"].sort(key=lambda f: order.get(f["path"], len(order)))
    merged["inputs"] = {
        **first["inputs"],
        "exported_annotations": sum(f["annotations"] for f in merged["files"]),
    }
    counts_by_reason: dict[str, int] = {}
    for s in merged["skips"]:
        counts_by_reason[s["reason"]] = counts_by_reason.get(s["reason"], 0) + 1
    merged["skip_counts"] = dict(sorted(counts_by_reason.items()))
    target = out / f"report.{fmt}.json"
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_bytes(orjson.dumps(merged, option=orjson.OPT_INDENT_2))
    os.chmod(tmp, 0o644)
    os.replace(tmp, target)
    return merged
