"""Reading exports element by element (jsonscan + load): same values as a whole parse,
a whole parse whenever the file is not the plain case, clear errors, bounded memory."""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from mdai_fastexport import export_seg, export_sr, jsonscan
from mdai_fastexport.errors import InputFormatError
from mdai_fastexport.index import build_index
from mdai_fastexport.load import load_annotations, load_metadata
from mdai_fastexport.synthetic import make_exports, write_exports


def plain(value: Any) -> Any:
    """``value`` with every LazyArray parsed (what a whole parse gives)."""
    if isinstance(value, jsonscan.LazyArray):
        return [plain(x) for x in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


# --------------------------------------------------------------------------- random documents

_ALPHABET = [
    "a",
    '"',
    "\\",
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    " ",
    "é",
    "\n",
    "annotations",
    "datasets",
]


def _documents(n: int, seed: int) -> list[tuple[bytes, str, Any]]:
    """Documents shaped like exports whose strings hold quotes, backslashes, braces and the
    key names, with a few non-object elements; serialised compact, indented or ASCII-only."""
    rng = random.Random(seed)

    def text() -> str:
        return "".join(rng.choice(_ALPHABET) for _ in range(rng.randint(0, 12)))

    def value(depth: int = 0) -> Any:
        r = rng.random()
        if depth > 3 or r < 0.3:
            return rng.choice([text(), rng.randint(-5, 5), 1.5, None, True])
        if r < 0.6:
            return [value(depth + 1) for _ in range(rng.randint(0, 3))]
        return {text(): value(depth + 1) for _ in range(rng.randint(0, 3))}

    def element() -> Any:
        if rng.random() < 0.03:
            return value()
        return {"SOPInstanceUID": text(), "dicomTags": value(), "annotations": value()}

    out = []
    for k in range(n):
        key = rng.choice(["dicomMetadata", "annotations"])
        doc = {
            "name": text(),
            "labelGroups": [{"annotations": value(), "x": value()}],
            "datasets": [
                {"id": text(), key: [element() for _ in range(rng.randint(0, 5))], "x": value()}
                for _ in range(rng.randint(1, 3))
            ],
        }
        if rng.random() < 0.1:
            doc["datasets"].append(value())
        if k % 3 == 0:
            raw = orjson.dumps(doc)
        else:
            raw = json.dumps(doc, ensure_ascii=k % 2 == 0, indent=1 if k % 4 else None).encode()
        out.append((raw, key, doc))
    return out


def test_split_documents_equal_a_whole_parse():
    split = 0
    for raw, key, doc in _documents(600, seed=3):
        got = jsonscan.split_document(raw, key.encode(), 254)
        if got is not None:
            split += 1
            assert plain(got) == doc
            assert all(
                isinstance(d[key], jsonscan.LazyArray)
                for d in got["datasets"]
                if isinstance(d, dict) and key in d
            )
    assert split > 450, "too few documents took the element-by-element path"


@pytest.mark.parametrize("chunk", [1, 7, 64, 4096])
def test_the_scan_does_not_depend_on_the_chunk_size(chunk):
    for raw, _, _ in _documents(150, seed=chunk):
        whole = jsonscan.Structure(raw, 5, chunk=1 << 20)
        part = jsonscan.Structure(raw, 5, chunk=chunk)
        assert np.array_equal(whole.pos, part.pos) and np.array_equal(whole.depth, part.depth)
        assert whole.deepest == part.deepest and whole.balanced and part.balanced


def test_backslash_runs_across_chunk_edges():
    """A string ending in an even run of backslashes is closed; an odd run escapes the quote."""
    for n in range(0, 9):
        doc = {"datasets": [{"annotations": [{"s": "\\" * n + '"}]', "t": "\\" * n}]}]}
        raw = orjson.dumps(doc)
        for chunk in range(1, 12):
            st = jsonscan.Structure(raw, 5, chunk=chunk)
            assert st.balanced and st.deepest == 5
        assert plain(jsonscan.split_document(raw, b"annotations", 254)) == doc


@pytest.mark.parametrize(
    "raw",
    [
        b'{"datasets": [{"annotations": [{"a": 1}, 3]}]}',  # an element that is not an object
        b'{"datasets": [{"annotations": [{"a": 1}, [2]]}]}',
        b'{"datasets": [{"annotations": [{"a": NaN}]}], "x": NaN}',  # NaN outside the arrays
        b'{"datasets": [{"annotations": []}], "datasets": [{"annotations": []}]}',
        b'{"datasets": [{"annotations": [{"a": 1}], "annotations": [{"b": 2}]}]}',
        b'[{"datasets": []}]',
        b'{"datasets": [{"annotations": [{"a": 1}]}]',  # unbalanced
        b'{"datasets": [{"annotations": [{"a": ' + b"[" * 300 + b"]" * 300 + b"}]}]}",
        b'{"datasets": [{"annotations": [{"a": 1}]}], "x": tru}',  # invalid outside
    ],
)
def test_anything_but_the_plain_case_is_left_to_a_whole_parse(raw):
    assert jsonscan.split_document(raw, b"annotations", 254) is None


def test_an_escaped_key_is_not_taken_for_the_array():
    raw = b'{"datasets": [{"x\\"annotations": [{"a": 1}], "annotations": [{"b": 2}]}]}'
    doc = jsonscan.split_document(raw, b"annotations", 254)
    assert doc is not None and plain(doc) == orjson.loads(raw)
    assert doc["datasets"][0]['x"annotations'] == [{"a": 1}]


def test_nan_and_huge_integers_inside_an_element_read_as_a_whole_parse_would():
    raw = b'{"datasets": [{"annotations": [{"a": NaN, "b": 18446744073709551616, "c": 7}]}]}'
    doc = jsonscan.split_document(raw, b"annotations", 254)
    (element,) = doc["datasets"][0]["annotations"]
    assert element["a"] != element["a"] and element["b"] == float(2**64) and element["c"] == 7


def test_an_invalid_element_is_an_input_format_error_naming_the_file(tmp_path):
    ann, meta = make_exports(seed=2, ct_series=1, ct_slices=3)
    raw = orjson.dumps(ann).replace(b'"createdById":', b'"createdById":+', 1)
    a = tmp_path / "a.json"
    a.write_bytes(raw)
    m = tmp_path / "m.json"
    m.write_bytes(orjson.dumps(meta))
    with pytest.raises(InputFormatError, match=r"annotation file .*a\.json is not valid JSON at"):
        build_index(load_annotations(a), load_metadata(m))


# --------------------------------------------------------------------------- files


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    return write_exports(tmp_path_factory.mktemp("load"), name="load", seed=11, ct_slices=6)


def test_a_file_is_read_element_by_element_with_the_same_index(export):
    a, m = export
    lazy_a, lazy_m = load_annotations(a), load_metadata(m)
    assert isinstance(lazy_a["datasets"][0]["annotations"], jsonscan.LazyArray)
    assert isinstance(lazy_m["datasets"][0]["dicomMetadata"], jsonscan.LazyArray)
    whole_a, whole_m = orjson.loads(a.read_bytes()), orjson.loads(m.read_bytes())
    lazy, whole = build_index(lazy_a, lazy_m), build_index(whole_a, whole_m)
    assert lazy.counts == whole.counts and lazy.warnings == whole.warnings
    assert [s.detail for s in lazy.skips] == [s.detail for s in whole.skips]
    assert lazy.instances.keys() == whole.instances.keys()
    for uid, inst in lazy.instances.items():
        assert inst.header is None and inst.tags == whole.instances[uid].tags
        assert inst.sop_class_uid == whole.instances[uid].sop_class_uid
    for name in ("ids", "label_ids", "sop_uids", "frames", "annotators", "times", "parents"):
        assert getattr(lazy.annotations, name) == getattr(whole.annotations, name)


def _digests(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.dcm"))
    }


@pytest.mark.parametrize("export_fn", [export_seg, export_sr], ids=["SEG", "SR"])
def test_files_and_parsed_dicts_give_the_same_bytes(export, export_fn, tmp_path):
    a, m = export
    from_files = export_fn(a, m, tmp_path / "files", n_jobs=1)
    from_dicts = export_fn(
        orjson.loads(a.read_bytes()), orjson.loads(m.read_bytes()), tmp_path / "dicts", n_jobs=1
    )
    assert from_files.files and _digests(tmp_path / "files") == _digests(tmp_path / "dicts")
    assert from_files.exit_code == from_dicts.exit_code


def test_a_metadata_file_cut_short_during_the_run_is_reported(export, tmp_path):
    a, m = export
    copy = tmp_path / "m.json"
    copy.write_bytes(m.read_bytes())
    index = build_index(load_annotations(a), load_metadata(copy))
    with open(copy, "r+b") as f:
        f.truncate(100)
    inst = next(iter(index.instances.values()))
    with pytest.raises(InputFormatError, match="truncated while it was being read"):
        _ = inst.tags


def test_a_pipe_is_read_too(export, tmp_path):
    """``-m <(zcat meta.json.gz)``: a file that cannot be read by position is read whole."""
    a, m = export
    fifo = tmp_path / "meta.fifo"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: fifo.write_bytes(m.read_bytes()))
    writer.start()
    try:
        meta = load_metadata(fifo)
    finally:
        writer.join()
    index = build_index(load_annotations(a), meta)
    assert index.counts == build_index(load_annotations(a), load_metadata(m)).counts


PROBE = r"""
import sys
def status(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1]) * 1024
from mdai_fastexport.index import build_index
from mdai_fastexport.load import load_annotations, load_metadata
base = status("VmRSS")
index = build_index(load_annotations(sys.argv[1]), load_metadata(sys.argv[2]))
print(status("VmHWM") - base, index.counts["annotations"])
"""


def test_peak_memory_of_load_and_index_stays_below_the_size_of_the_json(tmp_path):
    """Peak RSS of load + index on a ~17 MB export: about 0.6x the JSON on disk (issue 8's
    target: 2x; a whole parse takes 5.5x, benchmarks/memory.py). Bounded by 1x, which a
    loader that holds the file's bytes would exceed."""
    a, m = write_exports(
        tmp_path, name="mem", seed=5, ct_studies=8, ct_series=4, ct_slices=60,
        annotations_per_slice=3, ct_size=(512, 512),
    )  # fmt: skip
    size = a.stat().st_size + m.stat().st_size
    assert size > 15e6
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(a), str(m)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    peak, annotations = int(out[0]), int(out[1])
    assert annotations > 5000
    assert peak <= size, f"peak {peak / 1e6:.1f} MB for {size / 1e6:.1f} MB of JSON"
