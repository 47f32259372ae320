"""The run journal: one JSON line per finished file, for ``--resume`` and ``--log-json``.

While a run writes files, the parent appends a line per finished file to
``OUT/.journal.<format>[.shard-I-of-N].jsonl`` — the :class:`~.report.WrittenFile`
record plus the job's input digest (:class:`~.plan.Digests`) — and flushes it.
A run that is killed (SIGKILL, a node lost on a cluster) leaves the lines of
the files it finished; ``--resume`` reuses exactly those whose digest matches
the job planned now and whose file is still there with the recorded size, and
rebuilds everything else. A line cut short by the kill is ignored.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import IO, Any

import orjson

from .report import WrittenFile


def journal_name(output_format: str, shard: str = "") -> str:
    """``.journal.seg.jsonl`` (``.journal.seg.shard-01-of-04.jsonl`` for a shard)."""
    return f".journal.{output_format.lower()}{shard}.jsonl"


def record(file: WrittenFile, digest: str) -> dict[str, Any]:
    """The journal line of a finished file."""
    return {**dataclasses.asdict(file), "digest": digest}


def read_journals(out: Path, output_format: str) -> dict[str, dict[str, Any]]:
    """Finished files recorded by earlier runs (any shard) of this format, by file name;
    the last line for a name wins, unreadable lines are ignored."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(out.glob(f".journal.{output_format.lower()}*.jsonl")):
        try:
            lines = path.read_bytes().splitlines()
        except OSError:
            continue
        for line in lines:
            try:
                rec = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue  # a line cut short by a kill
            if isinstance(rec, dict) and isinstance(rec.get("path"), str):
                found[rec["path"]] = rec
    return found


def reusable(rec: dict[str, Any] | None, digest: str, out: Path) -> WrittenFile | None:
    """The :class:`WrittenFile` of a journal record that can be reused for a job with
    ``digest``: same digest, file present with the recorded size."""
    if rec is None or rec.get("digest") != digest:
        return None
    try:
        size = (out / rec["path"]).stat().st_size
    except OSError:
        return None
    if size != rec.get("bytes"):
        return None
    fields = {f.name for f in dataclasses.fields(WrittenFile)}
    try:
        values = {k: v for k, v in rec.items() if k in fields}
        values["label_groups"] = tuple(values.get("label_groups") or ())
        return WrittenFile(**values)
    except TypeError:
        return None


class Journal:
    """Appends journal lines, flushed line by line (and mirrors them to ``log``)."""

    def __init__(self, path: Path, log: IO[str] | None = None) -> None:
        self.path = path
        self._fp: IO[bytes] | None = None
        self._log = log

    def write(self, rec: dict[str, Any]) -> None:
        line = orjson.dumps(rec)
        if self._fp is None:
            try:
                self._fp = open(self.path, "ab")  # kept open for the whole run
            except OSError:
                self._fp = None
        if self._fp is not None:
            try:
                self._fp.write(line + b"\n")
                self._fp.flush()
            except OSError:
                pass  # the journal is an aid to resuming; the files and report are the record
        if self._log is not None:
            self._log.write(line.decode() + "\n")
            self._log.flush()

    def close(self) -> None:
        if self._fp is not None:
            fp, self._fp = self._fp, None
            try:
                fp.close()  # flushes nothing new (lines are flushed as written), but may fail
            except OSError:
                pass  # a full disk: the journal is an aid, the report is the record

    def rewrite(self, records: list[dict[str, Any]]) -> None:
        """Replace the journal by ``records`` (a finished run's files), atomically; no
        records, no journal."""
        self.close()
        if not records:
            self.path.unlink(missing_ok=True)
            return
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            tmp.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
            os.replace(tmp, self.path)
        except OSError:
            tmp.unlink(missing_ok=True)
