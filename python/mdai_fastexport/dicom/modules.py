"""Modules every SEG and SR shares: Patient and Study (copied from a source image),
General Equipment and SOP Common.

Patient and Study attributes are the root attributes of the Patient, Clinical
Trial Subject, General Study, Patient Study and Clinical Trial Study modules
(the module tables highdicom ships). Each copied value is checked against its
VR and value multiplicity: an invalid *identifying* value (Patient ID, Patient
Name, Study Instance UID) stops the file with a message naming the attribute
and the value — writing it would misfile the result — while any other invalid
value is left out (Type 2 attributes written empty) and reported.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from typing import Any

from pydicom import Dataset, config
from pydicom.datadict import dictionary_VM
from pydicom.dataelem import DataElement
from pydicom.valuerep import validate_value

from .._version import MANUFACTURER, MODEL_NAME, __version__
from ..errors import ExportError
from ..headers import tags_to_dataset
from .elements import Elements
from .encode import EXPLICIT, Codec, _values, encode_dataset, encode_elements
from .values import CHARSET

#: Type 2 attributes of the Patient and General Study modules (written empty when absent).
TYPE2 = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyDate",
    "StudyTime",
    "ReferringPhysicianName",
    "StudyID",
    "AccessionNumber",
)
_IDENTITY = ("PatientID", "PatientName", "StudyInstanceUID")
#: Type 2C attributes required when the patient is an animal (Patient, Patient Study modules).
_ANIMAL_TYPE2C = (
    "PatientBreedDescription",
    "PatientBreedCodeSequence",
    "BreedRegistrationSequence",
    "ResponsiblePerson",
    "ResponsibleOrganization",
    "PatientSexNeutered",
)


#: Root-level keywords of the Patient and Study information entities: the Patient, Clinical
#: Trial Subject, General Study, Patient Study and Clinical Trial Study modules (highdicom's
#: module tables; ``tests/test_encode.py`` keeps this list equal to them). A constant, because
#: loading those tables costs 0.4 s in every worker process.
PATIENT_STUDY_KEYWORDS = frozenset(
    {
        "AccessionNumber",
        "AdditionalPatientHistory",
        "AdmissionID",
        "AdmittingDiagnosesCodeSequence",
        "AdmittingDiagnosesDescription",
        "Allergies",
        "BreedRegistrationSequence",
        "ClinicalTrialProtocolEthicsCommitteeApprovalNumber",
        "ClinicalTrialProtocolEthicsCommitteeName",
        "ClinicalTrialProtocolID",
        "ClinicalTrialProtocolName",
        "ClinicalTrialSiteID",
        "ClinicalTrialSiteName",
        "ClinicalTrialSponsorName",
        "ClinicalTrialSubjectID",
        "ClinicalTrialSubjectReadingID",
        "ClinicalTrialTimePointDescription",
        "ClinicalTrialTimePointID",
        "ClinicalTrialTimePointTypeCodeSequence",
        "ConsentForClinicalTrialUseSequence",
        "ConsultingPhysicianIdentificationSequence",
        "ConsultingPhysicianName",
        "DeidentificationMethod",
        "DeidentificationMethodCodeSequence",
        "EthnicGroupCodeSequence",
        "GeneticModificationsSequence",
        "GroupOfPatientsIdentificationSequence",
        "IssuerOfAccessionNumberSequence",
        "IssuerOfAdmissionIDSequence",
        "IssuerOfClinicalTrialProtocolID",
        "IssuerOfClinicalTrialSiteID",
        "IssuerOfClinicalTrialSubjectID",
        "IssuerOfClinicalTrialSubjectReadingID",
        "IssuerOfClinicalTrialTimePointID",
        "IssuerOfPatientID",
        "IssuerOfPatientIDQualifiersSequence",
        "IssuerOfServiceEpisodeIDSequence",
        "LastMenstrualDate",
        "LongitudinalTemporalEventType",
        "LongitudinalTemporalOffsetFromEvent",
        "MeasuredAPDimension",
        "MeasuredLateralDimension",
        "MedicalAlerts",
        "NameOfPhysiciansReadingStudy",
        "Occupation",
        "OtherClinicalTrialProtocolIDsSequence",
        "OtherPatientIDsSequence",
        "OtherPatientNames",
        "PatientAge",
        "PatientAlternativeCalendar",
        "PatientBirthDate",
        "PatientBirthDateInAlternativeCalendar",
        "PatientBirthTime",
        "PatientBodyMassIndex",
        "PatientBreedCodeSequence",
        "PatientBreedDescription",
        "PatientComments",
        "PatientDeathDateInAlternativeCalendar",
        "PatientID",
        "PatientIdentityRemoved",
        "PatientName",
        "PatientSex",
        "PatientSexNeutered",
        "PatientSize",
        "PatientSizeCodeSequence",
        "PatientSpeciesCodeSequence",
        "PatientSpeciesDescription",
        "PatientState",
        "PatientWeight",
        "PhysiciansOfRecord",
        "PhysiciansOfRecordIdentificationSequence",
        "PhysiciansReadingStudyIdentificationSequence",
        "PregnancyStatus",
        "ProcedureCodeSequence",
        "QualityControlSubject",
        "ReasonForPerformedProcedureCodeSequence",
        "ReasonForVisit",
        "ReasonForVisitCodeSequence",
        "ReferencedPatientPhotoSequence",
        "ReferencedPatientSequence",
        "ReferencedStudySequence",
        "ReferringPhysicianIdentificationSequence",
        "ReferringPhysicianName",
        "RequestingService",
        "RequestingServiceCodeSequence",
        "ResponsibleOrganization",
        "ResponsiblePerson",
        "ResponsiblePersonRole",
        "ServiceEpisodeDescription",
        "ServiceEpisodeID",
        "SmokingStatus",
        "SourcePatientGroupIdentificationSequence",
        "StrainAdditionalInformation",
        "StrainCodeSequence",
        "StrainDescription",
        "StrainNomenclature",
        "StrainStockSequence",
        "StudyDate",
        "StudyDescription",
        "StudyID",
        "StudyInstanceUID",
        "StudyTime",
        "TypeOfPatientID",
    }
)


def _calendar_ok(vr: str, value: str) -> bool:
    try:
        if vr == "DA":
            _dt.datetime.strptime(value, "%Y%m%d")
        elif vr == "TM":
            main = value.split(".")[0]
            fmt = {2: "%H", 4: "%H%M", 6: "%H%M%S"}.get(len(main))
            if fmt is None:
                return False
            _dt.datetime.strptime(main, fmt)
    except ValueError:
        return False
    return True


#: Maximum value lengths in bytes (PS3.5 Table 6.2-1); pydicom counts characters, so a
#: 40-character name of 2-byte UTF-8 characters passes it and fails dciodvfy.
_MAX_BYTES = {
    "AE": 16,
    "AS": 4,
    "CS": 16,
    "DA": 8,
    "DS": 16,
    "DT": 26,
    "IS": 12,
    "LO": 64,
    "LT": 10240,
    "SH": 16,
    "ST": 1024,
    "TM": 14,
    "UI": 64,
}
#: Enumerated values of the Patient and Study modules (a PatientSex of "1" is valid CS).
_ENUMERATED: dict[str, set[object]] = {
    "PatientSex": {"M", "F", "O"},
    "PatientIdentityRemoved": {"YES", "NO"},
    "QualityControlSubject": {"YES", "NO"},
    "PatientSexNeutered": {"ALTERED", "UNALTERED"},
    "TypeOfPatientID": {"TEXT", "RFID", "BARCODE"},
    "SmokingStatus": {"YES", "NO", "UNKNOWN"},
    "PregnancyStatus": {1, 2, 3, 4},
}
#: Type 1 attributes of the items of sequences the Patient and Study modules hold (an item
#: emptied or mangled by the export must not be copied).
_ITEM_REQUIRED = {
    "OtherPatientIDsSequence": ("PatientID", "TypeOfPatientID"),
    "ReferencedStudySequence": ("ReferencedSOPClassUID", "ReferencedSOPInstanceUID"),
    "ReferencedPatientSequence": ("ReferencedSOPClassUID", "ReferencedSOPInstanceUID"),
}
_CODE_REQUIRED = ("CodingSchemeDesignator", "CodeMeaning")


def _length_problem(vr: str, text: str) -> str | None:
    """A value longer than its VR allows, counted in UTF-8 bytes (PN: per component group)."""
    if vr == "PN":
        groups = text.split("=")
        if len(groups) > 3 or any(len(g.split("^")) > 5 for g in groups):
            return "too many name components"
        if any(len(g.encode("utf-8")) > 64 for g in groups):
            return "a name component group longer than 64 bytes"
        return None
    limit = _MAX_BYTES.get(vr)
    if limit is not None and len(text.encode("utf-8")) > limit:
        return f"longer than {limit} bytes"
    return None


def _item_problem(keyword: str, item: Dataset) -> str | None:
    """Why a sequence item cannot be written: empty, a Type 1 attribute missing, or an
    invalid value (checked like a root attribute)."""
    if len(item) == 0:
        return "an empty item"
    required = _ITEM_REQUIRED.get(keyword, ())
    if keyword.endswith("CodeSequence"):
        if not any(item.get(k) for k in ("CodeValue", "LongCodeValue", "URNCodeValue")):
            return "an item without a code value"
        required = _CODE_REQUIRED if not item.get("URNCodeValue") else ("CodeMeaning",)
    missing = [k for k in required if item.get(k) in (None, "")]
    if missing:
        return f"an item without {', '.join(missing)}"
    for sub in item:
        problem = _problem(sub)
        if problem is not None:
            return f"{sub.keyword or sub.tag}: {problem}"
    return None


def _problem(elem: DataElement) -> str | None:
    """Why ``elem`` cannot be written as it is, or None."""
    if elem.VR == "SQ":
        if not elem.value:
            return "an empty sequence"
        for k, item in enumerate(elem.value):
            problem = _item_problem(elem.keyword, item)
            if problem is not None:
                return f"item {k + 1}: {problem}"
        return None
    if elem.value is None or elem.value == "":
        return None
    values = _values(elem.value)
    vm = dictionary_VM(elem.tag)
    if vm == "1" and (len(values) != 1 or (isinstance(values[0], str) and "\\" in values[0])):
        return f"{len(values) if len(values) != 1 else 'several'} values where one is allowed"
    for v in values:
        s = str(v)
        if any(ord(ch) < 32 and ch not in "\r\n\t\x1b" for ch in s):
            return "control characters"
        try:
            validate_value(elem.VR, s if elem.VR in ("DS", "IS") else v, config.RAISE)
        except (ValueError, TypeError) as exc:
            return str(exc)
        if elem.VR in ("DA", "TM") and not _calendar_ok(elem.VR, s):
            return f"not a valid {'date' if elem.VR == 'DA' else 'time'}"
        too_long = _length_problem(elem.VR, s)
        if too_long is not None:
            return too_long
        allowed = _ENUMERATED.get(elem.keyword)
        if allowed is not None and v not in allowed:
            return f"not one of {', '.join(sorted(map(str, allowed)))}"
    return None


def patient_study(
    tags: Mapping[str, Any], where: str, codec: Codec = EXPLICIT
) -> tuple[dict[int, bytes], list[str]]:
    """Patient and Study module attributes of a source header, encoded, and what was left out.

    Raises:
        ExportError: an identifying attribute (Patient ID, Patient Name, Study
            Instance UID) has an invalid value; the message names it.
    """
    keys = PATIENT_STUDY_KEYWORDS
    ds = tags_to_dataset({k: v for k, v in tags.items() if k in keys})
    dropped: list[str] = []
    for elem in list(ds):
        problem = _problem(elem)
        if problem is None:
            continue
        shown = repr(elem.value)[:80]
        if elem.keyword in _IDENTITY:
            raise ExportError(f"{where}: {elem.keyword} {shown} is not valid ({problem})")
        del ds[elem.tag]
        dropped.append(f"{where}: {elem.keyword} {shown} left out ({problem})")
    for kw in TYPE2:
        if kw not in ds:
            setattr(ds, kw, None)
    if "PatientSpeciesDescription" in ds or "PatientSpeciesCodeSequence" in ds:
        for kw in _ANIMAL_TYPE2C:
            if kw not in ds:
                setattr(ds, kw, [] if kw.endswith("Sequence") else None)
    if str(ds.get("PatientIdentityRemoved") or "").upper() == "YES" and not (
        ds.get("DeidentificationMethod") or ds.get("DeidentificationMethodCodeSequence")
    ):
        ds.DeidentificationMethod = "not described in the source image"
        dropped.append(
            f"{where}: PatientIdentityRemoved is YES without a de-identification method; "
            "DeidentificationMethod written as 'not described in the source image'"
        )
    if not ds.get("StudyInstanceUID"):
        raise ExportError(f"{where}: no StudyInstanceUID in the header")
    return encode_elements(ds, codec), dropped


def add_equipment(ds: Elements) -> None:
    """General (and Enhanced General) Equipment: this software."""
    ds.set("Manufacturer", MANUFACTURER)
    ds.set("ManufacturerModelName", MODEL_NAME)
    ds.set("DeviceSerialNumber", "0")
    ds.set("SoftwareVersions", __version__)


def add_sop_common(
    ds: Elements,
    sop_class_uid: str,
    sop_instance_uid: str,
    date: str,
    time: str,
    coding_schemes: list[Dataset] | None = None,
) -> None:
    """SOP Common: class and instance, character set, creation date/time, coding schemes."""
    ds.set("SpecificCharacterSet", CHARSET)
    ds.set("SOPClassUID", sop_class_uid)
    ds.set("SOPInstanceUID", sop_instance_uid)
    ds.set("InstanceCreationDate", date)
    ds.set("InstanceCreationTime", time)
    if coding_schemes:
        ds.sequence(
            "CodingSchemeIdentificationSequence",
            (encode_dataset(item, ds.c) for item in coding_schemes),
        )
