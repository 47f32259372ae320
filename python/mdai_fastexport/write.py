"""Step 6 of the data path: write files atomically inside the output folder.

A file is written to a temporary name in the destination folder and renamed
into place, so a crash or a full disk never leaves a half-written ``.dcm``
under its final name. File names come from :func:`codes.safe_name` parts and
are checked once more here: nothing can land outside the output folder.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from pydicom import Dataset


def resolve_inside(out_dir: Path, filename: str) -> Path:
    """``out_dir / filename``, refusing names that would leave ``out_dir``.

    Raises:
        ValueError: ``filename`` has a path separator, is ``.``/``..`` or empty.
    """
    if (
        not filename
        or filename in (".", "..")
        or "/" in filename
        or "\\" in filename
        or "\x00" in filename
        or filename.startswith(".")
    ):
        raise ValueError(f"unsafe output file name {filename!r}")
    target = (out_dir / filename).resolve()
    if target.parent != out_dir.resolve():
        raise ValueError(f"output file name {filename!r} escapes {out_dir}")
    return target


def atomic_write(target: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp_path)`` then rename ``tmp_path`` to ``target``; clean up on failure."""
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        write(tmp_path)
        os.replace(tmp_path, target)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def write_dataset(ds: Dataset, out_dir: Path, filename: str) -> Path:
    """Write ``ds`` as a DICOM Part 10 file ``out_dir/filename``, atomically."""
    target = resolve_inside(out_dir, filename)
    atomic_write(target, lambda p: ds.save_as(p, enforce_file_format=True))
    return target


def write_bytes(data: bytes, out_dir: Path, filename: str) -> Path:
    """Write ``data`` to ``out_dir/filename``, atomically."""
    target = resolve_inside(out_dir, filename)
    atomic_write(target, lambda p: p.write_bytes(data))
    return target
