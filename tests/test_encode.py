"""Our encoders against pydicom and highdicom, the oracles.

* Every element/dataset :mod:`mdai_fastexport.dicom.encode` writes is byte-identical to
  pydicom's ``write_dataset`` for the same values: random datasets, the patient/study part of
  real vendor headers, and whole SEG/SR files we wrote (re-encoded by pydicom).
* A TID 1410 measurement group built by :mod:`mdai_fastexport.sr.content` equals the one
  highdicom's ``PlanarROIMeasurementsAndQualitativeEvaluations`` builds from the same inputs.
* The patient/study keyword constant equals highdicom's module tables.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydicom import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset
from pydicom.sr.codedict import codes

from mdai_fastexport import export_seg, export_sr
from mdai_fastexport.dicom.encode import EXPLICIT, IMPLICIT, encode_dataset
from mdai_fastexport.dicom.modules import PATIENT_STUDY_KEYWORDS, patient_study
from mdai_fastexport.dicom.values import ds as ds_string
from mdai_fastexport.headers import tags_to_dataset
from mdai_fastexport.sr.content import Code, ContentEncoder
from mdai_fastexport.synthetic import make_exports

sys.path.insert(0, str(Path(__file__).parent))
import vendor_headers


def pydicom_bytes(ds: Dataset, implicit: bool = False) -> bytes:
    fp = DicomBytesIO()
    fp.is_little_endian = True
    fp.is_implicit_VR = implicit
    write_dataset(fp, ds)
    return fp.getvalue()


text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\\"),
    max_size=20,
)


@st.composite
def datasets(draw, depth: int = 0) -> Dataset:
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.PatientName = draw(text)
    ds.StudyDescription = draw(text)
    ds.SOPInstanceUID = "2.25." + str(draw(st.integers(0, 2**128)))
    ds.Rows = draw(st.integers(0, 65535))
    ds.NumberOfFrames = draw(st.integers(1, 10**6))
    ds.ImageType = draw(
        st.lists(st.sampled_from(["ORIGINAL", "DERIVED", "PRIMARY", "AXIAL"]), max_size=4)
    )
    ds.PixelSpacing = [
        ds_string(v) for v in draw(st.lists(st.floats(1e-6, 1e6), min_size=2, max_size=2))
    ]
    ds.DimensionIndexValues = draw(st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=4))
    ds.GraphicData = draw(st.lists(st.floats(-1e6, 1e6, width=32), min_size=2, max_size=8))
    ds.FloatingPointValue = draw(st.floats(-1e300, 1e300))
    ds.TextValue = draw(st.text(max_size=50))
    if depth < 2:
        ds.ContentSequence = [draw(datasets(depth + 1)) for _ in range(draw(st.integers(0, 2)))]
    return ds


@settings(
    max_examples=150, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)
@given(datasets())
def test_random_datasets_encode_as_pydicom_does(ds):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert encode_dataset(ds, EXPLICIT) == pydicom_bytes(ds)
        assert encode_dataset(ds, IMPLICIT) == pydicom_bytes(ds, implicit=True)


def test_patient_and_study_of_real_headers_encode_as_pydicom_does():
    n = 0
    for name in vendor_headers.names():
        for tags in vendor_headers.tags(name):
            elements, dropped = patient_study(tags, name)
            theirs = tags_to_dataset({k: v for k, v in tags.items() if k in PATIENT_STUDY_KEYWORDS})
            ds = Dataset()
            ds.SpecificCharacterSet = "ISO_IR 192"  # as in every file we write
            changed = " ".join(dropped)  # invalid values left out or replaced on purpose
            kept = [t for t in sorted(elements) if t in theirs and theirs[t].keyword not in changed]
            for tag in kept:
                ds.add(theirs[tag])
            charset = encode_dataset(ds[0x00080005:0x00080006], EXPLICIT)
            assert charset + b"".join(elements[t] for t in kept) == pydicom_bytes(ds), name
            n += 1
    assert n > 40


def test_written_files_reencode_identically(tmp_path):
    ann, meta = make_exports(seed=2, ct_series=1, ct_slices=3)
    seg = export_seg(ann, meta, tmp_path / "seg", n_jobs=1)
    sr = export_sr(ann, meta, tmp_path / "sr", n_jobs=1)
    paths = [tmp_path / "seg" / f.path for f in seg.files] + [
        tmp_path / "sr" / f.path for f in sr.files
    ]
    assert len(paths) > 10
    for path in paths:
        raw = path.read_bytes()
        ds = pydicom.dcmread(path)
        for _ in ds.iterall():  # parse every element: pydicom re-encodes, not copies
            pass
        body = pydicom_bytes(ds)
        assert raw.endswith(body), path.name  # everything after the file meta, byte for byte


def test_a_planar_roi_group_equals_highdicoms():
    src = pydicom.dcmread(pydicom.data.get_testdata_file("CT_small.dcm"), stop_before_pixels=True)
    data = np.array([[10.5, 10.5], [40.25, 12.0], [30.0, 50.0], [10.5, 10.5]])
    label = hd.sr.CodedConcept("L_1", "99MDAI", "Lesion")
    group = hd.sr.CodedConcept("GG_1", "99MDAI", "Default group")
    uid = "2.25.1234"
    theirs = hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=uid, identifier="MD.ai annotation A_1"),
        referenced_region=hd.sr.ImageRegion(
            graphic_type="POLYLINE",
            graphic_data=data,
            source_image=hd.sr.SourceImageForRegion.from_source_image(src),
        ),
        finding_type=label,
        measurements=[
            hd.sr.Measurement(name=codes.SCT.Area, value=12.5, unit=codes.UCUM.SquareMillimeter)
        ],
        qualitative_evaluations=[
            hd.sr.QualitativeEvaluation(
                hd.sr.CodedConcept("MDAI-GROUP", "99MDAI", "Label group"), group
            )
        ],
    )[0]
    enc = ContentEncoder(EXPLICIT)
    c = lambda x: Code(x.value, x.scheme_designator, x.meaning)  # noqa: E731
    source = enc.image(
        "SELECTED FROM",
        Code("260753009", "SCT", "Source"),
        enc.reference(src.SOPClassUID, src.SOPInstanceUID, None),
    )
    ours = enc.container(
        "CONTAINS",
        Code("125007", "DCM", "Measurement Group"),
        [
            enc.text(
                "HAS OBS CONTEXT",
                Code("112039", "DCM", "Tracking Identifier"),
                "MD.ai annotation A_1",
            ),
            enc.uidref("HAS OBS CONTEXT", Code("112040", "DCM", "Tracking Unique Identifier"), uid),
            enc.code("CONTAINS", Code("121071", "DCM", "Finding"), c(label)),
            enc.num("CONTAINS", c(codes.SCT.Area), 12.5, c(codes.UCUM.SquareMillimeter)),
            enc.code("CONTAINS", Code("MDAI-GROUP", "99MDAI", "Label group"), c(group)),
            enc.scoord("CONTAINS", Code("111030", "DCM", "Image Region"), "POLYLINE", data, source),
        ],
        template="1410",
    )
    assert ours == pydicom_bytes(theirs)


def test_the_patient_study_keywords_are_highdicoms_module_tables():
    # highdicom >= 0.28 ships the module tables of the edition PATIENT_STUDY_KEYWORDS follows
    standard = pytest.importorskip("highdicom._standard_utils", reason="highdicom < 0.28")
    amap = standard.get_module_attribute_map()
    modules = (
        "patient",
        "clinical-trial-subject",
        "general-study",
        "patient-study",
        "clinical-trial-study",
    )
    assert PATIENT_STUDY_KEYWORDS == {
        a["keyword"] for m in modules for a in amap[m] if not a["path"]
    }


@pytest.mark.parametrize(
    "value, expected",
    [
        (0.0, "0.0"),
        (-0.0, "0.0"),
        (512, "512.0"),
        ("0.388672 ", "0.388672"),
        (1e-7, "1e-07"),
        (3.141592653589793238, "3.14159265358979"),
    ],
)
def test_ds_strings(value, expected):
    assert ds_string(value) == expected and len(ds_string(value)) <= 16
