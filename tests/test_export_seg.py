"""SEG outputs on a generated export: files, headers, pixels, determinism, conformance."""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest

from helpers import (
    expected_seg_keys,
    instances,
    labels,
    local_annotations_by_frame,
    read,
    unpack_frames,
)
from mdai_fastexport import export_seg
from mdai_fastexport.index import Geometry, RasterOptions, parse_geometry
from mdai_fastexport.raster import rasterize
from mdai_fastexport.synthetic import make_exports
from validators import dciodvfy_errors


def fg(ds, item, keyword: str):
    """A functional group of a frame: per-frame when there, else shared."""
    return (item if keyword in item else ds.SharedFunctionalGroupsSequence[0])[keyword][0]


def _seg_files(out: Path) -> list[Path]:
    return sorted(out.glob("*.dcm"))


def _mask_of(anns, rows: int, cols: int) -> np.ndarray:
    """OR of each annotation rasterised on its own (no batching)."""
    total = np.zeros((rows, cols), dtype=np.uint8)
    for a in anns:
        kind, param, rings = parse_geometry(a["annotationMode"], a["data"], RasterOptions())
        g = Geometry(
            kind=np.array([kind], np.uint8),
            param=np.array([param]),
            ann_ring_offsets=np.array([0, len(rings)], np.uint64),
            ring_vertex_offsets=np.concatenate([[0], np.cumsum([len(r) for r, _ in rings])]).astype(
                np.uint64
            ),
            ring_is_hole=np.array([h for _, h in rings], bool),
            vertices=np.concatenate([r for r, _ in rings]),
        )
        total |= rasterize(g, np.zeros(1, np.uint32), 1, rows, cols)[0]
    return total


def test_one_seg_per_annotator_per_annotated_series(synthetic_export, seg_out):
    out, report = seg_out
    expected = expected_seg_keys(*synthetic_export, split=False)
    written = {(f.dataset_id, f.series_uid, f.annotator_id) for f in report.files}
    assert written == expected
    assert len(_seg_files(out)) == len(expected) == len(report.files)
    assert report.skips == []
    assert (out / "report.seg.json").is_file()


def test_split_label_groups_writes_one_seg_per_group(synthetic_export, seg_split_out):
    out, report = seg_split_out
    labs = labels(read(synthetic_export[0]))
    expected = expected_seg_keys(*synthetic_export, split=True)
    written = {
        (f.dataset_id, f.series_uid, f.annotator_id, f.label_groups[0]) for f in report.files
    }
    assert written == expected
    for f in report.files:
        assert len(f.label_groups) == 1
        ds = pydicom.dcmread(out / f.path)
        ids = {
            s.SegmentDescription.split(";")[0].removeprefix("MD.ai label ")
            for s in ds.SegmentSequence
        }
        assert {labs[i]["group"] for i in ids} == {f.label_groups[0]}


def test_segments_frames_and_pixels_match_annotations(synthetic_export, seg_out):
    out, report = seg_out
    labs = labels(read(synthetic_export[0]))
    insts = instances(read(synthetic_export[1]))
    by_frame = local_annotations_by_frame(*synthetic_export)
    checked_frames = 0
    for f in report.files:
        ds = pydicom.dcmread(out / f.path)
        assert ds.SegmentationType == "BINARY"
        seg_label = {}
        for s in ds.SegmentSequence:
            lab_id = s.SegmentDescription.split(";")[0].removeprefix("MD.ai label ")
            assert s.SegmentLabel == labs[lab_id]["name"][:64]
            seg_label[int(s.SegmentNumber)] = lab_id
        frames = unpack_frames(ds)
        seen = set()
        last = (0, 0, 0)
        for i, item in enumerate(ds.PerFrameFunctionalGroupsSequence):
            seg_no = int(fg(ds, item, "SegmentIdentificationSequence").ReferencedSegmentNumber)
            src = fg(ds, item, "DerivationImageSequence").SourceImageSequence[0]
            frame0 = int(src.get("ReferencedFrameNumber", 1)) - 1
            inst_no = int(insts[src.ReferencedSOPInstanceUID]["dicomTags"]["InstanceNumber"])
            assert (seg_no, inst_no, frame0) > last, "grouped by segment, then source order"
            last = (seg_no, inst_no, frame0)
            key = (f.annotator_id, seg_label[seg_no], src.ReferencedSOPInstanceUID, frame0)
            anns = by_frame[key]
            assert anns, f"frame {i} of {f.path} has no annotation behind it"
            expected = _mask_of(anns, int(ds.Rows), int(ds.Columns))
            np.testing.assert_array_equal(frames[i], expected, err_msg=f"{f.path} frame {i}")
            seen.add(key)
            checked_frames += 1
        # every non-empty (label, source frame) of this annotator/series is present
        for key, anns in by_frame.items():
            if key[0] == f.annotator_id and anns[0]["SeriesInstanceUID"] == f.series_uid:
                if _mask_of(anns, int(ds.Rows), int(ds.Columns)).any():
                    assert key in seen, f"{key} missing from {f.path}"
    assert checked_frames > 20


def test_only_instance_scope_local_annotations_in_seg(synthetic_export, seg_out):
    out, report = seg_out
    labs = labels(read(synthetic_export[0]))
    names_allowed = {
        lab["name"][:64]
        for lab in labs.values()
        if lab["scope"] == "INSTANCE" and lab.get("annotationMode")
    }
    for f in report.files:
        ds = pydicom.dcmread(out / f.path)
        assert {s.SegmentLabel for s in ds.SegmentSequence} <= names_allowed


def test_headers_consistent_with_source(synthetic_export, seg_out):
    out, report = seg_out
    meta = read(synthetic_export[1])
    tags_by_series = {}
    for d in meta["datasets"]:
        for m in d["dicomMetadata"]:
            tags_by_series.setdefault(m["SeriesInstanceUID"], m["dicomTags"])
    kinds = set()
    for f in report.files:
        ds = pydicom.dcmread(out / f.path)
        src = tags_by_series[f.series_uid]
        assert ds.StudyInstanceUID == src["StudyInstanceUID"] == f.study_uid
        assert ds.PatientID == src["PatientID"]
        assert ds.Rows == src["Rows"] and ds.Columns == src["Columns"]
        assert ds.Modality == "SEG"
        assert ds.SeriesInstanceUID != f.series_uid
        assert ds.CodingSchemeIdentificationSequence[0].CodingSchemeDesignator == "99MDAI"
        if "FrameOfReferenceUID" in src:
            assert ds.FrameOfReferenceUID == src["FrameOfReferenceUID"]
            sfg = ds.SharedFunctionalGroupsSequence[0]
            assert "PlaneOrientationSequence" in sfg and "PixelMeasuresSequence" in sfg
            assert all("PlanePositionSequence" in p for p in ds.PerFrameFunctionalGroupsSequence)
            kinds.add("FoR")
        else:
            assert "PatientOrientation" in ds
            kinds.add("projection")
        if int(src.get("NumberOfFrames") or 1) > 1:
            kinds.add("multiframe")
    assert kinds == {"FoR", "projection", "multiframe"}


@pytest.mark.validators
def test_every_seg_passes_dciodvfy_and_reads_back(seg_out, seg_split_out):
    for out, report in (seg_out, seg_split_out):
        for f in report.files:
            path = out / f.path
            assert dciodvfy_errors(path) == [], path.name
            seg = hd.seg.segread(path)
            assert seg.number_of_segments == f.segments
            assert int(seg.NumberOfFrames) == f.frames


def _digests(out: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in _seg_files(out)}


def test_output_is_deterministic_and_independent_of_n_jobs(synthetic_export, seg_out, tmp_path):
    out, _ = seg_out
    again = tmp_path / "again"
    export_seg(*synthetic_export, again, n_jobs=1)
    assert _digests(again) == _digests(out)
    assert (again / "report.seg.json").read_bytes().replace(
        str(again.resolve()).encode(), b"OUT"
    ) == (out / "report.seg.json").read_bytes().replace(str(out.resolve()).encode(), b"OUT")


def test_frames_follow_instance_order_when_it_runs_against_the_slice_normal(tmp_path):
    ann, meta = make_exports(
        seed=5, ct_series=1, ct_slices=6, with_radiograph=False, with_multiframe=False
    )
    entries = meta["datasets"][0]["dicomMetadata"]
    # instance 1 at the bottom: highdicom's spatial order is now the reverse of instance order
    for e in entries:
        ipp = e["dicomTags"]["ImagePositionPatient"]
        e["dicomTags"]["ImagePositionPatient"] = [ipp[0], ipp[1], -ipp[2]]
    report = export_seg(ann, meta, tmp_path, n_jobs=1)
    number = {e["SOPInstanceUID"]: e["dicomTags"]["InstanceNumber"] for e in entries}
    reordered = 0
    for f in report.files:
        ds = pydicom.dcmread(tmp_path / f.path)
        keys = [
            (
                int(p.SegmentIdentificationSequence[0].ReferencedSegmentNumber),
                number[
                    p.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
                ],
                p.FrameContentSequence[0].DimensionIndexValues[1],
            )
            for p in ds.PerFrameFunctionalGroupsSequence
        ]
        assert keys == sorted(keys, key=lambda k: k[:2])
        reordered += any(a[0] == b[0] and a[2] > b[2] for a, b in itertools.pairwise(keys))
        # the pixels moved with their functional groups
        seg = hd.seg.segread(tmp_path / f.path)
        for item, frame in zip(ds.PerFrameFunctionalGroupsSequence, unpack_frames(ds), strict=True):
            uid = (
                fg(ds, item, "DerivationImageSequence")
                .SourceImageSequence[0]
                .ReferencedSOPInstanceUID
            )
            k = int(fg(ds, item, "SegmentIdentificationSequence").ReferencedSegmentNumber)
            got = seg.get_pixels_by_source_instance([uid], segment_numbers=[k])[0, :, :, 0]
            np.testing.assert_array_equal(got, frame)
    assert reordered, "the test must exercise a reordering"
