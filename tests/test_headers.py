"""Rebuilding pydicom headers from dicomTags, in the shapes real metadata exports use."""

from __future__ import annotations

from pydicom.data import get_testdata_file
from pydicom.filereader import dcmread

from mdai_fastexport.headers import tags_to_dataset
from mdai_fastexport.synthetic import dataset_to_tags


def test_numbers_as_strings_lists_and_backslash_values():
    ds = tags_to_dataset(
        {
            "Rows": "512",
            "Columns": 512.0,
            "PixelSpacing": "0.7\\0.8",
            "ImageOrientationPatient": ["1", "0", "0", "0", "1", "0"],
            "SliceThickness": 2.5,
            "InstanceNumber": "7",
            "PatientName": {"Alphabetic": "Doe^Jane"},
            "StudyID": 42,
            "SmallestImagePixelValue": -5,
            "PatientWeight": None,
        }
    )
    assert ds.Rows == 512 and ds.Columns == 512
    assert [float(v) for v in ds.PixelSpacing] == [0.7, 0.8]
    assert [float(v) for v in ds.ImageOrientationPatient] == [1, 0, 0, 0, 1, 0]
    assert ds.InstanceNumber == 7 and float(ds.SliceThickness) == 2.5
    assert str(ds.PatientName) == "Doe^Jane" and ds.StudyID == "42"
    assert ds["SmallestImagePixelValue"].VR == "SS" and ds.SmallestImagePixelValue == -5
    assert "PatientWeight" in ds and ds.PatientWeight is None


def test_unusable_values_are_dropped_not_fatal():
    ds = tags_to_dataset(
        {
            "Rows": "abc",
            "SliceThickness": "nan",
            "InstanceNumber": 1.5,
            "NotAKeyword": 1,
            "PixelData": "b'\\x00\\x01'",
            "IconImageSequence": [{"Rows": 8}],
            "RedPaletteColorLookupTableData": "b'\\x00\\x01'",
            "Columns": 4,
        }
    )
    assert "Rows" not in ds and "SliceThickness" not in ds and "InstanceNumber" not in ds
    assert "PixelData" not in ds and "RedPaletteColorLookupTableData" not in ds
    assert ds.Columns == 4 and ds.IconImageSequence[0].Rows == 8


def test_round_trip_of_a_real_enhanced_header():
    src = dcmread(
        get_testdata_file("eCT_Supplemental.dcm", download=False), stop_before_pixels=True
    )
    ds = tags_to_dataset(dataset_to_tags(src))
    assert ds.SOPClassUID == src.SOPClassUID and ds.NumberOfFrames == src.NumberOfFrames
    for a, b in zip(
        ds.PerFrameFunctionalGroupsSequence, src.PerFrameFunctionalGroupsSequence, strict=True
    ):
        assert [float(v) for v in a.PlanePositionSequence[0].ImagePositionPatient] == [
            float(v) for v in b.PlanePositionSequence[0].ImagePositionPatient
        ]
    shared = ds.SharedFunctionalGroupsSequence[0]
    assert (
        shared.PixelMeasuresSequence[0].PixelSpacing
        == src.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0].PixelSpacing
    )
