"""Real vendor DICOM headers as MD.ai metadata entries, for tests.

Each ``tests/data/headers/<name>.json`` is a JSON **list with one item per instance** of one
series; each item is ``mdai_fastexport.synthetic.dataset_to_tags(pydicom.dcmread(path,
stop_before_pixels=True))`` of a public file: the ``dicomTags`` dict (keyword -> value, DS/IS as
numbers, multi-valued as lists, sequences as lists of dicts, private and pixel data dropped).
Multi-frame files with very many frames keep only their first 24 frames
(``PerFrameFunctionalGroupsSequence`` cut, ``NumberOfFrames`` set to match). Sources, commits and
licences are in ``tests/data/headers/SOURCES.md``.

API: :func:`names`, :func:`load` (metadata entries ``{"StudyInstanceUID", "SeriesInstanceUID",
"SOPInstanceUID", "dicomTags"}``, UIDs taken from the tags, a fresh copy on every call),
:func:`tags` (the bare ``dicomTags`` dicts) and :func:`describe` (one line per fixture).

Where the geometry lives. "root" = top-level attribute, "shared" = Shared Functional Groups,
"per-frame" = Per-frame Functional Groups (present in every frame, identical unless said).
PS = PixelSpacing, IPS = ImagerPixelSpacing, IOP = ImageOrientationPatient, IPP =
ImagePositionPatient, ST = SliceThickness, FoR = FrameOfReferenceUID.

Enhanced (multi-frame) MR / CT
------------------------------
philips_emr_pcasl
    Philips Ingenia Elition X R5.7.1, Enhanced MR (1.2.840.10008.5.1.4.1.1.4.1), 1 instance,
    40 frames, 96x96. PS, ST, IOP **per-frame only** (identical in all frames; nothing in
    shared, nothing at root); IPP per-frame, 40 distinct; FoR yes. Oblique IOP with 14 digits.
philips_emr_fieldmap_r53
    Philips Achieva dStream R5.3.0, Enhanced MR, 1 instance, 64 frames. PS/ST/IOP per-frame
    only; IPP per-frame with **32 positions each used twice** (frames 1-32 magnitude,
    33-64 B0 field map); IOP has ``2.7425248845E-05``; FoR yes.
philips_emr_pcasl_source_24f
    Philips Ingenia Elition X R5.7.1, Enhanced MR, first 24 of 240 frames. PS/ST/IOP per-frame
    only; IPP per-frame, **each position 3 times in a row** (8 distinct); FoR yes.
siemens_xa10_emr_fmri_4inst
    Siemens MAGNETOM Vida syngo MR XA10, Enhanced MR, **4 multi-frame instances of one series**
    (6 frames each, one fMRI volume per instance). PS/ST/IOP per-frame only
    (SpacingBetweenSlices also at root); IPP per-frame; **the same 6 positions in every
    instance**; IOP ``[1, -5e-13, 1e-06, -5e-13, 1, 1e-06]``; FoR yes.
siemens_xa30_emr_fieldmap_2inst
    Siemens MAGNETOM Prisma Fit syngo MR XA30, Enhanced MR, **2 instances of one series**
    (echo 1 and 2, 33 frames each). PS/ST/IOP per-frame only; IPP per-frame, the same 33
    positions in both instances; oblique IOP; FoR yes.
canon_emr_dwi_oblique_24f
    Canon Galan 3T V6.1, Enhanced MR, first 24 of 520 frames. PS/ST/IOP in **shared** only;
    IPP per-frame (24 distinct); doubly oblique IOP; no SpecificCharacterSet; FoR yes.
bruker_emr_4f
    Bruker BioSpin ParaVision 5.1, Enhanced MR, 4 frames, 128x256. PS ``[0.2, 0.1]``
    (anisotropic), ST and IOP in shared; IPP per-frame; IOP has ``6.123031769e-17``; no
    SpecificCharacterSet; FoR yes.
acme_ect_supplemental
    NEMA sample "Acme" Enhanced CT (1.2.840.10008.5.1.4.1.1.2.1), 2 frames (pydicom's
    ``eCT_Supplemental.dcm``). PS/ST/IOP shared; IPP per-frame; FoR yes.

Classic single-frame series
---------------------------
philips_mr_fieldmap_classic
    Philips Ingenia Elition X R5.7.1, MR Image Storage, 8 instances of one series: 2 slice
    positions x (echo 1, echo 2, phase echo 1, phase echo 2) -> **each IPP 4 times**. PS/IOP/
    IPP/ST at root; FoR yes. Instance numbers 1,2,107,108,3,4,109,110.
siemens_xa30_mr_dwi_classic
    Siemens Prisma Fit XA30 "interoperability" export, MR Image Storage, 6 instances of one DWI
    series: 2 slice positions x 3 diffusion volumes -> **each IPP 3 times**; oblique IOP; root
    geometry; FoR yes.
siemens_vb17_mr_mosaic_dwi
    Siemens TrioTim syngo MR B17, MR Image Storage, 2 **mosaic** instances (b=0 and b=1000,
    896x896 mosaics) with **the same IPP**; root geometry; FoR yes. (Mosaic IPP is the
    corner of the mosaic, not of a slice.)
siemens_xa30_mr_scout_mixed_iop
    Siemens Prisma Fit XA30, MR Image Storage, 5 MPR scout instances of **one series with 4
    different IOPs** (non-parallel planes); root geometry; FoR yes.
philips_mr_triplane_enotation
    Philips Eclipse 1.5T (VIA5.2), MR Image Storage, 3-plane localizer, 3 instances with **3
    different IOPs**; values were stored as ``0.00000e+00`` / ``-0.00000e+00`` /
    ``1.367188e+00`` strings (here floats, IOP keeps ``-0.0``); root geometry; FoR yes.
    Pixel data was downsized to 16x16 by pydicom, PS was not updated.
philips_mr_radial_projections
    Philips Eclipse 1.5T, MR Image Storage, 7 radial projection slabs (DERIVED/PROJECTION
    IMAGE), **7 different IOPs** sharing one axis; root geometry; FoR yes; 16x16 rows/cols.
ge_ct_localizers_anisotropic
    GE LightSpeed Ultra, CT Image Storage, 2 LOCALIZER instances of one series (sagittal and
    coronal, **2 IOPs**), **anisotropic PS [0.545455, 0.596847]**; root geometry; FoR yes;
    16x16 rows/cols.
hitachi_ct_japanese_charset
    Hitachi Supria, CT Image Storage, 1 instance; SpecificCharacterSet ``['ISO 2022 IR 13',
    'ISO 2022 IR 87']``, empty Manufacturer; root geometry; FoR yes.
siemens_mr_mip_empty_slice_thickness
    Siemens Prisma syngo MR D13D, MR Image Storage, 1 derived CSA MIP; **SliceThickness present
    but empty** (``None``); IPP has ``-6.4e-05``; root PS/IOP/IPP; FoR yes.

Projection radiography, mammography, US, NM
-------------------------------------------
fujifilm_dx
    FUJIFILM DR-ID 300CL, DX For Presentation, 1 instance; PS **and** IPS at root
    (``1.201199999999``); PatientOrientation ``L\\F``; no IOP/IPP/ST; **no FoR**; no charset.
philips_cr_zero_spacing
    Philips CR (NEMA RG1), CR Image Storage; **PixelSpacing "0.000\\0.000"** (floats 0.0);
    no IPS; PatientOrientation ``L\\F``; no FoR.
fuji_cr_no_spacing
    Fuji CR (NEMA RG3), CR Image Storage; **no PS and no IPS**; no FoR; no charset.
agfa_cr_imager_spacing
    Agfa ADC_5146, CR Image Storage; **IPS only** (no PS); no FoR; 16x16 rows/cols.
cr_japanese_patient_name
    Agfa ADC_5156 CR (D. Clunie charset sample), CR Image Storage; SpecificCharacterSet
    ``['', 'ISO 2022 IR 87']`` and PatientName ``やまだ^たろう``; IPS only; no FoR.
ge_mg_imager_spacing
    GE Senographe Essential, Digital Mammography For Presentation, 1 instance; **IPS only**;
    PatientOrientation ``P\\FL``; R MLO; no IOP/IPP; **no FoR**; large VOILUTSequence.
ge_us_single_frame
    GE LOGIQ 700, Ultrasound Image Storage, single frame RGB; no PS, no regions, **no FoR**,
    no charset.
sonosite_us_cine_120f
    SonoSite Turbo, Ultrasound Multi-frame, **120 frames**, no functional groups, no PS (only
    SequenceOfUltrasoundRegions), FrameTime/FrameIncrementPointer, **no FoR**.
acuson_us_cine_bad_charset
    Acuson, Ultrasound Multi-frame, 8 frames, FrameTimeVector, regions; **invalid
    SpecificCharacterSet "ISO-IR 100"**; no PS; no FoR.
ge_nm_as_secondary_capture
    GE MILLENNIUM MG whole-body bone scan (NEMA NM1) stored as **Secondary Capture** with
    Modality NM; NumberOfFrames 1 with NM FrameIncrementPointer; PS 2.26 at root; **FoR but no
    IOP/IPP**.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

HEADERS_DIR = Path(__file__).parent / "data" / "headers"

_DESCRIPTIONS: dict[str, str] = {
    "philips_emr_pcasl": "Philips Enhanced MR, 40 frames: PixelMeasures/PlaneOrientation only "
    "in per-frame groups (identical), no shared geometry",
    "philips_emr_fieldmap_r53": "Philips Enhanced MR R5.3, 64 frames: per-frame-only "
    "geometry, 32 positions each used twice (magnitude, field map), IOP with E-05",
    "philips_emr_pcasl_source_24f": "Philips Enhanced MR, 24 of 240 frames: per-frame-only "
    "geometry, each position repeated 3 times in a row",
    "siemens_xa10_emr_fmri_4inst": "Siemens XA10 Enhanced MR: 4 multi-frame instances of one "
    "series, per-frame-only geometry, same 6 positions in every instance",
    "siemens_xa30_emr_fieldmap_2inst": "Siemens XA30 Enhanced MR: 2 multi-frame instances "
    "(echoes) of one series, per-frame-only geometry, same positions, oblique",
    "canon_emr_dwi_oblique_24f": "Canon Enhanced MR, 24 of 520 frames: geometry in shared "
    "groups, doubly oblique, no SpecificCharacterSet",
    "bruker_emr_4f": "Bruker Enhanced MR, 4 frames: shared geometry, anisotropic pixel spacing "
    "0.2/0.1, IOP with 6e-17",
    "acme_ect_supplemental": "NEMA sample Enhanced CT, 2 frames: shared PixelMeasures and "
    "PlaneOrientation, per-frame PlanePosition",
    "philips_mr_fieldmap_classic": "Philips classic MR field map: 8 instances, 2 positions "
    "each repeated 4 times (2 echoes x magnitude/phase)",
    "siemens_xa30_mr_dwi_classic": "Siemens XA30 classic DWI: 6 instances, 2 positions each "
    "repeated 3 times (diffusion volumes), oblique",
    "siemens_vb17_mr_mosaic_dwi": "Siemens VB17 mosaic DWI: 2 instances (b0, b1000) with the "
    "same ImagePositionPatient, 896x896 mosaics",
    "siemens_xa30_mr_scout_mixed_iop": "Siemens XA30 MPR scout: one series of 5 instances "
    "with 4 different orientations",
    "philips_mr_triplane_enotation": "Philips Eclipse 3-plane localizer: one series with 3 "
    "orientations, IOP with -0.0 (stored as -0.00000e+00)",
    "philips_mr_radial_projections": "Philips Eclipse radial projection slabs: one series "
    "with 7 orientations around a common axis",
    "ge_ct_localizers_anisotropic": "GE CT localizers: one series with 2 orientations and "
    "anisotropic PixelSpacing 0.545455/0.596847",
    "hitachi_ct_japanese_charset": "Hitachi CT: Japanese ISO 2022 IR 13/IR 87 "
    "SpecificCharacterSet, empty Manufacturer",
    "siemens_mr_mip_empty_slice_thickness": "Siemens MR MIP: SliceThickness present but "
    "empty, IPP with -6.4e-05",
    "fujifilm_dx": "FUJIFILM DX: PixelSpacing and ImagerPixelSpacing (1.201199999999), "
    "PatientOrientation, no frame of reference",
    "philips_cr_zero_spacing": "Philips CR: PixelSpacing 0\\0, no frame of reference",
    "fuji_cr_no_spacing": "Fuji CR: no PixelSpacing and no ImagerPixelSpacing, no frame of "
    "reference",
    "agfa_cr_imager_spacing": "Agfa CR: ImagerPixelSpacing only, no frame of reference",
    "cr_japanese_patient_name": "Agfa CR: SpecificCharacterSet \\ISO 2022 IR 87 and a "
    "Japanese PatientName",
    "ge_mg_imager_spacing": "GE mammogram: ImagerPixelSpacing only, PatientOrientation P\\FL, "
    "no frame of reference",
    "ge_us_single_frame": "GE ultrasound single frame: no spacing, no regions, no frame of "
    "reference",
    "sonosite_us_cine_120f": "SonoSite ultrasound cine: 120 frames, no functional groups, "
    "spacing only in ultrasound regions, no frame of reference",
    "acuson_us_cine_bad_charset": "Acuson ultrasound cine, 8 frames: invalid "
    "SpecificCharacterSet 'ISO-IR 100', no frame of reference",
    "ge_nm_as_secondary_capture": "GE NM whole body stored as Secondary Capture: Modality NM, "
    "frame of reference but no orientation/position",
}


def names() -> list[str]:
    """Fixture names (the JSON files in ``tests/data/headers``), sorted."""
    return sorted(p.stem for p in HEADERS_DIR.glob("*.json"))


@cache
def _read(name: str) -> tuple[dict[str, Any], ...]:
    path = HEADERS_DIR / f"{name}.json"
    if not path.is_file():
        raise KeyError(f"no vendor header fixture {name!r}")
    return tuple(json.loads(path.read_text(encoding="utf-8")))


def tags(name: str) -> list[dict[str, Any]]:
    """The ``dicomTags`` dicts of fixture ``name``, one per instance (a fresh copy)."""
    return copy.deepcopy(list(_read(name)))


def load(name: str) -> list[dict[str, Any]]:
    """MD.ai metadata entries of fixture ``name``, one per instance (a fresh copy)."""
    return [
        {
            "StudyInstanceUID": t["StudyInstanceUID"],
            "SeriesInstanceUID": t["SeriesInstanceUID"],
            "SOPInstanceUID": t["SOPInstanceUID"],
            "dicomTags": t,
        }
        for t in tags(name)
    ]


def describe(name: str) -> str:
    """One line: what fixture ``name`` exercises."""
    return _DESCRIPTIONS[name]
