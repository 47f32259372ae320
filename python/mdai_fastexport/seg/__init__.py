"""Step 5a of the data path: one DICOM Segmentation (BINARY) per SEG job.

* :mod:`.sources`: geometry of the source frames, from the metadata export.
* :mod:`.functional_groups`: shared and per-frame functional groups, dimensions.
* :mod:`.header`: every other module (patient, study, series, segments, ...).

The frames are rasterised straight into bit-packed pixel data by the Rust
extension (no dense volume), one output frame per (segment, source frame)
that has annotations, grouped by segment and ordered by source frame; empty
frames are left out, and a segment left without frames is dropped. The file is
the pydicom-encoded header followed by the pre-encoded functional groups and
pixel data (:mod:`..dicom.part10`). Everything that could vary between runs
(UIDs, dates) derives from the input, so re-runs write identical bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from pydicom.uid import SegmentationStorage

from ..codes import RADLEX, label_code
from ..dicom.encode import EXPLICIT, explicit_long_head
from ..dicom.part10 import Part10, assemble
from ..errors import ExportError
from ..images import SourceImage, source_image
from ..plan import SegJob
from ..raster import rasterize_packed
from ..report import Skip
from ..timestamps import content_date_time
from .functional_groups import (
    SHARED_FUNCTIONAL_GROUPS_SEQUENCE,
    FunctionalGroupEncoder,
    OutputFrame,
    dimensions,
    index_values,
)
from .header import build_header, encoded_segment_description

__all__ = ["SegResult", "SourceImage", "build_seg", "source_image"]

_PIXEL_DATA = 0x7FE00010


@dataclass(slots=True)
class SegResult:
    """A finished SEG file and what went into it."""

    part10: Part10
    segments: int
    frames: int
    annotations: int
    skips: list[Skip] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _spatial(sources: list[SourceImage], frames: list[OutputFrame]) -> tuple[bool, list[str]]:
    """Whether the SEG is placed in the sources' frame of reference, and why not.

    Every frame carries a Derivation Image reference, so the Frame of Reference
    module and the plane functional groups are optional (PS3.3 A.51-1, A.51-2);
    without them the frames are pixel-aligned with their source frames
    (A.51.5.1). They are written when all sources share one frame of reference
    and every frame has a valid position and orientation.
    """
    fors = {s.frame_of_reference_uid for s in sources}
    if fors == {None}:
        return False, []
    first = sources[0]
    # the header's own study/series UIDs: any JSON value (a list is not hashable)
    own = (first.tags.get("StudyInstanceUID"), first.tags.get("SeriesInstanceUID"))
    clash = {u for u in own if isinstance(u, str)} & fors
    if clash:
        return False, [
            f"instance {first.sop_uid}: FrameOfReferenceUID {clash.pop()} is also its study or "
            "series UID (an anonymiser's shortcut), which no SEG may repeat; SEG frames are "
            "pixel-aligned with their sources, without a frame of reference"
        ]
    if None in fors or len(fors) > 1:
        return False, [
            f"series {sources[0].tags.get('SeriesInstanceUID')}: annotated instances do not "
            f"share one Frame of Reference UID ({len(fors)} values); SEG frames are pixel-aligned "
            "with their sources, without a frame of reference"
        ]
    for f in frames:
        g = f.geometry
        missing = [
            name
            for name, value in (
                ("ImagePositionPatient", g.position),
                ("ImageOrientationPatient", g.orientation),
                ("PixelSpacing", g.spacing),
                ("SliceThickness", g.thickness),
            )
            if value is None
        ]
        if missing:
            where = f"instance {f.source.sop_uid}" + (
                f" frame {f.source_frame + 1}" if f.source.is_multiframe else ""
            )
            return False, [
                f"{where} has a Frame of Reference but no valid {' / '.join(missing)}: SEG "
                "frames are pixel-aligned with their sources, without a frame of reference"
            ]
    return True, []


def build_seg(job: SegJob, source_of: Callable[[str], SourceImage]) -> SegResult:
    """Build the SEG of ``job``; ``source_of(uid)`` gives the (cached) source images.

    Raises:
        ExportError: the sources cannot support a SEG, or nothing is left to write
            (the message names the instance or the cause).
        GeometryError: an annotation cannot be rasterised (names the annotation).
    """
    sources = [source_of(uid) for uid in job.source_uids]
    first = sources[0]
    rows, cols = first.rows, first.columns
    b = job.batch
    seg_index = {lab.id: k for k, lab in enumerate(job.segments)}
    src_rank = {uid: k for k, uid in enumerate(job.source_uids)}
    keys = [
        (seg_index[b.label_ids[i]], src_rank[b.sop_uids[i] or ""], b.frames[i] or 0)
        for i in range(len(b))
    ]
    planned = sorted(set(keys))
    frame_id = {k: n for n, k in enumerate(planned)}
    shape_frame = np.fromiter((frame_id[k] for k in keys), dtype=np.uint32, count=len(keys))
    packed = rasterize_packed(b.geometry, shape_frame, len(planned), rows, cols, b.ids)

    skips = [
        Skip(
            "empty_mask",
            f"annotation {b.ids[i]}: covers no pixel centre of its {cols}x{rows} image (outside "
            "it, or thinner than a pixel); not in the SEG",
            b.ids[i],
            job.study_uid,
            job.series_uid,
            b.sop_uids[i],
        )
        for i in np.flatnonzero(packed.shape_pixels == 0).tolist()
    ]
    frames = [
        OutputFrame(planned[f][0], sources[planned[f][1]], planned[f][2])
        for f in packed.kept.tolist()
    ]
    if not frames:
        raise ExportError(
            f"series {job.series_uid}, annotator {job.annotator.key}: every annotation covers "
            "no pixel of its image; nothing to write"
        )
    used = sorted({f.segment for f in frames})
    numbers = [0] * len(job.segments)
    for n, k in enumerate(used, start=1):
        numbers[k] = n

    spatial, notes = _spatial(sources, frames)
    geoms = [f.geometry for f in frames]
    orientation_per_frame = spatial and len({g.orientation for g in geoms}) > 1
    # Pixel Measures needs Slice Thickness (Type 1C): without it (projection images) the
    # group is left out; the frames are pixel-aligned with their sources anyway
    measures = {g.pixel_measures for g in geoms}
    measures_per_frame = len(measures) > 1
    has_measures = all(m[0] is not None and m[1] is not None for m in measures)
    dims = dimensions(frames, spatial)
    indices = index_values(frames, dims, numbers)
    by_source_frame: dict[tuple[int, int], set[int]] = {}
    for f in frames:
        by_source_frame.setdefault((id(f.source), f.source_frame), set()).add(f.segment)
    overlap = "UNDEFINED" if any(len(s) > 1 for s in by_source_frame.values()) else "NO"

    date, time = content_date_time(b.times, first.tags)
    descriptions = []
    for k in used:
        label = job.segments[k]
        semi = any(fm for lid, fm in zip(b.label_ids, b.from_model, strict=True) if lid == label.id)
        descriptions.append(
            encoded_segment_description(
                numbers[k], label, job.parents.get(label.id), job.annotator, semi
            )
        )
    uses_radlex = any(
        lab.radlex_ids and label_code(lab.id, lab.name, lab.radlex_ids).scheme_designator == RADLEX
        for lab in [*(job.segments[k] for k in used), *job.parents.values()]
    )
    header, dropped = build_header(
        sources=sources,
        descriptions=descriptions,
        uses_radlex=uses_radlex,
        dimensions=dims,
        spatial=spatial,
        number_of_frames=len(frames),
        segments_overlap=overlap,
        source_series_uid=job.series_uid,
        series_instance_uid=job.series_instance_uid,
        sop_instance_uid=job.sop_instance_uid,
        annotator=job.annotator,
        label_groups=job.label_groups,
        content_date=date,
        content_time=time,
    )
    fg = FunctionalGroupEncoder(EXPLICIT)
    shared = fg.shared(
        geoms[0],
        orientation=spatial and not orientation_per_frame,
        measures=has_measures and not measures_per_frame,
    )
    per_frame = fg.per_frame(
        frames,
        indices,
        dims,
        numbers,
        spatial=spatial,
        orientation_per_frame=orientation_per_frame,
        measures_per_frame=measures_per_frame and has_measures,
    )
    data = packed.data
    pad = b"\x00" if len(data) % 2 else b""
    pixel_head = explicit_long_head(_PIXEL_DATA, "OB", len(data) + len(pad))
    part10 = assemble(
        header,
        [shared, per_frame, pixel_head, data, pad],
        first_tail_tag=SHARED_FUNCTIONAL_GROUPS_SEQUENCE,
        sop_class_uid=SegmentationStorage,
        sop_instance_uid=job.sop_instance_uid,
    )
    warnings = sorted({p for s in sources for p in s.problems}) + notes + dropped
    return SegResult(
        part10=part10,
        segments=len(used),
        frames=len(frames),
        annotations=len(b) - len(skips),
        skips=skips,
        warnings=warnings,
    )
