"""Source images: the geometry of every frame, read from the metadata export.

Works on the export's ``dicomTags`` dicts directly (no pydicom dataset per
instance): classic single-frame images keep position, orientation and pixel
measures at the root; Enhanced multi-frame images keep them in the shared or
the per-frame functional groups (vendors differ: Philips and Siemens XA repeat
orientation and pixel measures in every frame); projection images (CR, DX,
MG, ...) have no frame of reference and place nothing.

Values that cannot describe geometry (a ``PixelSpacing`` of ``0\\0``, a
non-finite or malformed number, an orientation of zero vectors) are treated as
absent and reported, never copied into a SEG.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .dicom.encode import Codec
from .dicom.modules import patient_study
from .dicom.values import ds, is_valid_uid
from .errors import ExportError
from .headers import floats, integer

Tags = Mapping[str, Any]


def _ds_tuple(value: Any, n: int) -> tuple[str, ...]:
    """DS strings for ``value``, keeping valid input strings as they are."""
    parts = value.split("\\") if isinstance(value, str) else value
    if not isinstance(parts, (list, tuple)):
        parts = [parts]
    return tuple(ds(p) for p in parts[:n])


@dataclass(frozen=True, slots=True)
class FrameGeometry:
    """Geometry of one source frame; None where the header does not (validly) say.

    ``position``/``orientation``/``spacing`` hold DS strings as they will be
    written; the ``*_f`` twins the same numbers as floats for comparisons.
    """

    position: tuple[str, ...] | None = None
    position_f: tuple[float, ...] | None = None
    orientation: tuple[str, ...] | None = None
    orientation_f: tuple[float, ...] | None = None
    spacing: tuple[str, ...] | None = None
    thickness: str | None = None
    spacing_between_slices: str | None = None

    @property
    def pixel_measures(self) -> tuple[tuple[str, ...] | None, str | None, str | None]:
        """What goes into a Pixel Measures item (spacing, thickness, spacing between slices)."""
        return self.spacing, self.thickness, self.spacing_between_slices


#: Larger pixel spacings / slice thicknesses (mm) are input errors (1e308 reads back as
#: infinity, and dciodvfy rejects it).
MAX_MM = 1e6
#: dciodvfy's tolerances for direction cosines: unit length, orthogonal.
_UNIT_TOLERANCE = 4e-5
_ORTHOGONAL_TOLERANCE = 1e-4


#: Direction cosines this close to orthonormal are taken as rounded in the source (three
#: decimals, "0.707", are off by 1.5e-4; two by 4e-3) and written normalised.
_ROUNDING_TOLERANCE = 1e-2


def _dot(u: Sequence[float], v: Sequence[float]) -> float:
    return sum(a * b for a, b in zip(u, v, strict=True))


def _within(ori: Sequence[float], unit: float, orthogonal: float) -> bool:
    """Whether the row and column of ``ori`` are unit vectors within ``unit`` and
    orthogonal within ``orthogonal``."""
    row, col = ori[:3], ori[3:]
    return (
        abs(math.hypot(*row) - 1) <= unit
        and abs(math.hypot(*col) - 1) <= unit
        and abs(_dot(row, col)) <= orthogonal
    )


def _orthonormal(ori: Sequence[float]) -> bool:
    """Whether ``ori`` holds two orthogonal unit vectors (row, column), as dciodvfy sees it."""
    return _within(ori, _UNIT_TOLERANCE, _ORTHOGONAL_TOLERANCE)


def _normalised(ori: list[float]) -> list[float] | None:
    """``ori`` made orthonormal (Gram-Schmidt: the row kept in direction, the column made
    orthogonal to it) when it is within :data:`_ROUNDING_TOLERANCE` of it, else None."""
    if not _within(ori, _ROUNDING_TOLERANCE, _ROUNDING_TOLERANCE):
        return None
    row, col = ori[:3], ori[3:]
    nr = math.hypot(*row)
    r = [a / nr for a in row]
    along = _dot(r, col)
    c = [b - along * a for a, b in zip(r, col, strict=True)]
    nc = math.hypot(*c)
    out = r + [b / nc for b in c]
    return out if _orthonormal(out) else None


def _item(seq: Any) -> Tags:
    if isinstance(seq, list) and seq and isinstance(seq[0], Mapping):
        return seq[0]
    return {}


def _geometry(groups: list[Tags], problems: list[str], where: str) -> FrameGeometry:
    """Geometry from root attributes or functional-group items, first match wins."""
    pos = ori = spacing = None
    thickness = between = None
    pos_raw = ori_raw = sp_raw = None
    for g in groups:
        if pos is None:
            pos_raw = _item(g.get("PlanePositionSequence")).get(
                "ImagePositionPatient", g.get("ImagePositionPatient")
            )
            pos = floats(pos_raw, 3)
        if ori is None:
            ori_raw = _item(g.get("PlaneOrientationSequence")).get(
                "ImageOrientationPatient", g.get("ImageOrientationPatient")
            )
            ori = floats(ori_raw, 6)
            if ori is not None and not _orthonormal(ori):
                ori = _normalised(ori)
                if ori is not None:  # rounded in the source: dciodvfy rejects it as it is
                    problems.append(
                        f"{where}: ImageOrientationPatient {ori_raw!r} is not exactly two "
                        "orthogonal unit vectors (rounded?); written normalised"
                    )
                    ori_raw = ori  # what is written
                else:
                    # zero, non-unit (1e308, 2.5) or non-orthogonal direction cosines:
                    # dciodvfy rejects them in a SEG, and they describe no plane
                    problems.append(
                        f"{where}: ImageOrientationPatient {ori_raw!r} ignored (not two "
                        "orthogonal unit vectors)"
                    )
        pm = _item(g.get("PixelMeasuresSequence")) or g
        if spacing is None and pm.get("PixelSpacing") is not None:
            sp_raw = pm.get("PixelSpacing")
            spacing = floats(sp_raw, 2)
            if spacing is None or min(spacing) <= 0 or max(spacing) > MAX_MM:
                problems.append(
                    f"{where}: PixelSpacing {sp_raw!r} ignored (not two positive numbers "
                    "up to 1e6 mm)"
                )
                spacing = None
        if thickness is None:
            t = floats(pm.get("SliceThickness"), 1)
            if t is not None and 0 < t[0] <= MAX_MM:
                thickness = ds(
                    pm["SliceThickness"] if isinstance(pm["SliceThickness"], str) else t[0]
                )
        if between is None:
            b = floats(pm.get("SpacingBetweenSlices"), 1)
            if b is not None and 0 < b[0] <= MAX_MM:  # negative: not permitted in a SEG
                sbs = pm["SpacingBetweenSlices"]
                between = ds(sbs if isinstance(sbs, str) else b[0])
    return FrameGeometry(
        position=_ds_tuple(pos_raw, 3) if pos is not None else None,
        position_f=tuple(pos) if pos is not None else None,
        orientation=_ds_tuple(ori_raw, 6) if ori is not None else None,
        orientation_f=tuple(ori) if ori is not None else None,
        spacing=_ds_tuple(sp_raw, 2) if spacing is not None else None,
        thickness=thickness,
        spacing_between_slices=between,
    )


@dataclass(slots=True)
class SourceImage:
    """What a SEG needs to know about one source instance (built once per worker)."""

    sop_uid: str
    tags: Tags
    sop_class_uid: str
    rows: int
    columns: int
    number_of_frames: int
    frame_of_reference_uid: str | None
    instance_number: int
    problems: list[str] = field(default_factory=list)
    _frames: dict[int, FrameGeometry] = field(default_factory=dict)
    _patient_study: dict[bool, tuple[dict[int, bytes], list[str]]] = field(default_factory=dict)

    def patient_study(self, codec: Codec) -> tuple[dict[int, bytes], list[str]]:
        """This image's Patient and Study attributes, encoded with ``codec`` (computed once),
        and what was left out of them.

        Raises:
            ExportError: the patient/study identity is invalid (see :mod:`.dicom.modules`).
        """
        got = self._patient_study.get(codec.implicit)
        if got is None:
            got = patient_study(self.tags, f"instance {self.sop_uid}", codec)
            self._patient_study[codec.implicit] = got
        return got

    @property
    def is_multiframe(self) -> bool:
        return "PerFrameFunctionalGroupsSequence" in self.tags or self.number_of_frames > 1

    def frame(self, index: int) -> FrameGeometry:
        """Geometry of frame ``index`` (0-based), computed once."""
        g = self._frames.get(index)
        if g is None:
            shared = _item(self.tags.get("SharedFunctionalGroupsSequence"))
            per_frame = self.tags.get("PerFrameFunctionalGroupsSequence")
            own: Tags = {}
            if isinstance(per_frame, list) and index < len(per_frame):
                item = per_frame[index]
                own = item if isinstance(item, Mapping) else {}
            where = f"instance {self.sop_uid}" + (
                f" frame {index + 1}" if self.is_multiframe else ""
            )
            g = _geometry([own, shared, self.tags], self.problems, where)
            self._frames[index] = g
        return g


def source_image(sop_uid: str, tags: Tags) -> SourceImage:
    """The :class:`SourceImage` of instance ``sop_uid``.

    Raises:
        ExportError: the header lacks what any SEG needs (SOP Class UID, positive
            Rows/Columns); the message names the instance and the attribute.
    """
    sop_class = tags.get("SOPClassUID")
    if not is_valid_uid(sop_class):
        raise ExportError(f"instance {sop_uid}: SOPClassUID {sop_class!r} is missing or invalid")
    rows, cols = integer(tags.get("Rows")), integer(tags.get("Columns"))
    if not rows or not cols or rows <= 0 or cols <= 0 or rows > 65535 or cols > 65535:
        raise ExportError(
            f"instance {sop_uid}: Rows/Columns {tags.get('Rows')!r}/{tags.get('Columns')!r} "
            "are not positive integers up to 65535"
        )
    frames = integer(tags.get("NumberOfFrames")) or 1
    for_uid = tags.get("FrameOfReferenceUID")
    return SourceImage(
        sop_uid=sop_uid,
        tags=tags,
        sop_class_uid=str(sop_class),
        rows=rows,
        columns=cols,
        number_of_frames=max(1, frames),
        frame_of_reference_uid=str(for_uid) if is_valid_uid(for_uid) else None,
        instance_number=integer(tags.get("InstanceNumber")) or 0,
    )
