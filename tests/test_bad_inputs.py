"""Bad input gets a precise message or a recorded skip, never a traceback or a partial file."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pydicom
import pytest

from mdai_fastexport import (
    InputFormatError,
    InputMismatchError,
    StrictModeError,
    export_seg,
    export_sr,
)
from mdai_fastexport.synthetic import make_exports
from validators import dciodvfy_errors


@pytest.fixture(scope="module")
def pair():
    return make_exports(seed=3, ct_series=1, ct_slices=3, with_multiframe=False)


def _local(ann, mode: str):
    labs = {lab["id"]: lab for g in ann["labelGroups"] for lab in g["labels"]}
    for a in ann["datasets"][0]["annotations"]:
        if (
            labs[a["labelId"]].get("annotationMode") == mode
            and labs[a["labelId"]]["scope"] == "INSTANCE"
        ):
            return a
    raise AssertionError(f"no {mode} annotation")


def _dcm(out: Path) -> list[Path]:
    return sorted(out.glob("*.dcm"))


def test_mismatched_files_raise_a_precise_error_and_write_nothing(pair, tmp_path):
    ann, _ = pair
    _, other_meta = make_exports(seed=99, ct_series=1, ct_slices=2, with_multiframe=False)
    with pytest.raises(InputMismatchError, match=r"none of the .* annotated studies"):
        export_seg(ann, other_meta, tmp_path / "out", n_jobs=1)
    assert not (tmp_path / "out").exists()


def test_swapped_files_are_named(pair, tmp_path):
    ann, meta = pair
    a, m = tmp_path / "a.json", tmp_path / "m.json"
    a.write_text(json.dumps(ann))
    m.write_text(json.dumps(meta))
    with pytest.raises(InputFormatError, match="swapped"):
        export_sr(m, a, tmp_path / "out", n_jobs=1)
    with pytest.raises(InputFormatError, match="not found"):
        export_sr(tmp_path / "nope.json", m, tmp_path / "out", n_jobs=1)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InputFormatError, match="not valid JSON"):
        export_sr(bad, m, tmp_path / "out", n_jobs=1)


def test_missing_instance_is_skipped_and_reported(pair, tmp_path):
    ann, meta = copy.deepcopy(pair)
    victim = _local(ann, "polygon")
    meta["datasets"][0]["dicomMetadata"] = [
        m
        for m in meta["datasets"][0]["dicomMetadata"]
        if m["SOPInstanceUID"] != victim["SOPInstanceUID"]
    ]
    report = export_seg(ann, meta, tmp_path / "out", n_jobs=1)
    missing = [s for s in report.skips if s.reason == "missing_instance"]
    assert victim["id"] in {s.annotation_id for s in missing}
    assert all(victim["SOPInstanceUID"] in s.detail for s in missing)
    assert report.files, "the rest is still exported"
    assert any(victim["SOPInstanceUID"] in w for w in report.warnings)
    manifest = json.loads((tmp_path / "out" / "report.seg.json").read_text())
    assert manifest["skip_counts"]["missing_instance"] == len(missing)

    with pytest.raises(StrictModeError, match="missing_instance"):
        export_seg(ann, meta, tmp_path / "strict", n_jobs=1, strict=True)
    assert not (tmp_path / "strict").exists() or _dcm(tmp_path / "strict") == []


@pytest.mark.parametrize(
    "mutate, reason",
    [
        (lambda a: a.__setitem__("data", None), "null_data"),
        (lambda a: a["data"]["vertices"][1].__setitem__(0, float("nan")), "non_finite_vertex"),
        (lambda a: a["data"]["vertices"][1].__setitem__(0, None), "invalid_geometry"),
        (lambda a: a["data"].__setitem__("vertices", "oops"), "invalid_geometry"),
    ],
    ids=["null-data", "nan-vertex", "null-vertex", "vertices-not-a-list"],
)
def test_bad_geometry_is_skipped_with_the_annotation_id(pair, tmp_path, mutate, reason):
    ann, meta = copy.deepcopy(pair)
    victim = _local(ann, "polygon")
    mutate(victim)
    # through a file written by the stdlib (it emits NaN, which orjson rejects)
    a = tmp_path / "ann.json"
    a.write_text(json.dumps(ann))
    for export in (export_seg, export_sr):
        out = tmp_path / export.__name__
        report = export(a, meta, out, n_jobs=1)
        skips = [s for s in report.skips if s.annotation_id == victim["id"]]
        assert [s.reason for s in skips] == [reason]
        assert victim["id"] in skips[0].detail
        assert report.files


def test_out_of_bounds_vertices_are_clipped_with_a_warning(pair, tmp_path):
    ann, meta = copy.deepcopy(pair)
    victim = _local(ann, "polygon")
    victim["data"]["vertices"] = [[-50, -50], [5000, -20], [5000, 5000], [-10, 4000]]
    report = export_seg(ann, meta, tmp_path / "out", n_jobs=1)
    assert report.ok
    assert any("outside the image" in w and victim["id"] in w for w in report.warnings)


def test_hostile_label_group_name_cannot_escape_the_output_folder(pair, tmp_path):
    ann, meta = copy.deepcopy(pair)
    ann["labelGroups"][0]["name"] = "../../x"
    ann["labelGroups"][-1]["name"] = "/etc/passwd\x00..\\evil"
    ann["datasets"][0]["id"] = "../../../tmp/d"
    ann["users"][0]["name"] = "Robert'); DROP TABLE\\=^x"
    for g in ann["labelGroups"]:
        for lab in g["labels"]:
            lab["name"] = f"{lab['name']} \\ back\x07slash " + "long " * 20
    out = tmp_path / "deep" / "out"
    report = export_seg(ann, meta, out, combine_label_groups=False, n_jobs=1)
    sr = export_sr(ann, meta, tmp_path / "deep" / "sr", n_jobs=1)
    assert report.ok and report.files and sr.ok and sr.files
    written = sorted(p for p in (tmp_path / "deep").rglob("*") if p.is_file())
    assert all(p.parent in (out, tmp_path / "deep" / "sr") for p in written), written
    assert not [p for p in tmp_path.iterdir() if p.name != "deep"]
    assert all(".." not in p.name and "/" not in p.name for p in written)
    assert len(_dcm(out)) == len(report.files)
    for path in [*_dcm(out)[:2], *_dcm(tmp_path / "deep" / "sr")[:1]]:
        assert dciodvfy_errors(path) == [], path.name


def test_empty_export_writes_an_empty_report(pair, tmp_path):
    ann, meta = copy.deepcopy(pair)
    ann["datasets"][0]["annotations"] = []
    for export in (export_seg, export_sr):
        out = tmp_path / export.__name__
        report = export(ann, meta, out, n_jobs=1)
        assert report.files == [] and report.skips == []
        assert _dcm(out) == []
        assert json.loads((out / report.name).read_text())["files"] == []


def test_unknown_label_and_missing_study_are_recorded(pair, tmp_path):
    ann, meta = copy.deepcopy(pair)
    anns = ann["datasets"][0]["annotations"]
    anns[0]["labelId"] = "L_does_not_exist"
    anns[1]["StudyInstanceUID"] = "1.2.3.4.5"
    report = export_sr(ann, meta, tmp_path / "out", n_jobs=1)
    reasons = {s.annotation_id: s.reason for s in report.skips}
    assert reasons[anns[0]["id"]] == "unknown_label"
    assert reasons[anns[1]["id"]] == "missing_study"


def test_failed_write_leaves_no_partial_file(pair, tmp_path, monkeypatch):
    import errno
    import os

    import mdai_fastexport.write as write

    ann, meta = pair
    real_fdopen = os.fdopen

    class Exploding:
        """A DICOM file that gets 100 bytes, then a full disk (the small report still fits)."""

        def __init__(self, fp):
            self.fp, self.n, self.dicom = fp, 0, None

        def write(self, data):
            if self.dicom is None:
                self.dicom = bytes(data[:128]) == bytes(128)
            self.n += len(data)
            if self.dicom and self.n > 100:
                raise OSError(errno.ENOSPC, "No space left on device")
            return self.fp.write(data)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fp.close()

    monkeypatch.setattr(write.os, "fdopen", lambda fd, mode: Exploding(real_fdopen(fd, mode)))
    out = tmp_path / "out"
    out.mkdir()
    report = export_seg(ann, meta, out, n_jobs=1)
    assert report.files == []
    assert {s.reason for s in report.skips} == {"write_failed"}
    assert all("No space left" in s.detail or "disk filled up" in s.detail for s in report.skips)
    monkeypatch.undo()
    # nothing half-written is left behind; only the report (written after the fault) is there
    assert [p.name for p in out.iterdir()] == ["report.seg.json"]


def test_pixel_measures_only_per_frame_are_shared_in_the_seg(tmp_path):
    """Vendor Enhanced images (Philips, Siemens XA) keep PixelMeasures and PlaneOrientation in
    every frame and nothing in the shared groups; the SEG shares them once."""
    ann, meta = make_exports(seed=4, ct_series=1, ct_slices=2, with_radiograph=False)
    mf = next(
        e["dicomTags"]
        for e in meta["datasets"][0]["dicomMetadata"]
        if "PerFrameFunctionalGroupsSequence" in e["dicomTags"]
    )
    assert "PixelMeasuresSequence" not in mf["SharedFunctionalGroupsSequence"][0]
    measures = mf["PerFrameFunctionalGroupsSequence"][0]["PixelMeasuresSequence"]
    report = export_seg(ann, meta, tmp_path, n_jobs=1)
    assert report.ok
    multiframe = [f for f in report.files if f.series_uid == mf["SeriesInstanceUID"]]
    assert multiframe
    for f in multiframe:
        ds = pydicom.dcmread(tmp_path / f.path)
        spacing = ds.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0].PixelSpacing
        assert [float(v) for v in spacing] == measures[0]["PixelSpacing"]


def test_backends_write_the_same_bytes(pair, tmp_path):
    import hashlib

    ann, meta = pair
    digests = []
    for name, kwargs in (
        ("serial", {"n_jobs": 1}),
        ("threads", {"n_jobs": 2, "backend": "threading"}),
    ):
        export_sr(ann, meta, tmp_path / name, **kwargs)
        digests.append(
            {p.name: hashlib.sha256(p.read_bytes()).digest() for p in _dcm(tmp_path / name)}
        )
    assert digests[0] == digests[1] != {}


def test_frame_numbers_are_checked_on_multi_frame_instances(tmp_path):
    ann, meta = make_exports(seed=6, ct_series=1, ct_slices=2, with_radiograph=False)
    multi = [a for a in ann["datasets"][0]["annotations"] if a.get("frameNumber") is not None]
    multi[0]["frameNumber"] = None
    multi[1]["frameNumber"] = 99
    multi[2]["SeriesInstanceUID"] = None  # filled from the instance's metadata
    report = export_seg(ann, meta, tmp_path, n_jobs=1)
    reasons = {s.annotation_id: s.reason for s in report.skips}
    assert reasons == {
        multi[0]["id"]: "missing_frame_number",
        multi[1]["id"]: "frame_out_of_range",
    }
    assert report.files


def test_a_failed_worker_pool_is_reported_not_raised(pair, tmp_path, monkeypatch):
    import mdai_fastexport.run as run

    real = run.outcomes

    def dies_after_one(jobs, positions, index, out_dir, n_jobs, backend, progress):
        it = real(jobs, positions, index, out_dir, 1, None, progress)
        yield next(it)
        list(it)  # the others finish and write their files...
        raise RuntimeError("A worker process managed by the executor was unexpectedly terminated")

    monkeypatch.setattr(run, "outcomes", dies_after_one)
    out = tmp_path / "out"
    report = export_seg(*pair, out, n_jobs=2)
    assert len(report.files) == 1
    failed = [s for s in report.skips if s.reason == "worker_failed"]
    # reported once, naming the cause and how many files were lost
    assert len(failed) == 1 and "unexpectedly terminated" in failed[0].detail
    assert f"{len(report.not_written)} file(s) not written" in failed[0].detail
    # ...but the folder holds exactly what the report lists
    assert sorted(p.name for p in _dcm(out)) == [report.files[0].path]


def test_rounded_direction_cosines_are_written_normalised(tmp_path):
    """An oblique series whose ImageOrientationPatient was rounded to 3 decimals (0.707 ...,
    which dciodvfy rejects as not unit) keeps its orientation, normalised, with a warning;
    one that is no orientation at all (1, 0.5, ...) is left out, with a warning too."""
    ann, meta = make_exports(seed=4, ct_series=1, ct_slices=3, with_multiframe=False)
    uids = {a["SeriesInstanceUID"] for a in ann["datasets"][0]["annotations"]}
    ct = [
        m
        for m in meta["datasets"][0]["dicomMetadata"]
        if m["dicomTags"].get("Modality") == "CT" and m["SeriesInstanceUID"] in uids
    ]
    assert ct
    for m in ct:
        m["dicomTags"]["ImageOrientationPatient"] = [0.707, 0.707, 0, -0.707, 0.707, 0]
    report = export_seg(ann, meta, tmp_path / "out", n_jobs=1)
    assert any("written normalised" in w for w in report.warnings)
    series = {m["SeriesInstanceUID"] for m in ct}
    segs = [f for f in report.files if f.series_uid in series]
    assert segs
    h = 0.5**0.5
    for f in segs:
        path = tmp_path / "out" / f.path
        assert dciodvfy_errors(path) == []
        ds = pydicom.dcmread(path)
        ori = [float(v) for v in ds.SharedFunctionalGroupsSequence[0]
               .PlaneOrientationSequence[0].ImageOrientationPatient]  # fmt: skip
        assert ori == pytest.approx([h, h, 0, -h, h, 0], abs=1e-9)

    for m in ct:
        m["dicomTags"]["ImageOrientationPatient"] = [1, 0.5, 0, 0, 1, 0]
    report = export_seg(ann, meta, tmp_path / "off", n_jobs=1)
    assert any("ignored (not two orthogonal unit vectors)" in w for w in report.warnings)
    for f in report.files:
        assert dciodvfy_errors(tmp_path / "off" / f.path) == []


def test_a_header_problem_of_many_instances_is_said_once():
    from mdai_fastexport.report import fold_warnings

    got = fold_warnings(
        [
            "instance 1.2: PixelSpacing '0' ignored",
            "a warning about the export",
            "instance 1.3 frame 2: PixelSpacing '0' ignored",
            "instance 1.2: PixelSpacing '0' ignored",  # the same file built again
            "instance 1.4: SliceThickness 'x' ignored",
            "a warning about the export",
        ]
    )
    assert got == [
        "2 instances/frames: PixelSpacing '0' ignored (first: instance 1.2)",
        "a warning about the export",
        "instance 1.4: SliceThickness 'x' ignored",
    ]


def test_lossy_source_without_ratio_and_method_is_said(tmp_path):
    """A source that says it was lossy-compressed without saying how: the SEG says 01 too
    (true) without the ratio and method it cannot know, and the report says so."""
    ann, meta = make_exports(seed=5, ct_series=1, ct_slices=2, with_multiframe=False)
    cr = [
        m
        for m in meta["datasets"][0]["dicomMetadata"]
        if m["dicomTags"].get("Modality") in ("CR", "DX")
    ]
    assert cr
    for m in cr:
        m["dicomTags"]["LossyImageCompression"] = "01"
        for k in ("LossyImageCompressionRatio", "LossyImageCompressionMethod"):
            m["dicomTags"].pop(k, None)
    report = export_seg(ann, meta, tmp_path / "out", n_jobs=1)
    series = {m["SeriesInstanceUID"] for m in cr}
    segs = [f for f in report.files if f.series_uid in series]
    assert segs
    for f in segs:
        ds = pydicom.dcmread(tmp_path / "out" / f.path)
        assert ds.LossyImageCompression == "01" and "LossyImageCompressionRatio" not in ds
    assert any("LossyImageCompression 01 without a valid" in w for w in report.warnings)
