"""What the position map partial (templates/_map.html) draws besides the places: the MGRS
grid for the view around them, and where each place lies from the claim.

The 100 km squares (and their names) reach far enough to pan around the region; the 10 and
1 km lines (numbered as a sheet's margin is) cover the places and a few cells around them."""

import functools
import json
import math
from dataclasses import asdict
from typing import Any, Protocol

from mvq import grid
from mvq.media.flags import distance_km

# Metres of grid step per degree of a cache cell (_level).
_SNAP = 50_000
# Each level: its spacing, how far around the places it reaches (at least), and up to which
# spread of the places it is worth sending (beyond that the map opens too far out to show it).
_LEVELS = ((100_000, 300_000, None), (10_000, 40_000, 200.0), (1_000, 4_000, 20.0))


class Place(Protocol):
    source: str
    lat: float
    lon: float


def levels_for(span_km: float) -> list[tuple[int, float]]:
    """(spacing, reach in metres) of each grid level worth drawing for places `span_km` apart:
    the map shows each while its lines are far enough apart on screen (static/map.js)."""
    return [
        (step, max(reach, span_km * 1000))
        for step, reach, most in _LEVELS
        if most is None or span_km < most
    ]


def grid_for(places: list[Place]) -> str:
    """The grid levels as JSON, for the map's data-grid attribute (autoescaped there)."""
    points = [(p.lat, p.lon) for p in places]
    if not points:
        return "[]"
    south, west, north, east = grid.around(points, 0)
    span = distance_km((south, west), (north, east))
    levels = [_level(grid.around(points, reach), step) for step, reach in levels_for(span)]
    return json.dumps(levels, separators=(",", ":"))


@functools.lru_cache(maxsize=256)
def _snapped(cells: tuple[int, int, int, int], step: int) -> dict[str, Any]:
    size = step / _SNAP
    south, west, north, east = (c * size for c in cells)
    return asdict(grid.level(south, west, north, east, step))


def _level(box: tuple[float, float, float, float], step: int) -> dict[str, Any]:
    """One level, for the box widened to a whole number of cells of a size that grows with
    the step (0.02° at 1 km, 2° at 100 km): the claims of one area share it, so a reviewer
    moving through the queue mostly gets it from the cache, not from GeoTrans again."""
    size = step / _SNAP
    south, west, north, east = box
    cells = (math.floor(south / size), math.floor(west / size),
             math.ceil(north / size), math.ceil(east / size))  # fmt: skip
    return _snapped(cells, step)


def from_claim(claimed: Place | None, place: Place) -> dict[str, Any] | None:
    """How far `place` lies from the claimed position, and towards which compass point."""
    if claimed is None or place is claimed:
        return None
    a, b = (claimed.lat, claimed.lon), (place.lat, place.lon)
    return {"km": distance_km(a, b), "towards": grid.compass_point(a, b)}
