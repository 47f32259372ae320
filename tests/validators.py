"""Run the DICOM validators the project's conformance floor is defined by.

* ``dciodvfy -new`` (dicom3tools): IOD/module/attribute checks; lines starting
  with ``Error`` are errors.
* ``dsrdump -Ph`` (dcmtk): SR tree parse; ``E:``/``F:`` lines on stderr are
  errors and the exit code is non-zero.

Parsing follows ``shared/tools/dicom-validate/validate.py`` (calibrated harness).
Tests that use these are marked ``validators``; when the tools are missing they
fail on CI (CI=true) and skip elsewhere.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest


def require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        msg = f"{tool} not installed (apt-get install dicom3tools dcmtk; see .ci/run)"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    return path


def dciodvfy_errors(path: Path) -> list[str]:
    """Error lines of ``dciodvfy -new`` for one file."""
    exe = require("dciodvfy")
    proc = subprocess.run([exe, "-new", str(path)], capture_output=True, text=True, timeout=300)
    lines = (proc.stdout + "\n" + proc.stderr).splitlines()
    errors = [ln.rstrip() for ln in lines if ln.startswith("Error")]
    if proc.returncode not in (0, 1) or (proc.returncode == 1 and not errors):
        errors.append(f"ToolFailure: dciodvfy rc={proc.returncode} {proc.stderr.strip()[-300:]}")
    return errors


def dsrdump_errors(path: Path) -> list[str]:
    """Error lines of ``dsrdump -Ph`` for one SR file."""
    exe = require("dsrdump")
    proc = subprocess.run([exe, "-Ph", str(path)], capture_output=True, text=True, timeout=300)
    errors = [ln.rstrip() for ln in proc.stderr.splitlines() if ln.startswith(("E:", "F:"))]
    if proc.returncode != 0 and not errors:
        errors.append(f"ToolFailure: dsrdump rc={proc.returncode}")
    return errors


def dcentvfy_errors(paths: list[Path]) -> list[str]:
    """Entity-consistency errors (``dcentvfy``) across several files."""
    exe = require("dcentvfy")
    proc = subprocess.run([exe, *map(str, paths)], capture_output=True, text=True, timeout=300)
    lines = (proc.stdout + "\n" + proc.stderr).splitlines()
    return [ln.rstrip() for ln in lines if ln.startswith("Error")]
