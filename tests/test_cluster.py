"""Cluster runs: shards of a job array, merge-reports, SLURM array variables, resume after a
kill, dask.distributed, machine-readable progress."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mdai_fastexport import OutputError, export_seg, export_sr
from mdai_fastexport.shards import Shard, merge_reports
from mdai_fastexport.synthetic import make_exports, write_exports


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.glob("*.dcm")}


def cli(*args: str, env: dict | None = None, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mdai_fastexport", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **(env or {})},
        **kw,
    )


@pytest.fixture(scope="module")
def export():
    return make_exports(seed=21, ct_series=3, ct_slices=4, n_annotators=3)


@pytest.mark.parametrize("export_fn", [export_seg, export_sr], ids=["seg", "sr"])
def test_the_union_of_shards_is_the_whole_run_byte_for_byte(export, tmp_path, export_fn):
    whole = export_fn(*export, tmp_path / "whole", n_jobs=1)
    out = tmp_path / "sharded"
    reports = [export_fn(*export, out, n_jobs=1, shard=Shard(i, 3)) for i in range(3)]
    planned = [set(r.shard["planned"]) for r in reports]
    assert all(planned) and sum(map(len, planned)) == len(set.union(*planned)) == len(whole.files)
    merged = merge_reports(out, whole.output_format)
    assert digests(out) == digests(tmp_path / "whole")
    assert [f["path"] for f in merged["files"]] == [f.path for f in whole.files]
    assert len(merged["skips"]) == len(whole.skips)
    # shards are balanced by estimated cost, not only by count
    costs = [sum(f.frames + f.measurement_groups for f in r.files) for r in reports]
    assert max(costs) <= 2 * min(costs) + 10


def test_merge_reports_refuses_an_incomplete_set_of_shards(export, tmp_path):
    out = tmp_path / "out"
    for i in (0, 2):
        export_seg(*export, out, n_jobs=1, shard=Shard(i, 3))
    with pytest.raises(OutputError, match="shards 2 of 3"):
        merge_reports(out, "SEG")
    proc = cli("merge-reports", str(out))
    assert proc.returncode == 2 and "shards 2 of 3" in proc.stderr
    assert not (out / "report.seg.json").exists()


def test_a_slurm_array_task_runs_its_shard(tmp_path):
    ann, meta = write_exports(tmp_path / "in", seed=3, ct_series=1, ct_slices=3)
    out = tmp_path / "out"
    env = {"SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_MIN": "4", "SLURM_ARRAY_TASK_COUNT": "2"}
    proc = cli("seg", "-a", str(ann), "-m", str(meta), "-o", str(out), "-j", "1", env=env)
    assert proc.returncode in (0, 1), proc.stderr
    assert (out / "report.seg.shard-2-of-2.json").is_file()
    env["SLURM_ARRAY_TASK_ID"] = "9"
    proc = cli("seg", "-a", str(ann), "-m", str(meta), "-o", str(out), "-j", "1", env=env)
    assert proc.returncode == 2 and "SLURM array task 9" in proc.stderr


def _alive(pid: int) -> bool:
    """Running (a zombie — dead, not yet reaped by PID 1 — does not count)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _children(pid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                out.append(int(d.name))
    return out


@pytest.mark.skipif(sys.platform != "linux", reason="process checks read /proc")
def test_resume_after_sigkill_writes_the_same_bytes(tmp_path):
    ann, meta = write_exports(
        tmp_path / "in",
        seed=8,
        ct_studies=2,
        ct_series=3,
        ct_slices=12,
        ct_size=(256, 256),
        annotations_per_slice=4,
    )
    out = tmp_path / "killed"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mdai_fastexport",
            "seg",
            "-a",
            str(ann),
            "-m",
            str(meta),
            "-o",
            str(out),
            "-j",
            "2",
            "-q",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    journal = out / ".journal.seg.jsonl"
    while time.monotonic() < deadline and (
        not journal.exists() or journal.read_bytes().count(b"\n") < 4
    ):
        time.sleep(0.02)
    workers = _children(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    time.sleep(1.0)
    assert workers and not [w for w in workers if _alive(w)], "orphaned workers"
    resumed = cli("seg", "-a", str(ann), "-m", str(meta), "-o", str(out), "-j", "2", "--resume")
    assert resumed.returncode in (0, 1), resumed.stderr
    report = json.loads((out / "report.seg.json").read_text())
    assert report["reused"], "files finished before the kill are reused"
    clean = tmp_path / "clean"
    assert cli("seg", "-a", str(ann), "-m", str(meta), "-o", str(clean), "-j", "1").returncode in (
        0,
        1,
    )
    assert digests(out) == digests(clean)
    assert not list(out.glob(".*.tmp"))


def test_resume_rebuilds_exactly_what_changed(export, tmp_path):
    ann, meta = copy.deepcopy(export)
    out = tmp_path / "out"
    first = export_seg(ann, meta, out, n_jobs=1)
    victim = next(
        a
        for a in ann["datasets"][0]["annotations"]
        if isinstance(a.get("data"), dict) and "vertices" in a["data"]
    )
    victim["data"]["vertices"][0][0] += 3.0
    again = export_seg(ann, meta, out, n_jobs=1, resume=True)
    rebuilt = {f.path for f in again.files} - set(again.reused)
    assert len(rebuilt) == 1 and len(again.reused) == len(first.files) - 1
    fresh = export_seg(ann, meta, tmp_path / "fresh", n_jobs=1)
    assert digests(out) == digests(tmp_path / "fresh") and len(fresh.files) == len(first.files)
    changed = {k for k, v in digests(out).items() if digests(tmp_path / "fresh")[k] != v}
    assert not changed


def test_log_json_prints_one_line_per_file(export, tmp_path):
    (tmp_path / "a.json").write_text(json.dumps(export[0]))
    (tmp_path / "m.json").write_text(json.dumps(export[1]))
    proc = cli(
        "sr",
        "-a",
        str(tmp_path / "a.json"),
        "-m",
        str(tmp_path / "m.json"),
        "-o",
        str(tmp_path / "out"),
        "-j",
        "1",
        "--log-json",
    )
    assert proc.returncode in (0, 1), proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    report = json.loads((tmp_path / "out" / "report.sr.json").read_text())
    assert [x["path"] for x in lines] == [f["path"] for f in report["files"]]
    assert all(len(x["digest"]) == 40 and x["bytes"] > 0 for x in lines)
    assert "file(s) written" in proc.stderr  # the summary goes to stderr
    quiet = cli(
        "sr",
        "-a",
        str(tmp_path / "a.json"),
        "-m",
        str(tmp_path / "m.json"),
        "-o",
        str(tmp_path / "q"),
        "-j",
        "1",
        "--quiet",
    )
    assert quiet.returncode in (0, 1) and quiet.stdout == "" and quiet.stderr == ""


def test_dask_local_cluster_writes_the_same_bytes(export, tmp_path):
    distributed = pytest.importorskip("distributed")
    whole = export_seg(*export, tmp_path / "one", n_jobs=1)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
    ):
        report = export_seg(*export, tmp_path / "dask", n_jobs=2, backend="dask")
    assert [f.path for f in report.files] == [f.path for f in whole.files]
    assert digests(tmp_path / "dask") == digests(tmp_path / "one")


def test_dask_without_a_client_is_a_clear_error(export, tmp_path):
    pytest.importorskip("distributed")
    from mdai_fastexport import OptionError

    with pytest.raises(OptionError, match=r"needs a dask\.distributed Client"):
        export_seg(*export, tmp_path / "x", n_jobs=2, backend="dask")
