"""What the position map partial (templates/_map.html) draws besides the places: the MGRS
grid for the view around them, at two levels, and where each place lies from the claim.

The coarse level (100 km squares and their names) reaches far enough to pan around the
region; the fine one (1 or 10 km lines, numbered as a sheet's margin is) covers the places and
a few cells around them, at the spacing that reads at the zoom the map opens at."""

import json
from dataclasses import asdict
from typing import Any, Protocol

from mvq import grid
from mvq.media.flags import distance_km

_COARSE_PAD_M = 300_000


class Place(Protocol):
    source: str
    lat: float
    lon: float


def fine_step(span_km: float) -> int | None:
    """The finer grid's spacing for places `span_km` apart: a few cells between them, never
    hundreds; None when they are so far apart that the 100 km squares say enough."""
    if span_km < 5:
        return 1_000
    if span_km < 50:
        return 10_000
    return None


def grid_for(places: list[Place]) -> str:
    """The grid levels as JSON, for the map's data-grid attribute (autoescaped there)."""
    points = [(p.lat, p.lon) for p in places]
    if not points:
        return "[]"
    south, west, north, east = grid.around(points, 0)
    span = distance_km((south, west), (north, east))
    levels = [grid.level(*grid.around(points, _COARSE_PAD_M), 100_000)]
    step = fine_step(span)
    if step:
        levels.append(grid.level(*grid.around(points, max(span * 1000, 4 * step)), step))
    return json.dumps([asdict(level) for level in levels], separators=(",", ":"))


def from_claim(claimed: Place | None, place: Place) -> dict[str, Any] | None:
    """How far `place` lies from the claimed position, and towards which compass point."""
    if claimed is None or place is claimed:
        return None
    a, b = (claimed.lat, claimed.lon), (place.lat, place.lon)
    return {"km": distance_km(a, b), "towards": grid.compass_point(a, b)}
