#!/usr/bin/env bash
# Installs the DICOM validators the tests run (dicom3tools: dciodvfy, dcentvfy; dcmtk: dsrdump).
set -euo pipefail
if command -v dciodvfy >/dev/null && command -v dsrdump >/dev/null; then
  exit 0
fi
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends dicom3tools dcmtk >/dev/null
