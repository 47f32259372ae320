"""Label colours: MD.ai hex RGB → DICOM CIELab (RecommendedDisplayCIELabValue)."""

from __future__ import annotations

import re

from highdicom.color import CIELabColor

_HEX = re.compile(r"^#?([0-9a-fA-F]{6})$")
_SHORT_HEX = re.compile(r"^#?([0-9a-fA-F]{3})$")


def hex_to_cielab(color: str | None) -> CIELabColor | None:
    """``"#rrggbb"`` (or ``"#rgb"``) as a CIELab display colour; None when absent/invalid."""
    if not color:
        return None
    m = _HEX.match(color.strip())
    if m:
        h = m.group(1)
    else:
        m = _SHORT_HEX.match(color.strip())
        if not m:
            return None
        h = "".join(c * 2 for c in m.group(1))
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return CIELabColor.from_rgb(r, g, b)
