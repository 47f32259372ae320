"""Faults around a run: unusable output folders, a full disk, signals, a killed run, options,
several runs into one folder. Whatever happens: exit 2 with one line, or a report that
lists exactly the files in the folder; never a traceback, never a worker left behind."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from fuzzing import annotator, run_cli
from mdai_fastexport import (
    OptionError,
    OutputError,
    RasterOptions,
    SR_SEG_Export,
    export_seg,
    export_sr,
)
from mdai_fastexport.cli import main
from mdai_fastexport.synthetic import write_exports

#: Seconds a run may take to stop after SIGINT/SIGTERM (it writes the report and exits).
STOP_TIMEOUT = 15


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_exports(
        tmp_path_factory.mktemp("small"), name="small", seed=3, ct_series=1, ct_slices=3
    )


@pytest.fixture(scope="module")
def medium(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """About 1 MB of SEG files in a dozen files."""
    return write_exports(
        tmp_path_factory.mktemp("medium"),
        name="medium",
        seed=5,
        ct_series=2,
        ct_slices=6,
        ct_size=(256, 256),
    )


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """An export whose SEG run takes a few seconds with two workers."""
    return write_exports(
        tmp_path_factory.mktemp("big"),
        name="big",
        seed=5,
        ct_series=3,
        ct_slices=30,
        ct_size=(512, 512),
    )


# --------------------------------------------------------------------------- helpers


def assert_one_line_error(proc: subprocess.CompletedProcess[str], *words: str) -> str:
    """Exit 2, stderr one ``error: ...`` line naming ``words``, no traceback."""
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


def dcm_names(out: Path) -> list[str]:
    return sorted(p.name for p in out.glob("*.dcm"))


def manifest(out: Path, fmt: str) -> dict:
    return json.loads((out / f"report.{fmt.lower()}.json").read_text())


def assert_report_is_the_folder(out: Path, fmt: str, others: tuple[str, ...] = ()) -> dict:
    """The manifest lists exactly this format's ``.dcm`` files (plus stale ones); no
    temporary file is left."""
    m = manifest(out, fmt)
    names = [n for n in dcm_names(out) if n.startswith(f"DICOM_{fmt}_")]
    assert sorted([f["path"] for f in m["files"]] + m["stale"]) == names
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp")]
    for n in names:
        assert (out / n).stat().st_mode & 0o777 == 0o644, n
    return m


def digests(out: Path) -> dict[str, str]:
    return {n: hashlib.sha256((out / n).read_bytes()).hexdigest() for n in dcm_names(out)}


def _proc_stat(pid: str) -> tuple[str, int, int] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()
    return fields[0], int(fields[1]), int(fields[2])  # state, ppid, pgrp


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of process group ``pgid``."""
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        st = _proc_stat(pid)
        if st is not None and st[2] == pgid and st[0] != "Z":
            out.append(int(pid))
    return out


def wait_gone(pgid: int, timeout: float) -> list[int]:
    """Members of ``pgid`` still alive after ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while True:
        alive = group_members(pgid)
        if not alive or time.monotonic() > end:
            return alive
        time.sleep(0.1)


def start_cli(fmt: str, ann: Path, meta: Path, out: Path, *extra: str) -> subprocess.Popen[str]:
    """The CLI in a new session (its own process group = its pid, workers included)."""
    cmd = [sys.executable, "-m", "mdai_fastexport", fmt, "-a", str(ann), "-m", str(meta)]
    cmd += ["-o", str(out), "--no-progress", *extra]
    return subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def wait_until_working(proc: subprocess.Popen[str], out: Path, workers: int) -> None:
    """Until the run has its workers and has written a file (or fail)."""
    end = time.monotonic() + 60
    while time.monotonic() < end:
        if proc.poll() is not None:
            pytest.fail(f"the run ended before it could be interrupted: {proc.returncode}")
        if len(group_members(proc.pid)) > workers and out.is_dir() and dcm_names(out):
            return
        time.sleep(0.05)
    pytest.fail("the run did not start its workers within 60 s")


def kill_group(pgid: int) -> None:
    """Clean up a run this test started (its own process group)."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


# --------------------------------------------------------------------------- output folder


def test_out_is_an_existing_file(small, tmp_path):
    target = tmp_path / "a_file"
    target.write_text("keep me")
    proc = run_cli("seg", *small, target, "-j", "1")
    assert_one_line_error(proc, str(target), "not a folder")
    assert target.read_text() == "keep me"
    with pytest.raises(OutputError, match="not a folder"):
        export_sr(*small, target, n_jobs=1)


def test_read_only_folder(small, tmp_path):
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o555)
    try:
        if os.access(out, os.W_OK):
            pytest.skip("running as root: chmod 0555 does not stop writes (see the simulated test)")
        proc = run_cli("seg", *small, out, "-j", "1")
        assert_one_line_error(proc, "not writable")
        assert list(out.iterdir()) == []
    finally:
        out.chmod(0o755)


def test_read_only_folder_simulated(small, tmp_path, monkeypatch, capsys):
    """A folder the user may not write to (os.access says so, as for a non-root user)."""
    out = tmp_path / "ro"
    out.mkdir()
    real_access = os.access

    def access(path, mode, *args, **kwargs):
        if Path(path).resolve() == out.resolve() and mode & os.W_OK:
            return False
        return real_access(path, mode, *args, **kwargs)

    monkeypatch.setattr(os, "access", access)
    code = main(["seg", "-a", str(small[0]), "-m", str(small[1]), "-o", str(out), "-j", "1"])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "not writable" in lines[0], err
    assert list(out.iterdir()) == []


def test_writes_refused_by_the_file_system(small, tmp_path, monkeypatch, capsys):
    """os.access says yes but creating files fails (EACCES, e.g. ACLs or a read-only mount):
    nothing can be written, not even the report: exit 2 with one line, no file left."""
    out = tmp_path / "refusing"
    out.mkdir()
    real_mkstemp = tempfile.mkstemp

    def mkstemp(*args, **kwargs):
        if kwargs.get("dir") is not None and Path(kwargs["dir"]).resolve() == out.resolve():
            raise PermissionError(errno.EACCES, "Permission denied", str(out))
        return real_mkstemp(*args, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    code = main(["sr", "-a", str(small[0]), "-m", str(small[1]), "-o", str(out), "-j", "1"])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Permission denied" in lines[0] or "not writable" in lines[0], err
    assert "Traceback" not in err
    assert dcm_names(out) == []


def test_unwritable_path(small):
    proc = run_cli("sr", *small, "/proc/x", "-j", "1")
    assert_one_line_error(proc, "/proc/x")
    with pytest.raises(OutputError, match="/proc/x"):
        export_seg(*small, "/proc/x", n_jobs=1)


@pytest.mark.parametrize("fmt", ["seg", "sr"])
def test_report_symlink_is_not_written_through(small, tmp_path, fmt):
    """``report.<fmt>.json`` is a symlink to a file elsewhere: the run replaces the link (or
    refuses with one line); the file it points to stays as it was."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    secret = elsewhere / "secret.json"
    secret.write_text('{"keep": true}')
    out = tmp_path / "out"
    out.mkdir()
    (out / f"report.{fmt}.json").symlink_to(secret)

    proc = run_cli(fmt, *small, out, "-j", "1")
    assert secret.read_text() == '{"keep": true}'
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode in (0, 2), proc.stderr
    if proc.returncode == 2:
        assert_one_line_error(proc, "report")
    else:
        assert not (out / f"report.{fmt}.json").is_symlink()
        assert_report_is_the_folder(out, fmt.upper())


def test_output_file_symlink_is_not_written_through(small, tmp_path):
    """An earlier file of the folder is a symlink to a file elsewhere: the new file replaces
    the link; the file it pointed to stays as it was."""
    clean_run = tmp_path / "clean"
    assert run_cli("seg", *small, clean_run, "-j", "1").returncode == 0
    first = dcm_names(clean_run)[0]
    precious = tmp_path / "precious.dcm"
    precious.write_bytes(b"precious")
    out = tmp_path / "out"
    out.mkdir()
    (out / first).symlink_to(precious)

    proc = run_cli("seg", *small, out, "-j", "1")
    assert precious.read_bytes() == b"precious"
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 0, proc.stderr
    assert not (out / first).is_symlink()
    assert_report_is_the_folder(out, "SEG")
    assert digests(out) == digests(clean_run)


def test_symlinked_output_folder_is_fine(small, tmp_path):
    """The output folder itself may be a symlink (a common set-up): files land in its target."""
    target = tmp_path / "real"
    target.mkdir()
    link = tmp_path / "link"
    link.symlink_to(target)
    proc = run_cli("sr", *small, link, "-j", "1")
    assert proc.returncode == 0, proc.stderr
    assert dcm_names(target)
    assert_report_is_the_folder(target, "SR")


# --------------------------------------------------------------------------- full disk


@pytest.fixture
def tiny_disk(tmp_path):
    """A 512 KiB tmpfs (root only); skipped where it cannot be mounted (the in-process
    test below simulates the full disk instead)."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mnt)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


@pytest.mark.parametrize(
    "jobs",
    [
        "1",
        "2",
    ],
)
def test_full_disk(medium, tiny_disk, jobs):
    """A real full disk: exit 1 with a report of what was written (no partial file, no job
    started after the first ENOSPC), or exit 2 with one line and nothing left behind."""
    out = tiny_disk / "out"
    try:
        proc = run_cli("seg", *medium, out, "-j", jobs, timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail("the run hung after the disk filled up")
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode in (1, 2), (proc.returncode, proc.stdout, proc.stderr)
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp")]
    if proc.returncode == 2:
        assert_one_line_error(proc, "No space left")
        assert dcm_names(out) == [], "exit 2 says nothing was written, but files were left"
        return
    m = assert_report_is_the_folder(out, "SEG")
    failed = [s for s in m["skips"] if s["reason"] == "write_failed"]
    per_file = [s for s in failed if "No space left" in s["detail"]]
    assert per_file, m["skips"]
    assert m["not_written"], "the disk is too large for this test"
    assert any("not attempted after the disk filled up" in s["detail"] for s in failed)
    # no job is started after the first ENOSPC: one failed file per worker at most
    assert len(per_file) <= int(jobs), [s["detail"] for s in per_file]
    assert len(m["files"]) + len(per_file) + len(m["not_written"]) == m["inputs"]["jobs"]


class _FillingDisk:
    """``os.fdopen`` and ``tempfile.mkstemp`` patched: the ``allowed``-th DICOM file and every
    later write fail with ENOSPC (``stays_full``: the report too); files begun are logged."""

    def __init__(self, monkeypatch, allowed: int, stays_full: bool) -> None:
        self.events: list[str] = []
        self.allowed, self.stays_full = allowed, stays_full
        real_fdopen, real_mkstemp = os.fdopen, tempfile.mkstemp
        disk = self

        class Writer:
            def __init__(self, fp):
                self.fp = fp

            def write(self, data):
                dicom = bytes(data[:128]) == bytes(128)
                full = "ENOSPC" in disk.events
                if (dicom and disk.events.count("dcm") > disk.allowed) or (
                    full and disk.stays_full
                ):
                    disk.events.append("ENOSPC")
                    raise OSError(errno.ENOSPC, "No space left on device")
                return self.fp.write(data)

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self.fp.close()

        def mkstemp(*args, **kwargs):
            prefix = str(kwargs.get("prefix", ""))
            disk.events.append("dcm" if prefix.endswith(".dcm.") else "other")
            return real_mkstemp(*args, **kwargs)

        monkeypatch.setattr(os, "fdopen", lambda fd, mode, *a: Writer(real_fdopen(fd, mode, *a)))
        monkeypatch.setattr(tempfile, "mkstemp", mkstemp)

    def begun_after_enospc(self) -> list[str]:
        first = self.events.index("ENOSPC")
        return [e for e in self.events[first + 1 :] if e == "dcm"]


def test_full_disk_in_process(small, tmp_path, monkeypatch):
    """The disk fills up during the second file (the small report still fits): no file is
    begun after that, and the report says what was written and what was not attempted."""
    out = tmp_path / "out"
    out.mkdir()
    disk = _FillingDisk(monkeypatch, allowed=1, stays_full=False)
    report = export_seg(*small, out, n_jobs=1)
    monkeypatch.undo()
    assert disk.begun_after_enospc() == [], disk.events
    assert len(report.files) == 1
    assert report.not_written and report.exit_code == 1
    m = assert_report_is_the_folder(out, "SEG")
    assert m["not_written"] == report.not_written
    assert len(m["files"]) + 1 + len(m["not_written"]) == m["inputs"]["jobs"]


def test_disk_that_stays_full_leaves_no_unlisted_file(small, tmp_path, monkeypatch, capsys):
    """The disk stays full, so the report cannot be written either: exit 2 ('nothing
    written') must then be true, or the report must have been written."""
    out = tmp_path / "out"
    out.mkdir()
    _FillingDisk(monkeypatch, allowed=1, stays_full=True)
    code = main(["seg", "-a", str(small[0]), "-m", str(small[1]), "-o", str(out), "-j", "1"])
    monkeypatch.undo()
    err = capsys.readouterr().err
    assert "Traceback" not in err
    if code == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), err
        assert dcm_names(out) == [], f"exit 2, but {dcm_names(out)} left, listed nowhere"
    else:
        assert code == 1, err
        assert_report_is_the_folder(out, "SEG")


# --------------------------------------------------------------------------- signals


@pytest.mark.parametrize(
    "sig, to_group",
    [(signal.SIGINT, True), (signal.SIGTERM, False)],
    ids=["SIGINT-to-the-group (Ctrl-C)", "SIGTERM-to-the-run (kill)"],
)
def test_interrupted_run_writes_its_report_and_stops_its_workers(big, tmp_path, sig, to_group):
    out = tmp_path / "out"
    proc = start_cli("seg", *big, out, "-j", "2")
    try:
        wait_until_working(proc, out, workers=2)
        workers = [p for p in group_members(proc.pid) if p != proc.pid]
        if to_group:
            os.killpg(proc.pid, sig)
        else:
            os.kill(proc.pid, sig)
        try:
            _, err = proc.communicate(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the run did not stop within {STOP_TIMEOUT} s of {sig.name}")
        assert proc.returncode == 128 + sig, (proc.returncode, err)
        assert "Traceback" not in err, err
        assert err.strip().splitlines()[-1].startswith("interrupted"), err
        m = assert_report_is_the_folder(out, "SEG")
        assert m["interrupted"] == sig.name
        assert m["not_written"], "the run finished before the signal"
        assert len(m["files"]) + len(m["not_written"]) <= m["inputs"]["jobs"]
        alive = wait_gone(proc.pid, 5)
        assert alive == [], f"workers {workers}: still alive {alive}"
    finally:
        kill_group(proc.pid)
        proc.wait()


def test_killed_run_leaves_no_worker_and_a_rerun_writes_the_same_files(big, tmp_path):
    out = tmp_path / "out"
    proc = start_cli("seg", *big, out, "-j", "2")
    try:
        wait_until_working(proc, out, workers=2)
        proc.kill()  # SIGKILL: no handler runs; workers must die with their parent
        proc.wait(timeout=10)
        alive = wait_gone(proc.pid, 5)
        assert alive == [], f"orphaned workers still alive: {alive}"
    finally:
        kill_group(proc.pid)
    again = run_cli("seg", *big, out, "-j", "2")
    assert again.returncode == 0, again.stderr
    fresh = tmp_path / "fresh"
    clean = run_cli("seg", *big, fresh, "-j", "1")
    assert clean.returncode == 0, clean.stderr
    assert_report_is_the_folder(out, "SEG")
    assert digests(out) == digests(fresh)


# --------------------------------------------------------------------------- options


@pytest.mark.parametrize(
    "make_kwargs, option",
    [
        (lambda: {"raster": RasterOptions(-5, -1)}, "line_width"),
        (lambda: {"raster": RasterOptions(line_width=float("inf"))}, "line_width"),
        (lambda: {"raster": RasterOptions(point_radius=float("nan"))}, "point_radius"),
        (lambda: {"n_jobs": 0}, "n_jobs"),
        (lambda: {"n_jobs": 1.5}, "n_jobs"),
        (lambda: {"n_jobs": True}, "n_jobs"),
        (lambda: {"backend": "nope"}, "backend"),
        (lambda: {"frame_base": 2}, "frame_base"),
        (lambda: {"memory_budget": 0}, "memory_budget"),
        (lambda: {"memory_budget": -1}, "memory_budget"),
        (lambda: {"memory_budget": 1.5}, "memory_budget"),
    ],
    ids=[
        "raster-negative",
        "line-width-inf",
        "point-radius-nan",
        "n_jobs-0",
        "n_jobs-1.5",
        "n_jobs-True",
        "backend-unknown",
        "frame_base-2",
        "memory_budget-0",
        "memory_budget-negative",
        "memory_budget-float",
    ],
)
def test_invalid_api_options_raise_option_error(small, tmp_path, make_kwargs, option):
    out = tmp_path / "out"
    with pytest.raises(OptionError, match=option) as info:
        export_seg(*small, out, **make_kwargs())
    assert isinstance(info.value, ValueError)
    assert not out.exists()


@pytest.mark.parametrize(
    "kwargs, option",
    [
        ({"n_jobs": 0}, "n_jobs"),
        ({"n_jobs": "2"}, "n_jobs"),
        ({"backend": 3}, "backend"),
        ({"frame_base": -1}, "frame_base"),
    ],
)
def test_invalid_sr_options_raise_option_error(small, tmp_path, kwargs, option):
    with pytest.raises(OptionError, match=option):
        export_sr(*small, tmp_path / "out", **kwargs)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("fmt", ["XYZ", None, 3])
def test_drop_in_class_rejects_an_unknown_format_with_option_error(small, tmp_path, fmt):
    with pytest.raises(OptionError, match="format"):
        SR_SEG_Export(fmt, *small, output_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "args, option",
    [
        (["--line-width", "inf"], "line_width"),
        (["--line-width", "nan"], "line_width"),
        (["--point-radius", "-1"], "point_radius"),
        (["--jobs", "0"], "n_jobs"),
        (["--backend", "nope"], "backend"),
    ],
)
def test_invalid_cli_options_exit_2_with_one_line(small, tmp_path, args, option, capsys):
    out = tmp_path / "out"
    code = main(["seg", "-a", str(small[0]), "-m", str(small[1]), "-o", str(out), *args])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and option in lines[0], err
    assert not out.exists()


@pytest.mark.parametrize(
    "args",
    [["--memory-budget", "-1"], ["--memory-budget", "lots"], ["--jobs", "1.5"]],
    ids=["memory-budget-negative", "memory-budget-text", "jobs-float"],
)
def test_unparsable_cli_options_exit_2_without_a_traceback(small, tmp_path, args):
    proc = run_cli("seg", *small, tmp_path / "out", *args)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "error:" in proc.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "out").exists()


def test_unparsable_cli_option_is_one_line(small, tmp_path):
    proc = run_cli("seg", *small, tmp_path / "out", "--memory-budget", "-1")
    assert_one_line_error(proc, "memory")


# --------------------------------------------------------------------------- several runs


def _without_annotator(ann_path: Path, dest: Path) -> tuple[Path, str]:
    """The export with every annotation of its second annotator removed."""
    ann = json.loads(ann_path.read_text())
    annotators = sorted({annotator(a) for a in ann["datasets"][0]["annotations"]})
    gone = annotators[1]
    for d in ann["datasets"]:
        d["annotations"] = [a for a in d["annotations"] if annotator(a) != gone]
    dest.write_text(json.dumps(ann))
    return dest, gone


def test_seg_and_sr_runs_into_one_folder_keep_both_manifests(small, tmp_path):
    out = tmp_path / "out"
    seg = export_seg(*small, out, n_jobs=1)
    sr = export_sr(*small, out, n_jobs=1)
    assert seg.files and sr.files
    m_seg = assert_report_is_the_folder(out, "SEG")
    m_sr = assert_report_is_the_folder(out, "SR")
    assert sorted(f["path"] for f in m_seg["files"] + m_sr["files"]) == dcm_names(out)
    assert m_seg["stale"] == m_sr["stale"] == []
    # a second SEG run does not list the SR files as its own, nor touch them
    before = digests(out)
    again = export_seg(*small, out, n_jobs=1)
    assert again.stale == [] and digests(out) == before


@pytest.mark.parametrize("how", ["api", "cli"])
def test_files_an_earlier_run_wrote_are_listed_as_stale_then_cleaned(small, tmp_path, how):
    out = tmp_path / "out"
    first = export_seg(*small, out, n_jobs=1)
    export_sr(*small, out, n_jobs=1)
    fewer, gone = _without_annotator(small[0], tmp_path / "fewer.json")
    old = sorted(f.path for f in first.files if f.annotator_id == gone)
    assert old

    second = export_seg(fewer, small[1], out, n_jobs=1)
    assert sorted(second.stale) == old
    assert all((out / n).exists() for n in old)
    assert_report_is_the_folder(out, "SEG")
    assert manifest(out, "SEG")["stale"] == second.stale

    if how == "api":
        third = export_seg(fewer, small[1], out, n_jobs=1, clean=True)
        assert sorted(third.removed) == old and third.stale == []
    else:
        proc = run_cli("seg", fewer, small[1], out, "-j", "1", "--clean")
        assert proc.returncode == 0, proc.stderr
        assert sorted(manifest(out, "SEG")["removed"]) == old
    assert not any((out / n).exists() for n in old)
    assert_report_is_the_folder(out, "SEG")
    assert_report_is_the_folder(out, "SR")  # the SR files are not touched by --clean
    assert len([n for n in dcm_names(out) if n.startswith("DICOM_SR_")]) == len(
        manifest(out, "SR")["files"]
    )


def test_a_file_that_fails_on_a_rerun_does_not_stay_unlisted(small, tmp_path):
    """Run 1 writes every file; in run 2 one of them cannot be built (its source header lost
    its SOP Class UID): the folder must not keep run 1's copy as if nothing happened —
    either it is removed or the report lists it (stale)."""
    out = tmp_path / "out"
    export_seg(*small, out, n_jobs=1)
    meta = json.loads(small[1].read_text())
    entry = meta["datasets"][0]["dicomMetadata"][0]
    entry["dicomTags"]["SOPClassUID"] = "not a uid"
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(meta))
    report = export_seg(small[0], broken, out, n_jobs=1)
    assert any(s.reason == "build_failed" for s in report.skips), report.skips
    m = manifest(out, "SEG")
    listed = {f["path"] for f in m["files"]} | set(m["stale"])
    assert set(dcm_names(out)) == listed, sorted(set(dcm_names(out)) - listed)
