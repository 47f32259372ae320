"""Labels and label groups of the annotation export.

Real exports say ``STUDY`` for exam-level labels (MD.ai's own exporter compared
``EXAM``; older exports may be lower case): both are accepted, case-insensitively,
as the canonical scope ``STUDY``. A label whose scope is none of STUDY/EXAM,
SERIES, INSTANCE, or whose ``annotationMode`` is not one we can draw, is kept
with a ``problem`` so its annotations are skipped with a reason that names the
label and the value — never guessed at.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: Annotation modes that carry geometry and can be rasterised / drawn as SCOORD.
LOCAL_MODES = ("bbox", "polygon", "freeform", "line", "location", "ellipse", "mask")
#: Canonical scopes, in report order (exam → series → image).
SCOPES = ("STUDY", "SERIES", "INSTANCE")
_SCOPE_ALIASES = {"STUDY": "STUDY", "EXAM": "STUDY", "SERIES": "SERIES", "INSTANCE": "INSTANCE"}


@dataclass(frozen=True, slots=True)
class Label:
    """One MD.ai label, flattened with its group.

    Attributes:
        scope: ``"STUDY"``, ``"SERIES"`` or ``"INSTANCE"`` (``EXAM`` maps to STUDY).
        mode: The annotation mode of a local label (lower case), None for global labels.
        problem: Why annotations with this label cannot be exported (unknown scope
            or mode), else None.
    """

    id: str
    name: str
    group_id: str
    group_name: str
    scope: str
    type: str
    mode: str | None
    color: str | None
    description: str
    radlex_ids: tuple[str, ...]
    parent_id: str | None
    order: int
    problem: str | None = None

    @property
    def is_local(self) -> bool:
        """True for labels with geometry (INSTANCE scope, a drawable mode): SEG exports them."""
        return self.problem is None and self.mode is not None

    @property
    def scope_rank(self) -> int:
        return SCOPES.index(self.scope) if self.scope in SCOPES else len(SCOPES)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def parse_labels(annotation_export: Mapping[str, Any]) -> tuple[dict[str, Label], list[str]]:
    """All labels by id, and warnings about label definitions that were ignored."""
    labels: dict[str, Label] = {}
    warnings: list[str] = []
    groups = annotation_export.get("labelGroups")
    if not isinstance(groups, list):
        return labels, warnings
    order = 0
    for g in groups:
        if not isinstance(g, Mapping):
            warnings.append(f"a labelGroups entry is {type(g).__name__}, not an object: ignored")
            continue
        gid = _text(g.get("id")) or ""
        gname = _text(g.get("name")) or gid or "(unnamed group)"
        group_labels = g.get("labels")
        if not isinstance(group_labels, list):
            if group_labels is not None:
                warnings.append(f"label group {gname!r}: 'labels' is not a list: ignored")
            continue
        for lab in group_labels:
            if not isinstance(lab, Mapping) or not _text(lab.get("id")):
                warnings.append(f"label group {gname!r}: a label without an id: ignored")
                continue
            label = _label(lab, gid, gname, order)
            if label.id in labels:
                warnings.append(f"label id {label.id!r} is defined twice: the first kept")
                continue
            labels[label.id] = label
            order += 1
    return labels, warnings


def _label(lab: Mapping[str, Any], gid: str, gname: str, order: int) -> Label:
    lid = str(lab["id"]).strip()
    name = _text(lab.get("name")) or lid
    raw_scope = lab.get("scope")
    raw_mode = lab.get("annotationMode")
    raw_type = _text(lab.get("type"))
    ltype = raw_type.upper() if raw_type else ("LOCAL" if raw_mode else "GLOBAL")
    problem = None
    scope = (
        _SCOPE_ALIASES.get(str(raw_scope).strip().upper()) if isinstance(raw_scope, str) else None
    )
    if scope is None:
        problem = f"label {name!r} ({lid}) has unknown scope {raw_scope!r}"
        scope = str(raw_scope)
    mode = str(raw_mode).strip().lower() if isinstance(raw_mode, str) and raw_mode.strip() else None
    if ltype == "GLOBAL":
        mode = None
    elif problem is None:
        if mode is None:
            problem = f"local label {name!r} ({lid}) has no annotationMode"
        elif mode not in LOCAL_MODES:
            problem = (
                f"label {name!r} ({lid}) has annotationMode {raw_mode!r}, which is not supported"
            )
        elif scope != "INSTANCE":
            problem = f"label {name!r} ({lid}) draws {mode} geometry at {scope} scope"
    radlex = lab.get("radlexTagIds")
    parent = _text(lab.get("parentId"))
    return Label(
        id=lid,
        name=name,
        group_id=gid,
        group_name=gname,
        scope=scope,
        type=ltype,
        mode=mode,
        color=lab.get("color") if isinstance(lab.get("color"), str) else None,
        description=_text(lab.get("description")) or "",
        radlex_ids=tuple(r for r in radlex if isinstance(r, str))
        if isinstance(radlex, list)
        else (),
        parent_id=parent.strip() if parent else None,
        order=order,
        problem=problem,
    )
