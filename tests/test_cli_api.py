"""The CLI and the drop-in API on the bundled example export."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pydicom

from mdai_fastexport import SR_SEG_Export
from mdai_fastexport.cli import main


def test_cli_seg_and_sr_on_the_bundled_example(demo_export, tmp_path, capsys):
    ann, meta = demo_export
    assert (
        main(["seg", "-a", str(ann), "-m", str(meta), "-o", str(tmp_path / "seg"), "-j", "1"]) == 0
    )
    assert main(["sr", "-a", str(ann), "-m", str(meta), "-o", str(tmp_path / "sr"), "-j", "1"]) == 0
    out = capsys.readouterr().out
    assert "SEG:" in out and "SR:" in out and "report.seg.json" in out and "report.sr.json" in out
    segs = sorted((tmp_path / "seg").glob("*.dcm"))
    srs = sorted((tmp_path / "sr").glob("*.dcm"))
    assert segs and srs
    assert {pydicom.dcmread(p).Modality for p in segs} == {"SEG"}
    assert {pydicom.dcmread(p).Modality for p in srs} == {"SR"}


def test_cli_errors_exit_2_with_a_message(demo_export, tmp_path, capsys):
    ann, meta = demo_export
    assert main(["sr", "-a", str(meta), "-m", str(ann), "-o", str(tmp_path / "x")]) == 2
    assert "swapped" in capsys.readouterr().err
    bad = json.loads(ann.read_text())
    bad["datasets"][0]["annotations"][0]["StudyInstanceUID"] = "1.2.3"
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(bad))
    assert main(["sr", "-a", str(p), "-m", str(meta), "-o", str(tmp_path / "s"), "--strict"]) == 2
    assert "strict mode" in capsys.readouterr().err
    assert main(["sr", "-a", str(p), "-m", str(meta), "-o", str(tmp_path / "s2"), "-j", "1"]) == 1


def test_console_script_is_installed(demo_export, tmp_path):
    ann, meta = demo_export
    exe = os.path.join(os.path.dirname(sys.executable), "mdai-fastexport")
    proc = subprocess.run(
        [exe, "sr", "-a", str(ann), "-m", str(meta), "-o", str(tmp_path), "-j", "1"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "file(s) written" in proc.stdout


def test_drop_in_class_uses_the_original_default_folders(demo_export, tmp_path, monkeypatch):
    ann, meta = demo_export
    monkeypatch.chdir(tmp_path)
    sr = SR_SEG_Export("SR", ann, meta)
    seg = SR_SEG_Export("SEG", ann, meta, combine_label_groups=False)
    assert sr.output_dir.name == "SR_OUTPUT" and seg.output_dir.name == "SEG_OUTPUT"
    assert sorted(p.name for p in (tmp_path / "SR_OUTPUT").glob("*.dcm")) == sorted(
        f.path for f in sr.report.files
    )
    assert len(list((tmp_path / "SEG_OUTPUT").glob("*.dcm"))) == len(seg.report.files) > 0
    custom = SR_SEG_Export("SEG", ann, meta, output_dir=tmp_path / "custom")
    assert custom.report.files and (tmp_path / "custom" / "report.seg.json").is_file()
