"""Real MD.ai export variants (shared/FORMATS.md, FORMATS-EVIDENCE.md): scopes, modes, masks,
video datasets, frame numbering, parent annotations, model outputs, UID consistency, text
limits and SR completeness. One test per point; each asserts on the written files."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest

from mdai_fastexport import InputFormatError, export_seg, export_sr
from mdai_fastexport.synthetic import make_exports
from validators import dciodvfy_errors, dsrdump_errors


@pytest.fixture(scope="module")
def base():
    return make_exports(seed=11, ct_series=2, ct_slices=3, n_annotators=2)


def fresh(base):
    return copy.deepcopy(base[0]), copy.deepcopy(base[1])


def labels(ann):
    return {lab["name"]: lab for g in ann["labelGroups"] for lab in g["labels"]}


def annotations(ann, name=None):
    lid = labels(ann)[name]["id"] if name else None
    return [a for a in ann["datasets"][0]["annotations"] if lid is None or a["labelId"] == lid]


def groups(path: Path):
    ds = pydicom.dcmread(path)
    imaging = next(
        i for i in ds.ContentSequence if i.ConceptNameCodeSequence[0].CodeValue == "126010"
    )
    return ds, list(imaging.ContentSequence)


def tracking(group) -> str:
    it = next(
        i for i in group.ContentSequence if i.ConceptNameCodeSequence[0].CodeValue == "112039"
    )
    return it.TextValue.removeprefix("MD.ai annotation ").split(" part ")[0]


def items(group, code: str):
    return [i for i in group.ContentSequence if i.ConceptNameCodeSequence[0].CodeValue == code]


def all_groups(out: Path, report):
    found = {}
    for f in report.files:
        _, gs = groups(out / f.path)
        for g in gs:
            found.setdefault(tracking(g), []).append((f, g))
    return found


# --- format fidelity -------------------------------------------------------------------------


def test_study_and_exam_scopes_are_the_same_case_insensitively(base, tmp_path):
    ann, meta = fresh(base)
    labs = labels(ann)
    labs["Normal exam"]["scope"] = "STUDY"
    labs["Follow-up recommended"]["scope"] = "exam"
    labs["Motion artifact"]["scope"] = "series"
    report = export_sr(ann, meta, tmp_path, n_jobs=1)
    assert report.skips == []
    found = all_groups(tmp_path, report)
    for name in ("Normal exam", "Follow-up recommended"):
        for a in annotations(ann, name):
            ((_, g),) = found[a["id"]]
            assert not items(g, "121112") and not items(g, "112002"), (
                "study level: no image, no series"
            )
    for a in annotations(ann, "Motion artifact"):
        ((_, g),) = found[a["id"]]
        assert items(g, "112002")[0].UID == a["SeriesInstanceUID"]


def test_unknown_scope_and_mode_are_skipped_with_the_label_and_value(base, tmp_path):
    ann, meta = fresh(base)
    labs = labels(ann)
    labs["Key image"]["scope"] = "FRAME"
    labs["Box"]["annotationMode"] = "circle"
    for export in (export_sr, export_seg):
        report = export(ann, meta, tmp_path / export.__name__, n_jobs=1)
        reasons = {s.annotation_id: s for s in report.skips}
        for a in annotations(ann, "Key image"):
            if export is export_sr:
                assert reasons[a["id"]].reason == "unknown_scope"
                assert (
                    "'FRAME'" in reasons[a["id"]].detail and "Key image" in reasons[a["id"]].detail
                )
        for a in annotations(ann, "Box"):
            assert reasons[a["id"]].reason == "unsupported_mode"
            assert "'circle'" in reasons[a["id"]].detail and "Box" in reasons[a["id"]].detail
        written = {
            t for f in report.files for t in _written_ids(tmp_path / export.__name__ / f.path)
        }
        assert not written & {
            a["id"] for a in annotations(ann, "Box") + annotations(ann, "Key image")
        }
        assert report.inputs["exportable_annotations"] == len(annotations(ann)) - len(
            annotations(ann, "Box")
        ) - len(annotations(ann, "Key image"))


def _written_ids(path: Path) -> set[str]:
    ds = pydicom.dcmread(path)
    if ds.Modality == "SR":
        return {tracking(g) for g in groups(path)[1]}
    return set()


def test_mask_rings_go_into_sr_at_pixel_centres(base, tmp_path):
    ann, meta = fresh(base)
    report = export_sr(ann, meta, tmp_path, n_jobs=1)
    found = all_groups(tmp_path, report)
    masks = annotations(ann, "Organ mask") + annotations(ann, "Region")
    assert masks
    for a in masks:
        rings = a["data"]["foreground"] + a["data"]["background"]
        got = [g for _, g in found[a["id"]]]
        assert len(got) == len(rings)
        for ring, g in zip(rings, got, strict=True):
            region = items(g, "111030")[0]
            pts = np.asarray(region.GraphicData, float).reshape(-1, 2)
            np.testing.assert_allclose(pts[: len(ring)], np.asarray(ring, float) + 0.5, rtol=1e-6)


def test_video_datasets_are_skipped_with_their_own_reason(base, tmp_path):
    ann, meta = fresh(base)
    ann["datasets"][0]["type"] = "VIDEO"
    report = export_sr(ann, meta, tmp_path, n_jobs=1)
    assert report.files == []
    assert {s.reason for s in report.skips} == {"video_dataset"}


def test_one_based_frame_numbers_are_detected_and_can_be_declared(tmp_path):
    ann, meta = make_exports(seed=6, ct_series=1, ct_slices=2, with_radiograph=False)
    multi = [a for a in ann["datasets"][0]["annotations"] if a.get("frameNumber") is not None]
    for a in multi:
        a["frameNumber"] += 1  # as a 1-based export would say
    report = export_seg(ann, meta, tmp_path / "zero", n_jobs=1)
    assert any("looks 1-based" in w and "--frame-base 1" in w for w in report.warnings)
    assert {s.reason for s in report.skips} == {"frame_out_of_range"}
    report1 = export_seg(ann, meta, tmp_path / "one", n_jobs=1, frame_base=1)
    assert report1.skips == [] and not any("1-based" in w for w in report1.warnings)
    frames = {
        int(p.DerivationImageSequence[0].SourceImageSequence[0].ReferencedFrameNumber)
        for f in report1.files
        for p in pydicom.dcmread(tmp_path / "one" / f.path).PerFrameFunctionalGroupsSequence
        if "ReferencedFrameNumber" in p.DerivationImageSequence[0].SourceImageSequence[0]
    }
    assert frames == {a["frameNumber"] for a in multi}  # 1-based numbers = DICOM frame numbers


def test_annotation_parent_id_is_preferred_over_label_pairing(base, tmp_path):
    ann, meta = fresh(base)
    labs = labels(ann)
    child = annotations(ann, "Malignant")[0]
    other = next(a for a in annotations(ann, "Trace") if a["createdById"] != child["createdById"])
    child["parentId"] = other["id"]  # another annotator's annotation of another label
    report = export_sr(ann, meta, tmp_path, n_jobs=1)
    found = all_groups(tmp_path, report)
    ((_, g),) = found[child["id"]]
    parent_label = items(g, "MDAI-PARENT")[0].ConceptCodeSequence[0].CodeMeaning
    assert parent_label == labs["Trace"]["name"]
    ((_, pg),) = found[other["id"]]
    parent_uid = items(pg, "112040")[0].UID
    assert items(g, "MDAI-PARENTANN")[0].UID == parent_uid
    # without an annotation parentId the label's parent is used
    child2 = annotations(ann, "Malignant")[1]
    child2["parentId"] = None
    report = export_sr(ann, meta, tmp_path / "b", n_jobs=1)
    ((_, g2),) = all_groups(tmp_path / "b", report)[child2["id"]]
    assert items(g2, "MDAI-PARENT")[0].ConceptCodeSequence[0].CodeMeaning == "Lesion"


def test_model_outputs_have_a_device_observer_and_automatic_segments(base, tmp_path):
    ann, meta = fresh(base)
    for a in annotations(ann):
        if a["createdById"] == ann["users"][0]["id"]:
            a["modelId"] = "M_detector"
    seg = export_seg(ann, meta, tmp_path / "seg", n_jobs=1)
    sr = export_sr(ann, meta, tmp_path / "sr", n_jobs=1)
    model_segs = [f for f in seg.files if f.annotator_id == "M_detector"]
    assert model_segs and all("M_detector" in f.path for f in model_segs)
    for f in model_segs:
        ds = pydicom.dcmread(tmp_path / "seg" / f.path)
        for s in ds.SegmentSequence:
            assert s.SegmentAlgorithmType == "AUTOMATIC"
            assert "M_detector" in s.SegmentAlgorithmName
            assert s.SegmentationAlgorithmIdentificationSequence[0].AlgorithmName
    for f in sr.files:
        ds = pydicom.dcmread(tmp_path / "sr" / f.path)
        observer = next(
            i for i in ds.ContentSequence if i.ConceptNameCodeSequence[0].CodeValue == "121005"
        )
        kind = observer.ConceptCodeSequence[0].CodeMeaning
        assert kind == ("Device" if f.annotator_id == "M_detector" else "Person")
        if kind == "Device":
            names = [
                i.TextValue
                for i in ds.ContentSequence
                if i.ConceptNameCodeSequence[0].CodeValue == "121013"
            ]
            assert names and "M_detector" in names[0]
        assert dciodvfy_errors(tmp_path / "sr" / f.path) == []


def test_documented_variants_are_accepted(base, tmp_path):
    ann, meta = fresh(base)
    studies = annotations(ann, "Normal exam")
    studies[0]["SeriesInstanceUID"] = ""
    studies[0]["SOPInstanceUID"] = None
    studies[1].pop("SeriesInstanceUID")
    polys = annotations(ann, "Area") or annotations(ann, "Lesion")
    polys[0]["data"]["vertices"] = [c for v in polys[0]["data"]["vertices"] for c in v]  # flat
    for lab in labels(ann).values():
        lab.pop("parentId", None)
        lab.pop("shortName", None)
    for e in meta["datasets"][0]["dicomMetadata"]:
        t = e["dicomTags"]
        for k in ("Rows", "Columns", "InstanceNumber", "SeriesNumber"):
            if k in t:
                t[k] = str(t[k])
        if isinstance(t.get("PixelSpacing"), list):
            t["PixelSpacing"] = "\\".join(str(v) for v in t["PixelSpacing"])
    for export in (export_seg, export_sr):
        report = export(ann, meta, tmp_path / export.__name__, n_jobs=1)
        assert report.skips == [], report.skips[:3]
        for f in report.files:
            assert dciodvfy_errors(tmp_path / export.__name__ / f.path) == []


# --- consistency -----------------------------------------------------------------------------


def test_an_instance_of_another_series_or_study_is_a_uid_mismatch(base, tmp_path):
    ann, meta = fresh(base)
    entries = {e["SOPInstanceUID"]: e for e in meta["datasets"][0]["dicomMetadata"]}
    cr = next(e for e in entries.values() if e["dicomTags"].get("Modality") == "CR")
    victim = next(a for a in annotations(ann, "Lesion"))
    victim["SOPInstanceUID"] = cr["SOPInstanceUID"]  # the CR patient's image, in the CT study
    series_label = annotations(ann, "Motion artifact")[0]
    series_label["SeriesInstanceUID"] = cr["SeriesInstanceUID"]
    report = export_sr(ann, meta, tmp_path, n_jobs=1)
    reasons = {s.annotation_id: s.reason for s in report.skips}
    assert reasons[victim["id"]] == "uid_mismatch"
    assert reasons[series_label["id"]] == "uid_mismatch"
    for f in report.files:  # nothing landed in the other patient's SR
        assert victim["id"] not in _written_ids(tmp_path / f.path)


def test_one_sop_uid_in_two_series_is_an_input_error(base, tmp_path):
    ann, meta = fresh(base)
    entries = meta["datasets"][0]["dicomMetadata"]
    twin = copy.deepcopy(entries[0])
    twin["SeriesInstanceUID"] = entries[-1]["SeriesInstanceUID"]
    entries.append(twin)
    with pytest.raises(InputFormatError, match=entries[0]["SOPInstanceUID"]):
        export_sr(ann, meta, tmp_path / "out", n_jobs=1)
    assert not (tmp_path / "out").exists()


def test_duplicate_annotation_ids_are_reported_and_tracked_apart(base, tmp_path):
    ann, meta = fresh(base)
    anns = annotations(ann, "Lesion")
    anns[1]["id"] = anns[0]["id"]
    report = export_sr(ann, meta, tmp_path, n_jobs=1)
    assert any("occur more than once" in w and anns[0]["id"] in w for w in report.warnings)
    uids = [items(g, "112040")[0].UID for f in report.files for g in groups(tmp_path / f.path)[1]]
    assert len(uids) == len(set(uids))


def test_invalid_uids_never_reach_a_file(base, tmp_path):
    ann, meta = fresh(base)
    anns = annotations(ann, "Lesion")
    anns[0]["SOPInstanceUID"] = "1.2.03.4"  # leading zero
    anns[1]["StudyInstanceUID"] = "1.2.3.x"
    report = export_sr(ann, meta, tmp_path, n_jobs=1)
    reasons = {s.annotation_id: s.reason for s in report.skips}
    assert reasons == {anns[0]["id"]: "invalid_uid", anns[1]["id"]: "invalid_uid"}


def test_text_is_cleaned_and_cut_by_bytes(base, tmp_path):
    ann, meta = fresh(base)
    lesion = labels(ann)["Lesion"]
    for a in annotations(ann, "Lesion"):
        a["note"] = "line one\nline two\x07 with a bell"
    lesion["name"] = "Läsion\x00 " + "é" * 63  # 64 characters, 130 UTF-8 bytes
    ann["labelGroups"][0]["name"] = lesion["name"]
    ann["users"][0]["name"] = "Ådå Lövelace " + "ö" * 60
    for export in (export_seg, export_sr):
        report = export(ann, meta, tmp_path / export.__name__, n_jobs=1)
        for f in report.files:
            path = tmp_path / export.__name__ / f.path
            assert dciodvfy_errors(path) == [], path.name
            for el in pydicom.dcmread(path).iterall():
                if el.VR in ("LO", "SH", "PN", "ST", "LT", "UT", "CS") and el.value:
                    text = str(el.value)
                    allowed = "\r\n\t" if el.VR in ("ST", "LT", "UT") else ""
                    assert not any(ord(c) < 32 and c not in allowed for c in text), (el, text)
    ds = pydicom.dcmread(next((tmp_path / "export_seg").glob("*.dcm")))
    for s in ds.SegmentSequence:
        assert len(s.SegmentLabel.encode("utf-8")) <= 64


# --- SR completeness -------------------------------------------------------------------------


def test_study_labels_only_give_an_sr(base, tmp_path):
    ann, meta = fresh(base)
    lone = {"id": "U_lone", "name": "Lone Reader"}
    parent = copy.deepcopy(annotations(ann, "Normal exam")[0])
    parent.update(id="A_lone1", createdById="U_lone_absent")  # not in users
    child = copy.deepcopy(parent)
    child.update(
        id="A_lone2",
        parentId="A_lone1",
        SeriesInstanceUID=annotations(ann, "Lesion")[0]["SeriesInstanceUID"],
    )
    child["SOPInstanceUID"] = annotations(ann, "Lesion")[0]["SOPInstanceUID"]
    ann["users"].append(lone)
    ann["datasets"][0]["annotations"] += [parent, child]
    report = export_sr(ann, meta, tmp_path, n_jobs=1)
    mine = [f for f in report.files if f.annotator_id == "U_lone_absent"]
    assert len(mine) == 1 and report.skips == []
    path = tmp_path / mine[0].path
    assert dciodvfy_errors(path) == [] and dsrdump_errors(path) == []
    ds, gs = groups(path)
    assert sorted(tracking(g) for g in gs) == ["A_lone1", "A_lone2"]
    # the library and the evidence list the study image that gave the patient and study
    (study,) = ds.CurrentRequestedProcedureEvidenceSequence
    assert study.StudyInstanceUID == parent["StudyInstanceUID"]
    hd.sr.srread(path)


def test_series_and_image_labels_reference_series_and_images_first(base, tmp_path):
    ann, meta = fresh(base)
    report = export_sr(ann, meta, tmp_path, n_jobs=1)
    found = all_groups(tmp_path, report)
    series_of = {
        e["SOPInstanceUID"]: e["SeriesInstanceUID"] for e in meta["datasets"][0]["dicomMetadata"]
    }
    for a in annotations(ann, "Motion artifact"):
        ((_, g),) = found[a["id"]]
        assert items(g, "112002")[0].UID == a["SeriesInstanceUID"]
        refs = {i.ReferencedSOPSequence[0].ReferencedSOPInstanceUID for i in items(g, "121112")}
        assert refs == {s for s, se in series_of.items() if se == a["SeriesInstanceUID"]}
    for a in annotations(ann, "Key image"):
        ((_, g),) = found[a["id"]]
        kinds = [i.ValueType for i in g.ContentSequence]
        assert kinds.index("IMAGE") < kinds.index("CODE"), "the image precedes the label items"


def test_image_library_lists_every_referenced_image(base, tmp_path):
    ann, meta = fresh(base)
    report = export_sr(ann, meta, tmp_path, n_jobs=1)
    for f in report.files:
        ds = pydicom.dcmread(tmp_path / f.path)
        library = next(
            i for i in ds.ContentSequence if i.ConceptNameCodeSequence[0].CodeValue == "111028"
        )
        listed = {
            e.ReferencedSOPSequence[0].ReferencedSOPInstanceUID
            for grp in library.ContentSequence
            for e in grp.ContentSequence
            if e.ValueType == "IMAGE"
        }
        referenced = set()
        stack = list(
            next(
                i for i in ds.ContentSequence if i.ConceptNameCodeSequence[0].CodeValue == "126010"
            ).ContentSequence
        )
        while stack:
            it = stack.pop()
            for r in it.get("ReferencedSOPSequence") or []:
                referenced.add(r.ReferencedSOPInstanceUID)
            stack.extend(it.get("ContentSequence") or [])
        assert referenced <= listed


def test_series_by_series_number_and_images_by_instance_number(tmp_path):
    ann, meta = make_exports(
        seed=13, ct_series=3, ct_slices=3, with_radiograph=False, with_multiframe=False
    )
    entries = meta["datasets"][0]["dicomMetadata"]
    series = sorted({e["SeriesInstanceUID"] for e in entries})
    renumber = {se: 10 - k for k, se in enumerate(series)}  # reverse of UID order
    for e in entries:
        e["dicomTags"]["SeriesNumber"] = renumber[e["SeriesInstanceUID"]]
    report = export_sr(ann, meta, tmp_path, n_jobs=1)
    rank = {"STUDY": 0, "EXAM": 0, "SERIES": 1, "INSTANCE": 2}
    labs = {lab["id"]: lab for g in ann["labelGroups"] for lab in g["labels"]}
    by_id = {a["id"]: a for a in ann["datasets"][0]["annotations"]}
    inst_no = {e["SOPInstanceUID"]: e["dicomTags"]["InstanceNumber"] for e in entries}
    for f in report.files:
        keys = []
        for g in groups(tmp_path / f.path)[1]:
            a = by_id[tracking(g)]
            scope = rank[labs[a["labelId"]]["scope"]]
            se = renumber.get(a.get("SeriesInstanceUID"), -1) if scope else -1
            keys.append((scope, se, inst_no.get(a.get("SOPInstanceUID"), 0) if scope == 2 else 0))
        assert keys == sorted(keys)


@pytest.mark.validators
def test_a_polygon_of_100k_vertices_gives_a_readable_sr(base, tmp_path):
    ann, meta = fresh(base)
    victim = annotations(ann, "Outline")[0]
    t = np.linspace(0, 2 * np.pi, 100_000, endpoint=False)
    victim["data"]["vertices"] = np.round(
        np.c_[60 + 40 * np.cos(t), 60 + 40 * np.sin(t)], 3
    ).tolist()
    a = tmp_path / "ann.json"
    a.write_text(json.dumps(ann))
    report = export_sr(a, meta, tmp_path / "sr", n_jobs=1)
    f = next(f for f in report.files if victim["id"] in _written_ids(tmp_path / "sr" / f.path))
    path = tmp_path / "sr" / f.path
    assert dsrdump_errors(path) == [] and dciodvfy_errors(path) == []
    sr = hd.sr.srread(path)
    g = next(
        g
        for g in sr.content.get_planar_roi_measurement_groups()
        if victim["id"] in g.tracking_identifier
    )
    assert len(g.roi.value) == 100_001  # every vertex, closed
