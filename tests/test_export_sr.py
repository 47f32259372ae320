"""SR (TID 1500) outputs on a generated export: files, content, order, conformance."""

from __future__ import annotations

import hashlib
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest

from helpers import annotations, annotator, instances, labels, read
from mdai_fastexport import export_sr
from mdai_fastexport.sr.tid1500 import LABEL_CONCEPT, PARENT_CONCEPT
from validators import dcentvfy_errors, dciodvfy_errors, dsrdump_errors


def _walk(items):
    for it in items:
        yield it
        yield from _walk(it.get("ContentSequence") or [])


def _groups(ds):
    root = ds.ContentSequence
    imaging = next(i for i in root if i.ConceptNameCodeSequence[0].CodeValue == "126010")
    return list(imaging.ContentSequence)


def _tracking_id(group) -> str:
    for it in group.ContentSequence:
        if it.ConceptNameCodeSequence[0].CodeValue == "112039":
            return it.TextValue
    raise AssertionError("no tracking identifier")


def _annotation_id(group) -> str:
    return _tracking_id(group).removeprefix("MD.ai annotation ").split(" part ")[0]


def test_one_sr_per_annotator_per_study(synthetic_export, sr_out):
    _, report = sr_out
    ann = read(synthetic_export[0])
    expected = {(a["datasetId"], a["StudyInstanceUID"], annotator(a)) for a in annotations(ann)}
    assert {(f.dataset_id, f.study_uid, f.annotator_id) for f in report.files} == expected
    assert report.skips == []


def test_every_annotation_is_reported_with_label_parent_and_geometry(synthetic_export, sr_out):
    out, report = sr_out
    ann = read(synthetic_export[0])
    labs = labels(ann)
    by_id = {a["id"]: a for a in annotations(ann)}
    users = {u["id"]: u for u in ann.get("users", [])}
    found: set[str] = set()
    for f in report.files:
        ds = pydicom.dcmread(out / f.path)
        assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.33"
        if f.annotator_id in users:  # a person: the observer's name is theirs
            observer = next(
                i
                for i in _walk(ds.ContentSequence)
                if i.ConceptNameCodeSequence[0].CodeValue == "121008"
            )
            name = str(observer.PersonName).replace("^", " ").split()[0]
            assert name in users[f.annotator_id]["name"]
        else:  # a model: a device observer named after it
            device = next(
                i
                for i in _walk(ds.ContentSequence)
                if i.ConceptNameCodeSequence[0].CodeValue == "121013"
            )
            assert f.annotator_id in device.TextValue
        for g in _groups(ds):
            aid = _annotation_id(g)
            a = by_id[aid]
            lab = labs[a["labelId"]]
            assert annotator(a) == f.annotator_id and a["StudyInstanceUID"] == f.study_uid
            codes = {
                (i.ConceptNameCodeSequence[0].CodeValue, i.ConceptCodeSequence[0].CodeMeaning)
                for i in g.ContentSequence
                if i.ValueType == "CODE"
            }
            meanings = {m for _, m in codes}
            assert lab["name"][:64] in meanings
            if lab.get("parentId"):
                assert (PARENT_CONCEPT.value, labs[lab["parentId"]]["name"][:64]) in codes
            if not lab.get("annotationMode"):
                assert (LABEL_CONCEPT.value, lab["name"][:64]) in codes
            else:
                region = next(i for i in g.ContentSequence if i.ValueType == "SCOORD")
                ref = region.ContentSequence[0].ReferencedSOPSequence[0]
                assert ref.ReferencedSOPInstanceUID == a["SOPInstanceUID"]
                pts = np.asarray(region.GraphicData, dtype=float).reshape(-1, 2)
                mode = lab["annotationMode"]
                if mode in ("polygon", "freeform", "line"):
                    np.testing.assert_allclose(
                        pts[: len(a["data"]["vertices"])], a["data"]["vertices"], rtol=1e-6
                    )
                elif mode == "location":
                    np.testing.assert_allclose(pts[0], [a["data"]["x"], a["data"]["y"]], rtol=1e-6)
                elif mode == "bbox":
                    d = a["data"]
                    np.testing.assert_allclose(pts[0], [d["x"], d["y"]], rtol=1e-6)
                    np.testing.assert_allclose(
                        pts[2], [d["x"] + d["width"], d["y"] + d["height"]], rtol=1e-6
                    )
                if region.GraphicType == "POLYLINE" and mode != "line":
                    assert list(pts[0]) == list(pts[-1]), "closed regions repeat the first point"
            found.add(aid)
    assert found == set(by_id)


def test_items_are_ordered_exam_series_image(synthetic_export, sr_out):
    out, report = sr_out
    ann = read(synthetic_export[0])
    labs = labels(ann)
    by_id = {a["id"]: a for a in annotations(ann)}
    rank = {"STUDY": 0, "EXAM": 0, "SERIES": 1, "INSTANCE": 2}
    for f in report.files:
        ds = pydicom.dcmread(out / f.path)
        scopes = [rank[labs[by_id[_annotation_id(g)]["labelId"]]["scope"]] for g in _groups(ds)]
        assert scopes == sorted(scopes)


def test_lengths_in_mm_where_pixel_spacing_allows(synthetic_export, sr_out):
    out, report = sr_out
    ann, meta = read(synthetic_export[0]), read(synthetic_export[1])
    labs, insts = labels(ann), instances(meta)
    by_id = {a["id"]: a for a in annotations(ann)}
    checked = 0
    for f in report.files:
        ds = pydicom.dcmread(out / f.path)
        for g in _groups(ds):
            a = by_id[_annotation_id(g)]
            if labs[a["labelId"]].get("annotationMode") != "line":
                continue
            ps = insts[a["SOPInstanceUID"]]["dicomTags"].get("PixelSpacing")
            nums = [i for i in g.ContentSequence if i.ValueType == "NUM"]
            if not ps:
                assert nums == []
                continue
            v = np.asarray(a["data"]["vertices"], dtype=float)
            d = np.diff(v, axis=0)
            expected = float(np.sum(np.hypot(d[:, 0] * float(ps[1]), d[:, 1] * float(ps[0]))))
            mv = nums[0].MeasuredValueSequence[0]
            assert mv.MeasurementUnitsCodeSequence[0].CodeValue == "mm"
            assert float(mv.NumericValue) == pytest.approx(expected, rel=1e-4)
            checked += 1
    assert checked > 0


@pytest.mark.validators
def test_every_sr_passes_dciodvfy_dsrdump_and_reads_back(sr_out):
    out, report = sr_out
    assert report.files
    for f in report.files:
        path = out / f.path
        assert dciodvfy_errors(path) == [], path.name
        assert dsrdump_errors(path) == [], path.name
        sr = hd.sr.srread(path)
        groups = sr.content.get_planar_roi_measurement_groups()
        assert len(_groups(sr)) == f.measurement_groups
        assert all(
            g.reference_type in (hd.sr.CodedConcept("111030", "DCM", "Image Region"),)
            for g in groups
        )


def test_sr_references_resolve(synthetic_export, sr_out):
    out, report = sr_out
    insts = instances(read(synthetic_export[1]))
    for f in report.files:
        ds = pydicom.dcmread(out / f.path)
        evidence = {
            i.ReferencedSOPInstanceUID
            for st in ds.get("CurrentRequestedProcedureEvidenceSequence") or []
            for se in st.ReferencedSeriesSequence
            for i in se.ReferencedSOPSequence
        }
        refs = {
            r.ReferencedSOPInstanceUID
            for it in _walk(ds.ContentSequence)
            for r in it.get("ReferencedSOPSequence") or []
        }
        assert refs and refs == evidence <= set(insts)
        assert all(insts[u]["StudyInstanceUID"] == f.study_uid for u in refs)


def test_sr_output_is_deterministic_and_independent_of_n_jobs(synthetic_export, sr_out, tmp_path):
    out, _ = sr_out
    again = tmp_path / "again"
    export_sr(*synthetic_export, again, n_jobs=1)

    def digests(d: Path) -> dict[str, str]:
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in d.glob("*.dcm")}

    assert digests(again) == digests(out) != {}


@pytest.mark.validators
def test_patient_and_study_entities_agree_across_seg_and_sr(seg_out, sr_out):
    files = sorted(seg_out[0].glob("*.dcm")) + sorted(sr_out[0].glob("*.dcm"))
    assert len(files) > 10
    assert dcentvfy_errors(files) == []
