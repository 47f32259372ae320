"""SEG and SR over real vendor headers (tests/data/headers): Philips and Siemens Enhanced MR
with geometry only in the per-frame functional groups, repeated slice positions, several
multi-frame instances in one series, mixed orientations, CR/DX/MG/US without a frame of
reference, a CR with PixelSpacing 0\\0.

Every file must pass dciodvfy and read back with highdicom; SEG pixels are compared frame by
frame with each annotation rasterised on its own (masks: with the binary mask the contours were
made from), SEG geometry with the source headers, SR references with the annotations.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest

sys.path.insert(0, str(Path(__file__).parent))

import vendor_headers
from annotate import annotate
from helpers import unpack_frames
from mdai_fastexport import export_seg, export_sr
from mdai_fastexport.index import Geometry, RasterOptions, parse_geometry
from mdai_fastexport.raster import rasterize
from validators import dciodvfy_errors, dsrdump_errors

NAMES = vendor_headers.names()
ANNOTATORS = ("U_a", "U_b")


def _item(seq):
    return seq[0] if isinstance(seq, list) and seq else {}


def source_geometry(tags: dict, frame: int) -> tuple[list | None, list | None, list | None]:
    """(IPP, IOP, PixelSpacing) of a frame, straight from the header dict."""
    per = tags.get("PerFrameFunctionalGroupsSequence") or []
    groups = [
        per[frame] if frame < len(per) else {},
        _item(tags.get("SharedFunctionalGroupsSequence")),
        tags,
    ]
    ipp = iop = ps = None
    for g in groups:
        ipp = (
            ipp
            or _item(g.get("PlanePositionSequence")).get("ImagePositionPatient")
            or g.get("ImagePositionPatient")
        )
        iop = (
            iop
            or _item(g.get("PlaneOrientationSequence")).get("ImageOrientationPatient")
            or g.get("ImageOrientationPatient")
        )
        ps = (
            ps or _item(g.get("PixelMeasuresSequence")).get("PixelSpacing") or g.get("PixelSpacing")
        )
    return ipp, iop, ps


def expected_mask(a: dict, mode: str, masks: dict, rows: int, cols: int) -> np.ndarray:
    if mode == "mask":
        return masks[a["id"]].astype(np.uint8)
    kind, param, rings = parse_geometry(mode, a["data"], RasterOptions())
    g = Geometry.build([kind], [param], [rings])
    return rasterize(g, np.zeros(1, np.uint32), 1, rows, cols)[0]


@pytest.fixture(scope="module", params=NAMES)
def vendor_export(request, tmp_path_factory):
    name = request.param
    entries = vendor_headers.load(name)
    ann, meta, masks = annotate(entries, seed=len(name), annotators=ANNOTATORS)
    out = tmp_path_factory.mktemp(name)
    seg = export_seg(ann, meta, out / "seg", n_jobs=1)
    sr = export_sr(ann, meta, out / "sr", n_jobs=1)
    return name, entries, ann, masks, out, seg, sr


@pytest.mark.validators
def test_one_valid_seg_per_annotator_with_the_right_pixels(vendor_export):
    name, entries, ann, masks, out, report, _ = vendor_export
    modes = {lab["id"]: lab["annotationMode"] for lab in ann["labelGroups"][0]["labels"]}
    tags_of = {e["SOPInstanceUID"]: e["dicomTags"] for e in entries}
    # one SEG per annotator for the whole series, several multi-frame instances included
    assert sorted(f.annotator_id for f in report.files) == list(ANNOTATORS), report.summary()
    assert [s for s in report.skips if s.reason != "empty_mask"] == []
    by_key: dict[tuple, list[dict]] = {}
    for a in ann["datasets"][0]["annotations"]:
        if modes[a["labelId"]]:
            key = (a["createdById"], a["labelId"], a["SOPInstanceUID"], a["frameNumber"] or 0)
            by_key.setdefault(key, []).append(a)
    for f in report.files:
        path = out / "seg" / f.path
        assert dciodvfy_errors(path) == [], f"{name}: {path.name}"
        ds = pydicom.dcmread(path)
        assert ds.SegmentationType == "BINARY" and int(ds.NumberOfFrames) == f.frames
        seg_label = {
            int(s.SegmentNumber): s.SegmentDescription.split(";")[0].split()[-1]
            for s in ds.SegmentSequence
        }
        frames = unpack_frames(ds)
        shared = ds.SharedFunctionalGroupsSequence[0]
        spatial = "FrameOfReferenceUID" in ds
        index_tuples = set()
        for i, item in enumerate(ds.PerFrameFunctionalGroupsSequence):
            src = item.DerivationImageSequence[0].SourceImageSequence[0]
            sop = src.ReferencedSOPInstanceUID
            frame0 = int(src.get("ReferencedFrameNumber", 1)) - 1
            k = int(item.SegmentIdentificationSequence[0].ReferencedSegmentNumber)
            anns = by_key[(f.annotator_id, seg_label[k], sop, frame0)]
            tags = tags_of[sop]
            rows, cols = int(tags["Rows"]), int(tags["Columns"])
            want = np.zeros((rows, cols), np.uint8)
            for a in anns:
                want |= expected_mask(a, modes[a["labelId"]], masks, rows, cols)
            np.testing.assert_array_equal(frames[i], want, err_msg=f"{name} {path.name} frame {i}")
            index_tuples.add(
                tuple(np.atleast_1d(item.FrameContentSequence[0].DimensionIndexValues))
            )
            ipp, iop, ps = source_geometry(tags, frame0)
            if spatial:
                got_ipp = [float(v) for v in item.PlanePositionSequence[0].ImagePositionPatient]
                np.testing.assert_allclose(got_ipp, [float(v) for v in ipp], atol=1e-6)
                orient = item if "PlaneOrientationSequence" in item else shared
                got_iop = [
                    float(v) for v in orient.PlaneOrientationSequence[0].ImageOrientationPatient
                ]
                np.testing.assert_allclose(got_iop, [float(v) for v in iop], atol=1e-6)
            measures = item if "PixelMeasuresSequence" in item else shared
            assert "PixelMeasuresSequence" in measures or not spatial, "placed frames need measures"
            if "PixelMeasuresSequence" in measures:
                assert ps is not None and min(float(v) for v in ps) > 0, "invalid spacing copied"
                pm = measures.PixelMeasuresSequence[0]
                np.testing.assert_allclose(
                    [float(v) for v in pm.PixelSpacing], [float(v) for v in ps], rtol=1e-6
                )
                assert float(pm.SliceThickness) > 0
        assert len(index_tuples) == int(ds.NumberOfFrames), "dimension index values identify frames"
        # highdicom reads it back and finds the same pixels through the source references
        seg = hd.seg.segread(path)
        assert seg.number_of_segments == f.segments


@pytest.mark.validators
def test_valid_sr_references_every_annotation(vendor_export):
    name, entries, ann, _, out, _, report = vendor_export
    tags_of = {e["SOPInstanceUID"]: e["dicomTags"] for e in entries}
    assert sorted(f.annotator_id for f in report.files) == list(ANNOTATORS)
    assert report.skips == []
    by_id = {a["id"]: a for a in ann["datasets"][0]["annotations"]}
    for f in report.files:
        path = out / "sr" / f.path
        assert dciodvfy_errors(path) == [], f"{name}: {path.name}"
        assert dsrdump_errors(path) == [], f"{name}: {path.name}"
        sr = hd.sr.srread(path)
        for g in sr.content.get_planar_roi_measurement_groups():
            aid = g.tracking_identifier.removeprefix("MD.ai annotation ").split(" part ")[0]
            a = by_id[aid]
            region = g.roi
            ref = region.ContentSequence[0].ReferencedSOPSequence[0]
            assert ref.ReferencedSOPInstanceUID == a["SOPInstanceUID"]
            if a["frameNumber"] is not None:
                assert [int(v) for v in np.atleast_1d(ref.ReferencedFrameNumber)] == [
                    a["frameNumber"] + 1
                ]
            _, _, ps = source_geometry(tags_of[a["SOPInstanceUID"]], a["frameNumber"] or 0)
            valid = ps is not None and all(math.isfinite(float(v)) and float(v) > 0 for v in ps)
            nums = [m for m in g.get_measurements()]
            if region.graphic_type.value != "POINT":
                assert bool(nums) == valid, f"{name}: mm measurements iff PixelSpacing is valid"
