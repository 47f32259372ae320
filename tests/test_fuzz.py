"""Never crash, never lie: mutated exports give a report or an ExportError, every file written
is valid, the manifest is the folder, and one bad value costs at most what it belongs to.

Every example mutates one value of a small valid export (1 CT series of 3 slices, a second
CT series, the radiograph, the multi-frame instance, 2 annotators) and runs one export in
process; the files it writes are validated with dciodvfy (and dsrdump for SR), memoised by
content so only the files a mutation changed are validated again.
"""

from __future__ import annotations

import math
import random
import resource
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fuzzing as fz
from mdai_fastexport import (
    ExportError,
    InputFormatError,
    SR_SEG_Export,
    export_seg,
    export_sr,
)

pytestmark = pytest.mark.validators

BASE = fz.Base.make()
EXPORTS = {"SEG": export_seg, "SR": export_sr}
REGIONS = sorted(BASE.paths)

SETTINGS = {
    "derandomize": True,
    "deadline": None,
    "database": None,
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
}

#: A run of the base export: file keys per format (name-independent).
_BASELINE: dict[str, set[fz.FileKey]] = {}


def baseline(fmt: str, tmp: Path) -> set[fz.FileKey]:
    if fmt not in _BASELINE:
        report = EXPORTS[fmt](BASE.ann, BASE.meta, tmp / f"baseline-{fmt}", n_jobs=1)
        assert report.ok and report.files, report.skips
        fz.check_folder(tmp / f"baseline-{fmt}", report, fmt)
        _BASELINE[fmt] = {fz.file_key(f) for f in report.files}
    return _BASELINE[fmt]


def _describe(mutations: list[tuple[str, str, fz.Path_, Any]]) -> str:
    return "; ".join(f"{k} {d}:{'.'.join(map(str, p))}={fz.show(v)}" for k, d, p, v in mutations)


def check_contract(
    fmt: str,
    docs: dict[str, Any],
    mutations: list[tuple[str, str, fz.Path_, Any]],
    out: Path,
    tmp: Path,
) -> fz.Outcome:
    """Run ``fmt`` on the mutated ``docs`` and check the contract; ``mutations`` are the
    (kind, document, path, value) changes made to the base export."""
    what = _describe(mutations)
    outcome = fz.run_api(EXPORTS[fmt], docs["ann"], docs["meta"], out)
    fz.check_folder(out, outcome.report, fmt)
    owners = [fz.affected(BASE, d, p) for _, d, p, _ in mutations]
    structural = any(o is None for o in owners)
    deep = any(isinstance(v, fz.Deep) for *_, v in mutations)
    if outcome.error is not None:
        err = outcome.error
        if deep:
            assert isinstance(err, InputFormatError), (what, err)
        else:
            # a whole-input error for a change to one field: only when the change made the
            # inputs contradict themselves or broke a document's structure
            assert structural or "contradicts itself" in str(err), (
                f"{what}: {type(err).__name__}: {err}"
            )
        return outcome
    if fmt == "SR":
        # every annotation is in a file or skipped by name (or in a file that was not written)
        r = outcome.report
        named = sum(1 for s in r.skips if s.annotation_id or s.reason == "invalid_annotation")
        files_lost = any(not (s.annotation_id or s.reason == "invalid_annotation") for s in r.skips)
        total, exported = r.inputs["annotations"], r.inputs["exported_annotations"]
        if files_lost:
            assert exported + named <= total, (what, r.inputs, r.skip_counts())
        else:
            assert exported + named == total, (what, r.inputs, r.skip_counts())
    if not structural:
        written = {fz.file_key(f) for f in outcome.report.files}
        lost = {k for k in baseline(fmt, tmp) if not any(o(k) for o in owners) and k not in written}
        assert not lost, f"{what}: files that do not depend on the change were lost: {lost}"
    return outcome


# --------------------------------------------------------------------------- strategies

paths = st.sampled_from(REGIONS).flatmap(lambda r: st.sampled_from(BASE.paths[r]))
dict_keys = st.sampled_from(sorted(BASE.dict_paths)).flatmap(
    lambda r: st.sampled_from(BASE.dict_paths[r])
)
lists = st.sampled_from(sorted(BASE.list_paths)).flatmap(
    lambda r: st.sampled_from(BASE.list_paths[r])
)
containers = st.one_of(dict_keys, lists)
formats = st.sampled_from(["SEG", "SR"])


@settings(max_examples=300, **SETTINGS)
@given(target=paths, value=st.sampled_from(fz.VALUES), fmt=formats)
def test_any_value_replaced_by_another_type(target, value, fmt, tmp_path_factory):
    doc, path = target
    docs = BASE.docs()
    fz.replace(docs, doc, path, value)
    tmp = tmp_path_factory.mktemp("replace")
    check_contract(fmt, docs, [("replace", doc, path, value)], tmp / "out", tmp)


@settings(max_examples=60, **SETTINGS)
@given(target=dict_keys, pick=st.integers(0, 10_000), fmt=formats)
def test_a_key_deleted(target, pick, fmt, tmp_path_factory):
    doc, path = target
    obj = fz.get(getattr(BASE, doc), path)
    key = sorted(obj)[pick % len(obj)]
    docs = BASE.docs()
    fz.delete(docs, doc, (*path, key))
    tmp = tmp_path_factory.mktemp("delete")
    check_contract(fmt, docs, [("delete", doc, (*path, key), None)], tmp / "out", tmp)


@settings(max_examples=30, **SETTINGS)
@given(target=lists, pick=st.integers(0, 10_000), fmt=formats)
def test_a_list_item_duplicated(target, pick, fmt, tmp_path_factory):
    doc, path = target
    docs = BASE.docs()
    fz.duplicate(docs, doc, path, pick)
    tmp = tmp_path_factory.mktemp("duplicate")
    check_contract(fmt, docs, [("duplicate", doc, path, pick)], tmp / "out", tmp)


@settings(max_examples=30, **SETTINGS)
@given(target=containers, fmt=formats)
def test_lists_and_dicts_swapped(target, fmt, tmp_path_factory):
    doc, path = target
    docs = BASE.docs()
    fz.swap(docs, doc, path)
    tmp = tmp_path_factory.mktemp("swap")
    check_contract(fmt, docs, [("swap", doc, path, None)], tmp / "out", tmp)


# --------------------------------------------------------------------------- targeted


def _labels() -> dict[str, tuple[int, int]]:
    """label id -> (group index, label index)."""
    return {
        lab["id"]: (g, k)
        for g, group in enumerate(BASE.ann["labelGroups"])
        for k, lab in enumerate(group["labels"])
    }


def _label(i: int) -> dict[str, Any]:
    g, k = _labels()[BASE.ann["datasets"][0]["annotations"][i]["labelId"]]
    return BASE.ann["labelGroups"][g]["labels"][k]


def ann_with(mode: str | None = None, multiframe: bool = False, scope: str = "INSTANCE") -> int:
    """Index of the first annotation of this mode (on the multi-frame instance)."""
    mf = {
        e["SOPInstanceUID"]
        for e in BASE.meta["datasets"][0]["dicomMetadata"]
        if "PerFrameFunctionalGroupsSequence" in e["dicomTags"]
    }
    for i, a in enumerate(BASE.ann["datasets"][0]["annotations"]):
        lab = _label(i)
        if lab["scope"] != scope or lab.get("annotationMode") != mode:
            continue
        if multiframe == (a.get("SOPInstanceUID") in mf):
            return i
    raise AssertionError(f"no {mode} annotation (multiframe={multiframe})")


def entry(modality: str, multiframe: bool = False) -> int:
    for j, e in enumerate(BASE.meta["datasets"][0]["dicomMetadata"]):
        tags = e["dicomTags"]
        if tags.get("Modality") == modality and multiframe == (
            "PerFrameFunctionalGroupsSequence" in tags
        ):
            return j
    raise AssertionError(modality)


def series_entries(j: int) -> list[int]:
    se = BASE.meta["datasets"][0]["dicomMetadata"][j]["SeriesInstanceUID"]
    return [
        k
        for k, e in enumerate(BASE.meta["datasets"][0]["dicomMetadata"])
        if e["SeriesInstanceUID"] == se
    ]


def A(i: int, *rest: Any) -> tuple[str, fz.Path_]:
    return "ann", ("datasets", 0, "annotations", i, *rest)


def M(j: int, *rest: Any) -> tuple[str, fz.Path_]:
    return "meta", ("datasets", 0, "dicomMetadata", j, *rest)


def T(j: int, keyword: str) -> tuple[str, fz.Path_]:
    return M(j, "dicomTags", keyword)


def _radlex_label() -> tuple[str, fz.Path_]:
    for g, group in enumerate(BASE.ann["labelGroups"]):
        for k, lab in enumerate(group["labels"]):
            if lab.get("radlexTagIds"):
                return "ann", ("labelGroups", g, "labels", k, "radlexTagIds")
    raise AssertionError("no label with radlexTagIds")


INF, NAN = float("inf"), float("nan")
CT, CR, MF = entry("CT"), entry("CR"), entry("CT", multiframe=True)
POLY, BBOX, ELLIPSE = ann_with("polygon"), ann_with("bbox"), ann_with("ellipse")
LINE, LOC, MASK, FREE = (
    ann_with("line"),
    ann_with("location"),
    ann_with("mask"),
    ann_with("freeform"),
)


def _mf_annotation() -> int:
    for mode in ("polygon", "bbox", "freeform", "ellipse", "mask", "line", "location"):
        try:
            return ann_with(mode, multiframe=True)
        except AssertionError:
            continue
    raise AssertionError("no annotation on the multi-frame instance")


MF_ANN = _mf_annotation()

#: (id, [(document, path, value), ...]) — the cases the issue lists, and a few neighbours.
TARGETED: list[tuple[str, list[tuple[str, fz.Path_, Any]]]] = [
    ("annotations-int", [("ann", ("datasets", 0, "annotations"), 7)]),
    ("labels-int", [("ann", ("labelGroups", 0, "labels"), 7)]),
    ("labelGroups-int", [("ann", ("labelGroups",), 7)]),
    ("users-int", [("ann", ("users",), 7)]),
    ("label-radlexTagIds-int", [(*_radlex_label(), 7)]),
    ("annotation-radlexTagIds-int", [(*A(POLY, "radlexTagIds"), 7)]),
    ("dicomTags-list", [(*M(CT, "dicomTags"), ["Rows", 128])]),
    ("dicomTags-empty-list", [(*M(MF, "dicomTags"), [])]),
    *[
        (f"width-{fz.show(v)}", [(*A(POLY, "width"), v)])
        for v in (INF, "inf", 1e308, "Infinity", -1, 0)
    ],
    *[
        (f"height-{fz.show(v)}", [(*A(BBOX, "height"), v), (*A(BBOX, "width"), v)])
        for v in (NAN, "1e308")
    ],
    *[
        (f"frameNumber-{fz.show(v)}", [(*A(MF_ANN, "frameNumber"), v)])
        for v in (INF, "inf", 1e308, -1, 1.5, "1", 2**63, True)
    ],
    ("frameNumber-on-single-frame", [(*A(POLY, "frameNumber"), 5)]),
    *[
        (f"InstanceNumber-{fz.show(v)}", [(*T(CT, "InstanceNumber"), v)])
        for v in (INF, "inf", 1e308, -(2**40))
    ],
    *[
        (f"NumberOfFrames-{fz.show(v)}", [(*T(MF, "NumberOfFrames"), v)])
        for v in (INF, "inf", 1e308, 100_000, 0, -1, "2.5")
    ],
    ("NumberOfFrames-100000-single-frame", [(*T(CT, "NumberOfFrames"), 100_000)]),
    *[(f"Rows-{fz.show(v)}", [(*T(CT, "Rows"), v)]) for v in (INF, "inf", 1e308, "abc", -1, 0)],
    ("Columns-zero", [(*T(CR, "Columns"), 0)]),
    (
        "Rows-Columns-65535-series",
        [(*T(j, k), 65535) for j in series_entries(CT) for k in ("Rows", "Columns")],
    ),
    ("Rows-Columns-65535-multiframe", [(*T(MF, k), 65535) for k in ("Rows", "Columns")]),
    ("Rows-65536", [(*T(CR, "Rows"), 65536)]),
    *[
        (f"PixelSpacing-{fz.show(v)}", [(*T(CT, "PixelSpacing"), v)])
        for v in ([-1, -1], [0, 0], "0\\0", [1e308, 1e308], ["inf", "1"], [0.5])
    ],
    ("SliceThickness-negative", [(*T(CT, "SliceThickness"), -2.5)]),
    ("SliceThickness-1e308", [(*T(CT, "SliceThickness"), 1e308)]),
    ("SpacingBetweenSlices-negative", [(*T(CT, "SpacingBetweenSlices"), -1)]),
    ("SpacingBetweenSlices-1e308", [(*T(CT, "SpacingBetweenSlices"), "1e308")]),
    ("PatientIdentityRemoved-1", [(*T(CT, "PatientIdentityRemoved"), "1")]),
    ("OtherPatientIDsSequence-object", [(*T(CT, "OtherPatientIDsSequence"), {"x": 1})]),
    ("OtherPatientIDsSequence-item-empty", [(*T(CT, "OtherPatientIDsSequence"), [{}])]),
    (
        "OtherPatientIDsSequence-item-no-type",
        [(*T(CT, "OtherPatientIDsSequence"), [{"PatientID": "x"}])],
    ),
    (
        "PatientSpeciesCodeSequence-no-meaning",
        [(*T(CT, "PatientSpeciesCodeSequence"), [{"CodeValue": "1"}])],
    ),
    ("ImageOrientationPatient-not-unit", [(*T(CT, "ImageOrientationPatient"), [2, 0, 0, 0, 2, 0])]),
    ("ImageOrientationPatient-parallel", [(*T(CT, "ImageOrientationPatient"), [1, 0, 0, 1, 0, 0])]),
    *[
        (f"{k}-year-9999-west", [(*A(POLY, k), "9999-12-31T23:59:59-12:00")])
        for k in ("createdAt", "updatedAt")
    ],
    ("updatedAt-year-1-east", [(*A(POLY, "updatedAt"), "0001-01-01T00:00:00+14:00")]),
    ("updatedAt-garbage", [(*A(POLY, "updatedAt"), "yesterday")]),
    ("StudyDate-2026-13-45", [(*T(CT, "StudyDate"), "2026-13-45")]),
    ("StudyDate-20261345", [(*T(CT, "StudyDate"), "20261345")]),
    ("StudyTime-25h", [(*T(CT, "StudyTime"), "256199")]),
    ("PatientName-backslash", [(*T(CT, "PatientName"), "Doe\\John")]),
    ("PatientName-long-utf8", [(*T(CT, "PatientName"), "Ω" * 40)]),
    ("PatientID-backslash", [(*T(CR, "PatientID"), "12\\34")]),
    ("PatientSex-1", [(*T(CT, "PatientSex"), "1")]),
    ("ReferringPhysicianName-long-utf8", [(*T(CT, "ReferringPhysicianName"), "Ω" * 40)]),
    ("StudyDescription-long-utf8", [(*T(CT, "StudyDescription"), "Läsion ✓ 𝔘 " * 10)]),
    ("SOPClassUID-invalid", [(*T(CT, "SOPClassUID"), "1.2.abc")]),
    ("SOPInstanceUID-zero", [(*M(CT, "SOPInstanceUID"), "0")]),
    ("SOPInstanceUID-no-root", [(*M(CR, "SOPInstanceUID"), str(2**64))]),
    ("FrameOfReferenceUID-invalid", [(*T(CT, "FrameOfReferenceUID"), "abc")]),
    ("StudyInstanceUID-conflict", [(*M(CT, "StudyInstanceUID"), "1.2.3")]),
    ("ellipse-rx-1e308", [(*A(ELLIPSE, "data", "rx"), 1e308)]),
    ("ellipse-ry-inf", [(*A(ELLIPSE, "data", "ry"), INF)]),
    ("ellipse-rx-zero", [(*A(ELLIPSE, "data", "rx"), 0)]),
    ("ellipse-rx-negative", [(*A(ELLIPSE, "data", "rx"), -3)]),
    ("polygon-1-vertex", [(*A(POLY, "data", "vertices"), [[10, 10]])]),
    ("polygon-2-vertices", [(*A(POLY, "data", "vertices"), [[10, 10], [20, 20]])]),
    ("polygon-repeated-vertex", [(*A(POLY, "data", "vertices"), [[10, 10]] * 5)]),
    ("polygon-flat-list", [(*A(POLY, "data", "vertices"), [10, 10, 30, 10, 20, 30])]),
    ("polygon-flat-odd", [(*A(POLY, "data", "vertices"), [10, 10, 30])]),
    ("polygon-1e308", [(*A(POLY, "data", "vertices"), [[1e308, 0], [0, 1e308], [5, 5]])]),
    ("freeform-2-vertices", [(*A(FREE, "data", "vertices"), [[1, 1], [9, 9]])]),
    ("line-1-vertex", [(*A(LINE, "data", "vertices"), [[5, 5]])]),
    ("bbox-zero-size", [(*A(BBOX, "data", "width"), 0), (*A(BBOX, "data", "height"), 0)]),
    ("bbox-zero-width", [(*A(BBOX, "data", "width"), 0)]),
    ("bbox-negative", [(*A(BBOX, "data", "width"), -20)]),
    ("location-1e308", [(*A(LOC, "data", "x"), 1e308)]),
    ("mask-1-vertex", [(*A(MASK, "data", "foreground"), [[[3, 3]]])]),
    ("mask-foreground-empty", [(*A(MASK, "data", "foreground"), [])]),
    ("mask-background-int", [(*A(MASK, "data", "background"), 3)]),
    ("note-long-control", [(*A(POLY, "note"), "x\u0000\u001b\u202e" * 5000)]),
    ("label-name-long-utf8", [("ann", ("labelGroups", 0, "name"), "𝔘" * 100)]),
    ("user-name-backslash", [("ann", ("users", 0, "name"), "Doe\\John = ^^^^^^ x")]),
    ("createdById-int", [(*A(POLY, "createdById"), 12)]),
    ("labelId-list", [(*A(POLY, "labelId"), ["L"])]),
    ("scope-lower-exam", [("ann", ("labelGroups", 0, "labels", 0, "scope"), "exam")]),
    (
        "annotationMode-interval",
        [("ann", (*_radlex_label()[1][:-1], "annotationMode"), "interval")],
    ),
]


@pytest.mark.parametrize("fmt", ["SEG", "SR"])
@pytest.mark.parametrize("changes", [c for _, c in TARGETED], ids=[name for name, _ in TARGETED])
def test_targeted(changes, fmt, tmp_path):
    docs = BASE.docs()
    for doc, path, value in changes:
        fz.replace(docs, doc, path, value)
    mutations = [("replace", d, p, v) for d, p, v in changes]
    check_contract(fmt, docs, mutations, tmp_path / "out", tmp_path)


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param(
            [(*T(CR, "LossyImageCompressionMethod"), "abc")], id="LossyImageCompressionMethod-abc"
        ),
        pytest.param(
            [(*T(CR, "LossyImageCompressionMethod"), "Ω" * 40)],
            id="LossyImageCompressionMethod-long-utf8",
        ),
        pytest.param(
            [(*T(CR, "LossyImageCompressionRatio"), "abc")], id="LossyImageCompressionRatio-abc"
        ),
        pytest.param(
            [(*T(CR, "LossyImageCompressionRatio"), float("nan"))],
            id="LossyImageCompressionRatio-nan",
        ),
        pytest.param([(*T(CT, "SeriesInstanceUID"), [])], id="tags-SeriesInstanceUID-list"),
        pytest.param([(*T(CT, "StudyInstanceUID"), {"x": 1})], id="tags-StudyInstanceUID-object"),
        pytest.param([(*T(CR, "PatientOrientation"), ["abc", "F"])], id="PatientOrientation-abc"),
        pytest.param([(*T(CR, "PatientOrientation"), "inf\\F")], id="PatientOrientation-inf"),
    ],
)
def test_source_attributes_read_by_the_seg_builder(changes, tmp_path):
    """Header attributes the SEG builder reads straight from the metadata export."""
    docs = BASE.docs()
    for doc, path, value in changes:
        fz.replace(docs, doc, path, value)
    mutations = [("replace", d, p, v) for d, p, v in changes]
    check_contract("SEG", docs, mutations, tmp_path / "out", tmp_path)


@pytest.mark.parametrize("fmt", ["SEG", "SR"])
@pytest.mark.parametrize(
    "target, value",
    [(T(CT, "AccessionNumber"), 2**64), (M(CT, "dicomTags", 1), "a non-string key")],
    ids=["integer-2**64", "non-string-key"],
)
def test_values_a_json_parser_may_give_in_a_parsed_header(target, value, fmt, tmp_path):
    """``json.loads`` gives integers of any size; a caller's dict may have any key."""
    docs = BASE.docs()
    fz.replace(docs, *target, value)
    check_contract(fmt, docs, [("replace", *target, value)], tmp_path / "out", tmp_path)


def test_huge_images_are_skipped_not_allocated(tmp_path):
    """Rows/Columns 65535 and NumberOfFrames 100000, in a process limited to 3 GiB of address
    space: a precise skip (too_large, ...) or a normal result, never an abort."""
    docs = BASE.docs()
    for j in series_entries(CT):
        fz.replace(docs, *T(j, "Rows"), 65535)
        fz.replace(docs, *T(j, "Columns"), 65535)
    fz.replace(docs, *T(MF, "Rows"), 65535)
    fz.replace(docs, *T(MF, "Columns"), 65535)
    fz.replace(docs, *T(MF, "NumberOfFrames"), 100_000)
    a, m = tmp_path / "a.json", tmp_path / "m.json"
    fz.write_json(a, docs["ann"])
    fz.write_json(m, docs["meta"])

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))

    for fmt in ("seg", "sr"):
        out = tmp_path / fmt
        cmd = [sys.executable, "-m", "mdai_fastexport", fmt, "-a", str(a), "-m", str(m)]
        cmd += ["-o", str(out), "-j", "1", "--no-progress"]
        proc = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=300,
            preexec_fn=limit,
        )
        assert proc.returncode in (0, 1), (proc.returncode, proc.stderr[-2000:])
        assert "Traceback" not in proc.stderr
        report = fz.read_report(out, fmt)
        fz.check_folder(out, report, fmt.upper())
        if fmt == "seg":
            reasons = {s.reason for s in report.skips}
            assert reasons & {"too_large", "mixed_frame_sizes"}, report.skips


# --------------------------------------------------------------------------- deep nesting


@pytest.mark.parametrize("kind", ["list", "dict"])
@pytest.mark.parametrize("which", ["annotations", "metadata"])
def test_a_deeply_nested_file(kind, which, tmp_path):
    a, m = tmp_path / "a.json", tmp_path / "m.json"
    fz.write_json(a, BASE.ann)
    fz.write_json(m, BASE.meta)
    (a if which == "annotations" else m).write_text(fz.Deep(kind).json_text())
    with pytest.raises(InputFormatError, match=which[:8]):
        export_sr(a, m, tmp_path / "out", n_jobs=1)
    assert not (tmp_path / "out").exists()
    proc = fz.run_cli("seg", a, m, tmp_path / "cli", "-j", "1")
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr


@pytest.mark.parametrize("kind", ["list", "dict"])
@pytest.mark.parametrize("which", ["annotations", "metadata"])
def test_a_deeply_nested_parsed_export(kind, which, tmp_path):
    """The same as an already parsed object (the API accepts dicts)."""
    deep = fz.Deep(kind, "datasets").build()
    ann, meta = (deep, BASE.meta) if which == "annotations" else (BASE.ann, deep)
    with pytest.raises(InputFormatError):
        export_seg(ann, meta, tmp_path / "out", n_jobs=1)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "target",
    [
        A(POLY, "data", "vertices"),
        A(POLY, "note"),
        A(MF_ANN, "frameNumber"),
        T(CT, "PatientName"),
        T(MF, "SharedFunctionalGroupsSequence"),
        ("ann", ("users", 0)),
    ],
    ids=lambda t: ".".join(map(str, t[1][-2:])),
)
@pytest.mark.parametrize("deep", [fz.Deep("list"), fz.Deep("dict", "ReferencedSeriesSequence")])
def test_a_deeply_nested_value(target, deep, tmp_path):
    """As a parsed dict (no JSON parser limits the depth) and as a file (orjson refuses it,
    the stdlib recurses)."""
    docs = BASE.docs()
    fz.replace(docs, *target, deep)
    check_contract("SR", docs, [("replace", *target, deep)], tmp_path / "out", tmp_path)
    docs = BASE.docs()
    fz.place(docs, *target, deep)
    files = {}
    for key in ("ann", "meta"):
        files[key] = tmp_path / f"{key}.json"
        fz.write_json(files[key], docs[key])
    with pytest.raises(InputFormatError):
        export_seg(files["ann"], files["meta"], tmp_path / "file", n_jobs=1)


@pytest.mark.parametrize("depth", [200, 900, 1020])
def test_nesting_just_under_the_parser_limits(depth, tmp_path):
    """orjson parses up to 1024 levels; whatever it accepts must not exhaust the recursion
    limit later (a repr of the value in a skip, a str() in a header)."""
    docs = BASE.docs()
    a, m = tmp_path / "a.json", tmp_path / "m.json"
    fz.write_json(m, docs["meta"])
    docs["ann"]["datasets"][0]["annotations"][POLY]["frameNumber"] = "@@X@@"
    fz.write_json(a, docs["ann"])
    a.write_text(a.read_text().replace('"@@X@@"', "[" * depth + "1" + "]" * depth))
    for fmt in ("SEG", "SR"):
        out = tmp_path / fmt
        try:
            report = EXPORTS[fmt](a, m, out, n_jobs=1)
        except ExportError as exc:
            assert isinstance(exc, InputFormatError), exc
            continue
        assert report.internal_errors == 0
        fz.check_folder(out, report, fmt)


# --------------------------------------------------------------------------- the CLI


def _random_mutation(rng: random.Random) -> tuple[dict[str, Any], str]:
    docs = BASE.docs()
    kind = rng.choice(["replace", "replace", "replace", "delete", "duplicate", "swap"])
    if kind == "replace":
        doc, path = rng.choice(BASE.paths[rng.choice(REGIONS)])
        value = rng.choice(fz.VALUES)
        fz.replace(docs, doc, path, value)
        return docs, f"replace {doc}:{path}={fz.show(value)}"
    if kind == "delete":
        doc, path = rng.choice(BASE.dict_paths[rng.choice(sorted(BASE.dict_paths))])
        key = rng.choice(sorted(fz.get(getattr(BASE, doc), path)))
        fz.delete(docs, doc, (*path, key))
        return docs, f"delete {doc}:{(*path, key)}"
    doc, path = rng.choice(BASE.list_paths[rng.choice(sorted(BASE.list_paths))])
    if kind == "duplicate":
        fz.duplicate(docs, doc, path, rng.randrange(1000))
    else:
        fz.swap(docs, doc, path)
    return docs, f"{kind} {doc}:{path}"


CLI_CASES = 20


def test_mutated_exports_through_the_cli(tmp_path):
    rng = random.Random(20261125)
    cases = []
    for k in range(CLI_CASES):
        docs, what = _random_mutation(rng)
        case = tmp_path / f"case{k}"
        case.mkdir()
        fz.write_json(case / "a.json", docs["ann"])
        fz.write_json(case / "m.json", docs["meta"])
        cases.append((case, "seg" if k % 2 == 0 else "sr", what))

    def run(case: tuple[Path, str, str]) -> Any:
        d, fmt, _ = case
        return fz.run_cli(fmt, d / "a.json", d / "m.json", d / "out", "-j", "1", timeout=300)

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(run, cases))
    codes = []
    for (d, fmt, what), proc in zip(cases, results, strict=True):
        codes.append(proc.returncode)
        assert "Traceback" not in proc.stderr, (what, proc.stderr[-3000:])
        assert proc.returncode in (0, 1, 2), (what, proc.returncode, proc.stderr[-3000:])
        if proc.returncode == 2:
            lines = proc.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("error: "), (what, proc.stderr)
            assert not list((d / "out").glob("*.dcm")) if (d / "out").exists() else True
        else:
            fz.check_folder(d / "out", fz.read_report(d / "out", fmt), fmt.upper())
    assert 0 in codes or 1 in codes, codes


def test_drop_in_class_on_mutated_exports(tmp_path):
    """``SR_SEG_Export`` (default: all cores) on a few mutated exports: a report or an
    ExportError, the folder as its report says."""
    rng = random.Random(7)
    for k in range(4):
        docs, what = _random_mutation(rng)
        a, m = tmp_path / f"a{k}.json", tmp_path / f"m{k}.json"
        fz.write_json(a, docs["ann"])
        fz.write_json(m, docs["meta"])
        fmt = ("SEG", "SR")[k % 2]
        out = tmp_path / f"out{k}"
        try:
            exported = SR_SEG_Export(fmt, a, m, output_dir=out)
        except ExportError as exc:
            assert str(exc), what
            fz.check_folder(out, None, fmt)
            continue
        assert exported.report.internal_errors == 0, what
        fz.check_folder(out, exported.report, fmt)


def test_nan_and_infinity_tokens_in_files_reach_validation(tmp_path):
    """The stdlib writes NaN/Infinity tokens (orjson refuses them): each costs only its
    annotation."""
    docs = BASE.docs()
    fz.replace(docs, *A(POLY, "data", "vertices"), [[NAN, 1], [2, INF], [3, 3]])
    fz.replace(docs, *A(ELLIPSE, "data", "rx"), -INF)
    a, m = tmp_path / "a.json", tmp_path / "m.json"
    fz.write_json(a, docs["ann"])
    fz.write_json(m, docs["meta"])
    assert "NaN" in a.read_text() and "Infinity" in a.read_text()
    for fmt in ("SEG", "SR"):
        report = EXPORTS[fmt](a, m, tmp_path / fmt, n_jobs=1)
        fz.check_folder(tmp_path / fmt, report, fmt)
        ids = {s.annotation_id for s in report.skips}
        poly = BASE.ann["datasets"][0]["annotations"][POLY]["id"]
        ellipse = BASE.ann["datasets"][0]["annotations"][ELLIPSE]["id"]
        assert {poly, ellipse} <= ids
        assert len(report.files) == len(baseline(fmt, tmp_path))
        assert math.isfinite(len(report.files))
