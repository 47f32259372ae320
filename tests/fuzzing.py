"""Helpers of the fuzz and fault suites: a small valid export, mutations of it, and the
"never crash, never lie" contract checked on every run.

A *path* is a tuple of keys and list indices from the root of one of the two JSON
documents (``"ann"`` = the annotation export, ``"meta"`` = the metadata export).
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from mdai_fastexport import ExportError, RunReport
from mdai_fastexport.synthetic import make_exports
from validators import dciodvfy_errors, require

Path_ = tuple[Any, ...]
DEPTH = 2_000


def base_exports() -> tuple[dict[str, Any], dict[str, Any]]:
    """The export every mutation starts from: 1 CT series of 3 slices, the radiograph, the
    Enhanced multi-frame instance, 2 annotators."""
    return make_exports(
        seed=11,
        ct_series=1,
        ct_slices=3,
        with_radiograph=True,
        with_multiframe=True,
        n_annotators=2,
    )


def clone(obj: Any) -> Any:
    """A deep copy (fast for the plain JSON of the base export)."""
    return orjson.loads(orjson.dumps(obj))


# --------------------------------------------------------------------------- values


class Deep:
    """Marker for a value nested ``DEPTH`` levels (built fresh where it is inserted: a
    deep value cannot be deep-copied or repr'd by the test itself)."""

    def __init__(self, kind: str, key: str = "a") -> None:
        self.kind, self.key = kind, key

    def build(self) -> Any:
        v: Any = 1
        for _ in range(DEPTH):
            v = [v] if self.kind == "list" else {self.key: v}
        return v

    def json_text(self) -> str:
        if self.kind == "list":
            return "[" * DEPTH + "1" + "]" * DEPTH
        return f'{{"{self.key}": ' * DEPTH + "1" + "}" * DEPTH

    def __repr__(self) -> str:
        return f"Deep({self.kind!r}, {self.key!r})"


#: Replacement values: other types, non-finite and huge numbers, awkward strings, containers.
VALUES: list[Any] = [
    1,
    0,
    -1,
    2.5,
    float("inf"),
    float("-inf"),
    float("nan"),
    1e308,
    -1e308,
    2**64,
    "abc",
    "inf",
    "1e308",
    "-1",
    "",
    "Läsion \u0000 ✓ 𝔘",
    "Ω" * 40 + "x" * 40,
    "a\\b\\c",
    None,
    [],
    {},
    True,
    False,
    [1, "x", None],
    {"x": 1},
    Deep("list"),
    Deep("dict"),
]


def materialize(value: Any) -> Any:
    return value.build() if isinstance(value, Deep) else copy.deepcopy(value)


def show(value: Any) -> str:
    """A short description of a value for assertion messages (never deep)."""
    if isinstance(value, Deep):
        return repr(value)
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --------------------------------------------------------------------------- paths


def walk(obj: Any, path: Path_ = ()) -> Iterator[Path_]:
    """Every path below ``obj`` (containers and leaves), parents first."""
    yield path
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from walk(v, (*path, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from walk(v, (*path, i))


def get(obj: Any, path: Path_) -> Any:
    for p in path:
        obj = obj[p]
    return obj


def region(doc: str, path: Path_) -> str:
    """A coarse name of where ``path`` points, used to spread examples over the documents."""
    if doc == "ann":
        if len(path) <= 1:
            return "ann:top"
        if path[0] == "labelGroups":
            return "ann:label" if len(path) >= 4 and path[2] == "labels" else "ann:group"
        if path[0] == "users":
            return "ann:user"
        if path[0] == "datasets" and len(path) >= 4 and path[2] == "annotations":
            if len(path) >= 5 and path[4] == "data":
                return "ann:annotation.data"
            return "ann:annotation"
        return "ann:dataset"
    if len(path) >= 5 and path[2] == "dicomMetadata" and path[4] == "dicomTags":
        if len(path) >= 7:
            return "meta:tags.nested"
        return "meta:tags"
    if len(path) >= 4 and path[2] == "dicomMetadata":
        return "meta:entry"
    return "meta:top"


@dataclass
class Base:
    """The base export, its paths by region, and what a clean run of it writes."""

    ann: dict[str, Any]
    meta: dict[str, Any]
    paths: dict[str, list[tuple[str, Path_]]] = field(default_factory=dict)
    dict_paths: dict[str, list[tuple[str, Path_]]] = field(default_factory=dict)
    list_paths: dict[str, list[tuple[str, Path_]]] = field(default_factory=dict)
    files: dict[str, dict[tuple[Any, ...], str]] = field(default_factory=dict)

    @classmethod
    def make(cls) -> Base:
        ann, meta = base_exports()
        b = cls(ann, meta)
        for doc, root in (("ann", ann), ("meta", meta)):
            for p in walk(root):
                v = get(root, p)
                r = region(doc, p)
                if p:
                    b.paths.setdefault(r, []).append((doc, p))
                if isinstance(v, dict) and v and p:
                    b.dict_paths.setdefault(r, []).append((doc, p))
                if isinstance(v, list) and v:
                    b.list_paths.setdefault(r, []).append((doc, p))
        return b

    def docs(self) -> dict[str, Any]:
        return {"ann": clone(self.ann), "meta": clone(self.meta)}


# --------------------------------------------------------------------------- mutations


def replace(docs: dict[str, Any], doc: str, path: Path_, value: Any) -> None:
    """Set the value at ``path`` (the whole document when ``path`` is empty)."""
    if not path:
        docs[doc] = materialize(value)
        return
    get(docs[doc], path[:-1])[path[-1]] = materialize(value)


def place(docs: dict[str, Any], doc: str, path: Path_, value: Any) -> None:
    """Set ``value`` itself at ``path`` (a :class:`Deep` marker stays a marker, for
    :func:`write_json`)."""
    get(docs[doc], path[:-1])[path[-1]] = value


def delete(docs: dict[str, Any], doc: str, path: Path_) -> None:
    parent = get(docs[doc], path[:-1])
    del parent[path[-1]]


def duplicate(docs: dict[str, Any], doc: str, path: Path_, index: int) -> None:
    lst = get(docs[doc], path)
    lst.insert(index % len(lst), copy.deepcopy(lst[index % len(lst)]))


def swap(docs: dict[str, Any], doc: str, path: Path_) -> None:
    """A list becomes a dict keyed by the indices, a dict the list of its values."""
    v = get(docs[doc], path)
    new = {str(i): x for i, x in enumerate(v)} if isinstance(v, list) else list(v.values())
    if path:
        get(docs[doc], path[:-1])[path[-1]] = new
    else:
        docs[doc] = new


# --------------------------------------------------------------------------- ownership

#: A WrittenFile as a key that does not depend on the file name.
FileKey = tuple[str, str, str | None, str]


def file_key(f: Any) -> FileKey:
    return (f.kind, f.study_uid, f.series_uid, f.annotator_id)


def affected(base: Base, doc: str, path: Path_) -> Callable[[FileKey], bool] | None:
    """Which baseline files a single change at ``path`` may cost (None: any of them, the
    change is to the structure of a whole document or dataset)."""
    ann, meta = base.ann, base.meta
    if doc == "ann":
        if len(path) <= 1:
            # top-level scalars (id, name, dates, ...) cost nothing; the lists cost anything
            return None if (not path or path[0] in ("labelGroups", "datasets")) else _none
        if path[0] == "users":
            return _none
        if path[0] == "labelGroups":
            group = ann["labelGroups"][path[1]] if len(path) >= 2 else None
            if len(path) >= 4 and path[2] == "labels":
                lab_ids = {group["labels"][path[3]]["id"]}
            else:
                lab_ids = {lab["id"] for lab in group["labels"]}
            all_labels = [lab for g in ann["labelGroups"] for lab in g["labels"]]
            lab_ids |= {lab["id"] for lab in all_labels if lab.get("parentId") in lab_ids}
            anns = [a for a in ann["datasets"][0]["annotations"] if a["labelId"] in lab_ids]
            return _owners(base, anns)
        if path[0] == "datasets" and len(path) >= 4 and path[2] == "annotations":
            a = ann["datasets"][path[1]]["annotations"][path[3]]
            anns = [a] + [
                b for b in ann["datasets"][0]["annotations"] if b.get("parentId") == a["id"]
            ]
            return _owners(base, anns)
        return None
    # metadata
    if len(path) >= 4 and path[2] == "dicomMetadata":
        entry = meta["datasets"][path[1]]["dicomMetadata"][path[3]]
        study = entry["StudyInstanceUID"]
        return lambda k: k[1] == study
    return None


def _none(_key: FileKey) -> bool:
    return False


def annotator(a: dict[str, Any]) -> str:
    """The annotator key of an annotation: its model for model outputs, else its creator."""
    return a.get("modelId") or a.get("machineLearningModelId") or a.get("createdById") or ""


def _owners(base: Base, anns: list[dict[str, Any]]) -> Callable[[FileKey], bool]:
    """Files that hold any of ``anns`` (SEG by series, SR by study, and annotator)."""
    series = {
        m["SOPInstanceUID"]: m["SeriesInstanceUID"]
        for d in base.meta["datasets"]
        for m in d["dicomMetadata"]
    }
    keys = set()
    for a in anns:
        se = series.get(a.get("SOPInstanceUID"), a.get("SeriesInstanceUID"))
        keys.add(("SR", a["StudyInstanceUID"], None, annotator(a)))
        keys.add(("SEG", a["StudyInstanceUID"], se, annotator(a)))
    return lambda k: k in keys


# --------------------------------------------------------------------------- the contract

_VALIDATED: dict[bytes, list[str]] = {}


def validate_file(path: Path) -> list[str]:
    """dciodvfy (and dsrdump for SR) errors of one file, memoised by content."""
    data = path.read_bytes()
    digest = hashlib.sha256(data).digest()
    errors = _VALIDATED.get(digest)
    if errors is None:
        errors = dciodvfy_errors(path)
        if path.name.startswith("DICOM_SR_"):
            errors += dsrdump_errors(path)
        errors += utf8_errors(path)
        _VALIDATED[digest] = errors
    return errors


def dsrdump_errors(path: Path) -> list[str]:
    """Error lines of ``dsrdump -Ph`` (as ``validators.dsrdump_errors``, reading bytes: a
    file with invalid UTF-8 must fail the check, not the test harness)."""
    exe = require("dsrdump")
    proc = subprocess.run([exe, "-Ph", str(path)], capture_output=True, timeout=300)
    err = proc.stderr.decode("utf-8", "replace")
    errors = [ln.rstrip() for ln in err.splitlines() if ln.startswith(("E:", "F:"))]
    if proc.returncode != 0 and not errors:
        errors.append(f"ToolFailure: dsrdump rc={proc.returncode}")
    return errors


def utf8_errors(path: Path) -> list[str]:
    """Text values that are not valid UTF-8 (every file declares ISO_IR 192): pydicom
    warns when it has to replace bytes while decoding them."""
    import warnings

    import pydicom

    def visit(ds: Any) -> None:
        for elem in ds:
            if elem.VR == "SQ":
                for item in elem.value:
                    visit(item)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        visit(pydicom.dcmread(path))
    return [
        f"InvalidText - {w.message}"
        for w in caught
        if "decode" in str(w.message).lower() or "charset" in str(w.message).lower()
    ]


def check_folder(out: Path, report: RunReport | None, fmt: str, validate: bool = True) -> None:
    """The folder holds exactly what the manifest lists, valid, complete and readable."""
    if not out.exists():
        assert report is None
        return
    names = sorted(p.name for p in out.iterdir())
    assert not [n for n in names if n.endswith(".tmp")], names
    dcm = sorted(n for n in names if n.endswith(".dcm"))
    manifest_path = out / f"report.{fmt.lower()}.json"
    if report is None:
        assert dcm == [], f"an error was raised but files were written: {dcm}"
        return
    manifest = json.loads(manifest_path.read_text())
    assert sorted(f["path"] for f in manifest["files"]) == dcm
    assert sorted(f.path for f in report.files) == dcm
    assert manifest["internal_errors"] == report.internal_errors
    for name in dcm:
        p = out / name
        assert stat.S_IMODE(p.stat().st_mode) == 0o644, name
        if validate:
            errors = validate_file(p)
            assert errors == [], (name, errors[:5])
    for s in report.skips:
        assert s.reason and s.detail, s


@dataclass
class Outcome:
    report: RunReport | None
    error: ExportError | None


def run_api(export: Callable[..., RunReport], ann: Any, meta: Any, out: Path) -> Outcome:
    """Run an export in-process: a report or an ExportError, nothing else."""
    try:
        report = export(ann, meta, out, n_jobs=1)
    except ExportError as exc:
        assert str(exc).strip(), f"{type(exc).__name__} without a message"
        return Outcome(None, exc)
    assert report.internal_errors == 0, [
        s.detail for s in report.skips if s.reason == "internal_error"
    ]
    return Outcome(report, None)


def read_report(out: Path, fmt: str) -> Any:
    """The manifest of ``out`` as an object with ``files``, ``skips`` and ``internal_errors``
    (what :func:`check_folder` reads), for runs made through the CLI."""
    from types import SimpleNamespace

    m = json.loads((out / f"report.{fmt.lower()}.json").read_text())
    return SimpleNamespace(
        files=[SimpleNamespace(**f) for f in m["files"]],
        skips=[SimpleNamespace(**s) for s in m["skips"]],
        internal_errors=m["internal_errors"],
        manifest=m,
    )


def write_json(path: Path, obj: Any) -> None:
    """Write ``obj`` with the stdlib (NaN/Infinity as tokens); Deep values are spliced in as
    text because the encoder would recurse."""
    deep: list[Deep] = []

    def strip(o: Any) -> Any:
        if isinstance(o, Deep):
            deep.append(o)
            return f"@@DEEP{len(deep) - 1}@@"
        if isinstance(o, dict):
            return {k: strip(v) for k, v in o.items()}
        if isinstance(o, list):
            return [strip(v) for v in o]
        return o

    text = json.dumps(strip(obj), ensure_ascii=False)
    for k, d in enumerate(deep):
        text = text.replace(f'"@@DEEP{k}@@"', d.json_text())
    path.write_text(text, encoding="utf-8")


def run_cli(fmt: str, ann: Path, meta: Path, out: Path, *extra: str, timeout: float = 120) -> Any:
    """``python -m mdai_fastexport`` as a subprocess."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mdai_fastexport",
            fmt,
            "-a",
            str(ann),
            "-m",
            str(meta),
            "-o",
            str(out),
            "--no-progress",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONFAULTHANDLER": "1"},
    )
