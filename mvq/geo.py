"""Reading an MGRS grid reference, wherever it was written: typed on the upload page or burned
into a drone's picture. One converter (the `mgrs` package, GeoTrans's C code) serves both, so
the two can never disagree about a grid."""

import re

import mgrs  # type: ignore[import-untyped]  # ships no type information

_GRID = mgrs.MGRS()
# Zone and band, 100 km square, then easting and northing of equal length (1 to 5 digits):
# written apart ("36U XU 55126 74005") or together ("36UXU5512674005"). Digits that run on
# into a number, time or date after them ("... 74005 20.11.2026") are not the northing.
GRID_PATTERN = (r"(\d{1,2}[C-HJ-NP-X])\s*([A-HJ-NP-Z]{2})\s*(\d{1,10})(?!\d)"
                r"(?:\s+(\d{1,5})(?![\d.:]))?")  # fmt: skip


def grid_position(
    zone: str, square: str, first: str, second: str | None
) -> tuple[float, float] | None:
    """The parts GRID_PATTERN found, as (lat, lon) rounded to the metre; None when they do
    not make a grid reference."""
    digits = first + (second or "")
    # Apart, both halves must be as long as each other; together, the digits split evenly.
    if (second is not None and len(first) != len(second)) or len(digits) % 2:
        return None
    try:
        lat, lon = _GRID.toLatLon(f"{zone}{square}{digits}")
    except Exception:  # the C library's own errors: a square that does not exist, and so on
        return None
    return round(float(lat), 6), round(float(lon), 6)


def read_grid(text: str) -> tuple[float, float] | None:
    """The whole of `text` as one grid reference."""
    found = re.fullmatch(GRID_PATTERN, text.strip().upper())
    return grid_position(*found.groups()) if found else None
