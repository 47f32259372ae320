"""Shared fixtures: generated exports and the outputs written from them (once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mdai_fastexport import export_seg, export_sr
from mdai_fastexport.synthetic import write_exports

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


@pytest.fixture(scope="session")
def demo_export() -> tuple[Path, Path]:
    """The bundled example export (what the README demo converts)."""
    ann = sorted(EXAMPLES.glob("*_annotations_*.json"))
    meta = sorted(EXAMPLES.glob("*_dicom_metadata_*.json"))
    assert len(ann) == 1 and len(meta) == 1, "examples/ must hold one export pair"
    return ann[0], meta[0]


@pytest.fixture(scope="session")
def synthetic_export(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A generated export: CT series, a radiograph, a multi-frame MR, 3 annotators."""
    out = tmp_path_factory.mktemp("synthetic")
    return write_exports(out, name="synthetic", seed=7, ct_series=2, ct_slices=8)


@pytest.fixture(scope="session")
def seg_out(synthetic_export: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("seg")
    report = export_seg(*synthetic_export, out, n_jobs=2)
    return out, report


@pytest.fixture(scope="session")
def seg_split_out(synthetic_export: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("seg_split")
    report = export_seg(*synthetic_export, out, combine_label_groups=False, n_jobs=1)
    return out, report


@pytest.fixture(scope="session")
def sr_out(synthetic_export: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("sr")
    report = export_sr(*synthetic_export, out, n_jobs=2)
    return out, report
