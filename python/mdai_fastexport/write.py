"""Step 6 of the data path: write files atomically inside the output folder.

A file is streamed chunk by chunk to a temporary name in the destination
folder (``.<name>.<random>.tmp``), flushed, made world-readable (0644, so a
PACS import service can read it) and renamed into place: a crash, a full disk
or a kill never leaves a half-written ``.dcm`` under its final name. File
names come from :func:`codes.safe_name` parts and are checked once more here:
nothing can land outside the output folder.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

FILE_MODE = 0o644


def resolve_inside(out_dir: Path, filename: str) -> Path:
    """``out_dir / filename``, refusing names that would leave ``out_dir``.

    Raises:
        ValueError: ``filename`` has a path separator or a NUL, is ``.``/``..``, hidden or
            empty.
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
    # the folder is resolved, the name is not: a symlink already in the folder under an
    # output's name is replaced by the file (a rename does not follow it), never written
    # through to wherever it points
    return out_dir.resolve() / filename


def write_chunks(out_dir: Path, filename: str, chunks: Iterable[bytes | memoryview]) -> Path:
    """Write ``chunks`` to ``out_dir/filename`` atomically (temp name, then rename).

    Raises:
        OSError: the write failed (disk full, permissions, ...); nothing is left behind.
        ValueError: unsafe file name.
    """
    target = resolve_inside(out_dir, filename)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    tmp_path = Path(tmp)
    try:
        with os.fdopen(fd, "wb") as fp:
            for chunk in chunks:
                fp.write(chunk)
        os.chmod(tmp_path, FILE_MODE)
        os.replace(tmp_path, target)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    return target


def write_bytes(data: bytes, out_dir: Path, filename: str) -> Path:
    """Write ``data`` to ``out_dir/filename``, atomically."""
    return write_chunks(out_dir, filename, (data,))
