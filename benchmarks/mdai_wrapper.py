"""Run the ``mdai`` package's own DICOM SEG / SR exporter (PyPI ``mdai==0.16.0``) offline.

``mdai.utils.dicom_utils.SegExport`` / ``SrExport`` (subclasses of
``DicomExport``) do their whole export in the constructor. Three things in it
need handling before its time means anything:

1. **Download.** ``DicomExport.dicom_standards_setups`` fetches three innolitics
   dicom-standard tables (``ciod_to_modules.json``, ``module_to_attributes.json``,
   ``attributes.json``) with ``requests.get(url).text`` on every construction.
   :func:`patch_download` replaces only the ``requests`` name *inside*
   ``mdai.utils.dicom_utils`` with a stand-in whose ``get`` returns the same
   files from the PyPI package ``dicom-standard==0.1.0`` (installed under
   ``<prefix>/standard/``). Nothing else is changed; reading and parsing the
   tables stays inside the timed construction, as it would with the network.
2. **Row reuse.** ``SegExport.img_insert`` is applied with
   ``DataFrame.apply(axis=1)`` and keeps ``self.prev_annot = row`` to merge
   consecutive annotations of the same label on the same image. Current pandas
   passes the *same* Series object for every row (its values overwritten in
   place), so ``prev_annot`` always equals the current row and every annotation
   of a file after the first is OR-ed into one frame: the exporter skips most of
   the work it means to do. :func:`patch_row_reuse` keeps a copy of the three
   fields the comparison reads, so it merges only what it intends to.
3. **Paths.** It opens ``os.getcwd() + "/" + path`` and writes under
   ``os.getcwd()/<output_dir>``, so it is run inside its own working directory
   with relative paths.

Run as ``python mdai_wrapper.py {seg|sr} ANNOTATIONS METADATA OUT_DIR [--as-shipped]``
for a manual check; the benchmark calls :func:`run_mdai` from its worker.
"""

from __future__ import annotations

import argparse
import os
import sys
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from typing import Any

#: The files ``DicomExport.dicom_standards_setups`` downloads (URL basenames).
STANDARD_FILES = ("ciod_to_modules.json", "module_to_attributes.json", "attributes.json")


def standard_tables() -> dict[str, Path]:
    """Locate the dicom-standard JSON tables shipped by PyPI ``dicom-standard``.

    Raises:
        FileNotFoundError: the package is not installed or lacks a table.
    """
    try:
        files = distribution("dicom-standard").files or []
    except PackageNotFoundError as exc:
        raise FileNotFoundError("pip install dicom-standard==0.1.0 (the bench extra)") from exc
    found = {f.name: Path(str(f.locate())) for f in files if f.name in STANDARD_FILES}
    missing = [n for n in STANDARD_FILES if n not in found or not found[n].is_file()]
    if missing:
        raise FileNotFoundError(f"dicom-standard lacks {', '.join(missing)}")
    return found


class _Response:
    """The part of ``requests.Response`` that ``dicom_standards_setups`` reads."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.status_code = 200


class OfflineRequests:
    """Stand-in for the ``requests`` module as seen by ``mdai.utils.dicom_utils``.

    ``get(url)`` serves a dicom-standard table by the URL's basename and refuses
    anything else, so no network access can happen unnoticed.
    """

    def __init__(self, tables: dict[str, Path]) -> None:
        self.tables = tables
        self.served: list[str] = []

    def get(self, url: str, *args: Any, **kwargs: Any) -> _Response:
        """Return the local copy of ``url``'s table."""
        name = url.rsplit("/", 1)[-1]
        if "innolitics/dicom-standard" not in url or name not in self.tables:
            raise RuntimeError(f"unexpected download in the mdai exporter: {url}")
        self.served.append(name)
        return _Response(self.tables[name].read_text(encoding="utf-8"))


def patch_download(dicom_utils: Any) -> OfflineRequests:
    """Replace ``requests`` inside ``mdai.utils.dicom_utils`` (only there)."""
    fake = OfflineRequests(standard_tables())
    dicom_utils.requests = fake
    return fake


class Counter:
    """Annotations handed to ``SegExport.img_insert`` (rows with geometry)."""

    def __init__(self) -> None:
        self.rows = 0
        self.rows_with_data = 0


def patch_row_reuse(dicom_utils: Any, fix: bool, counter: Counter) -> None:
    """Wrap ``SegExport.img_insert``: count its rows and, if ``fix``, keep a copy of
    the previous row's merge key instead of the (reused) row object itself."""
    seg_export = dicom_utils.SegExport
    original = seg_export.img_insert

    def img_insert(self: Any, row: Any, ds: Any) -> None:
        counter.rows += 1
        if row["data"] is not None:
            counter.rows_with_data += 1
        original(self, row, ds)
        if fix and self.prev_annot is row:
            self.prev_annot = {
                "labelId": row["labelId"],
                "labelGroupName": row["labelGroupName"],
                "instanceNumber": row["instanceNumber"],
            }

    seg_export.img_insert = img_insert


def load_mdai(fix_rows: bool = True) -> tuple[Any, Counter, OfflineRequests]:
    """Import the exporter and apply the patches; return (module, counter, fake requests)."""
    from mdai.utils import dicom_utils

    fake = patch_download(dicom_utils)
    counter = Counter()
    patch_row_reuse(dicom_utils, fix_rows, counter)
    return dicom_utils, counter, fake


def run_mdai(
    dicom_utils: Any,
    kind: str,
    annotations: Path,
    metadata: Path,
    workdir: Path,
    out_name: str = "out",
) -> Path:
    """Run ``SegExport`` (``kind="SEG"``) or ``SrExport`` (``"SR"``) with the working
    directory set to ``workdir``; return the output folder."""
    workdir.mkdir(parents=True, exist_ok=True)
    cls = {"SEG": dicom_utils.SegExport, "SR": dicom_utils.SrExport}[kind]
    cwd = os.getcwd()
    os.chdir(workdir)
    try:
        cls(
            os.path.relpath(annotations, workdir),
            os.path.relpath(metadata, workdir),
            True,  # combine_label_groups, as export_seg's default
            out_name,
        )
    finally:
        os.chdir(cwd)
    return workdir / out_name


def main(argv: list[str] | None = None) -> int:
    """Command line for a manual run."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("kind", choices=["seg", "sr"])
    p.add_argument("annotations", type=Path)
    p.add_argument("metadata", type=Path)
    p.add_argument("workdir", type=Path)
    p.add_argument("--as-shipped", action="store_true", help="do not fix the row reuse")
    args = p.parse_args(argv)
    dicom_utils, counter, fake = load_mdai(fix_rows=not args.as_shipped)
    out = run_mdai(
        dicom_utils,
        args.kind.upper(),
        args.annotations.resolve(),
        args.metadata.resolve(),
        args.workdir,
    )
    print(
        f"wrote {len(list(out.glob('*.dcm')))} files to {out}; served {fake.served}; "
        f"img_insert rows: {counter.rows} ({counter.rows_with_data} with geometry)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
