"""The MGRS grid drawn over the position map: its lines as (lat, lon) polylines with the
numbers a reader finds on a map sheet's margin, and its 100 km squares with their names.

Computed here, not in the browser: the same converter (`mgrs`, GeoTrans's C code) already
reads the grid references units type and drones burn into the picture (mvq/geo.py), so the
lines drawn can never disagree with the references shown beside them, and the page loads no
second projection library."""

import itertools
import math
from dataclasses import dataclass, field

import mgrs  # type: ignore[import-untyped]  # ships no type information

_GRID = mgrs.MGRS()
_METRES_PER_DEGREE = 111_320.0
_SAMPLES = 8  # segments per line: UTM lines bend little over a few cells
# Over the few tens of km the 1 and 10 km lines span, half as many segments draw them within
# a pixel, at half the conversions (each ~15 µs in GeoTrans).
_FINE_SAMPLES = 4


@dataclass
class Line:
    # "e": of equal easting (runs north); "n": of equal northing (runs east); "band": a
    # latitude band's edge
    axis: str
    label: str  # kilometres within the 100 km square, as a sheet's margin prints them: "55"
    points: list[tuple[float, float]]  # (lat, lon)


@dataclass
class Square:
    label: str  # "36U VA"
    at: tuple[float, float]  # its middle, (lat, lon)


@dataclass
class Level:
    step: int  # metres between lines
    lines: list[Line] = field(default_factory=list)
    squares: list[Square] = field(default_factory=list)


def _utm(lat: float, lon: float) -> tuple[int, str, float, float]:
    zone, hemisphere, easting, northing = _GRID.MGRSToUTM(_GRID.toMGRS(lat, lon))
    return int(zone), str(hemisphere), float(easting), float(northing)


def _latlon(
    zone: int, hemisphere: str, easting: float, northing: float, precision: int = 5
) -> tuple[float, float] | None:
    try:
        lat, lon = _GRID.toLatLon(_GRID.UTMToMGRS(zone, hemisphere, easting, northing, precision))
    except Exception:  # the C library's range errors: a point beyond the zone's reach
        return None
    return float(lat), float(lon)


def _clip_to_zone(
    points: list[tuple[float, float]], west: float, east: float
) -> list[tuple[float, float]]:
    """The part of a north- or east-running polyline between two meridians, its ends moved
    onto them, so lines of neighbouring zones meet at the zone boundary."""
    out: list[tuple[float, float]] = []
    for i, (lat, lon) in enumerate(points):
        inside = west <= lon <= east
        if i and (inside != (west <= points[i - 1][1] <= east)):
            plat, plon = points[i - 1]
            edge = west if min(lon, plon) < west else east
            t = (edge - plon) / (lon - plon)
            out.append((round(plat + t * (lat - plat), 6), edge))
        if inside:
            out.append((round(lat, 6), round(lon, 6)))
    return out


def _zones(west: float, east: float) -> list[tuple[int, float, float]]:
    """The UTM zones the box spans, each with its part of the box's longitudes."""
    first, last = int((west + 180) // 6) + 1, int((east + 180) // 6) + 1
    out = []
    for zone in range(first, min(last, 60) + 1):
        lo, hi = -180 + 6 * (zone - 1), -174 + 6 * (zone - 1)
        out.append((zone, max(lo, west), min(hi, east)))
    return out


def _line(
    zone: int, hemisphere: str, axis: str, fixed: int, start: float, stop: float
) -> list[tuple[float, float]]:
    """Points along one line of equal easting ("e") or northing ("n"), `start` to `stop` on
    the other coordinate."""
    samples = _SAMPLES if abs(stop - start) > 300_000 else _FINE_SAMPLES
    along = [start + (stop - start) * i / samples for i in range(samples + 1)]
    pairs = [(fixed, s) if axis == "e" else (s, fixed) for s in along]
    return [p for p in (_latlon(zone, hemisphere, e, n) for e, n in pairs) if p]


def level(south: float, west: float, north: float, east: float, step: int) -> Level:
    """Every grid line of `step` metres (1 000, 10 000 or 100 000) crossing the box, per UTM
    zone; at 100 km, also each square's name at its middle. Latitudes 0-84° N only: the
    region this project serves (a southern box would need the other hemisphere's bands)."""
    found = Level(step)
    for zone, lo, hi in _zones(west, east):
        edge = 1e-7  # inside the zone, so the corners convert in this zone, not the next
        lats = [south + (north - south) * i / _SAMPLES for i in range(_SAMPLES + 1)]
        rim = [_utm(lat, lon) for lat in lats for lon in (lo + edge, (lo + hi) / 2, hi - edge)]
        hemisphere = rim[0][1]
        e_min, e_max = min(r[2] for r in rim), max(r[2] for r in rim)
        n_min, n_max = min(r[3] for r in rim), max(r[3] for r in rim)
        eastings = range(math.ceil(e_min / step) * step, int(e_max) + 1, step)
        northings = range(math.ceil(n_min / step) * step, int(n_max) + 1, step)

        for axis, fixed, start, stop in [
            *(("e", e, n_min, n_max) for e in eastings),
            *(("n", n, e_min, e_max) for n in northings),
        ]:
            points = _line(zone, hemisphere, axis, fixed, start, stop)
            points = _clip_to_zone(points, lo, hi)
            if len(points) >= 2:
                label = f"{fixed % 100_000 // 1000:02d}" if step < 100_000 else ""
                found.lines.append(Line(axis, label, points))
        if step == 100_000:
            found.squares += _squares(zone, hemisphere, lo, hi, south, north, eastings, northings)
    if step == 100_000:
        found.lines += _band_edges(south, west, north, east)
    return found


def _squares(
    zone: int,
    hemisphere: str,
    west: float,
    east: float,
    south: float,
    north: float,
    eastings: range,
    northings: range,
) -> list[Square]:
    """Each 100 km square's name at its middle; a square that a latitude band's edge (every
    8°) crosses is two cells of the grid, named apart ("36T XU" below 48° N, "36U XU" above),
    as the references in them read."""
    out = []
    for e in range(eastings.start - 100_000, eastings.stop, 100_000):
        for n in range(northings.start - 100_000, northings.stop, 100_000):
            ends = [_latlon(zone, hemisphere, e + 50_000, n + k) for k in (0, 100_000)]
            if None in ends:
                continue
            (bottom, lon_b), (top, lon_t) = ends  # type: ignore[misc]
            edges = [bottom, *(b for b in range(-80, 85, 8) if bottom < b < top), top]
            for lo, hi in itertools.pairwise(edges):
                lat = (lo + hi) / 2
                lon = lon_b + (lon_t - lon_b) * (lat - bottom) / (top - bottom)
                if west <= lon <= east and south <= lat <= north:
                    name = str(_GRID.toMGRS(lat, lon, MGRSPrecision=0))
                    out.append(Square(f"{name[:-2]} {name[-2:]}", (round(lat, 6), round(lon, 6))))
    return out


def _band_edges(south: float, west: float, north: float, east: float) -> list[Line]:
    """The parallels every 8° where the latitude band (the letter after the zone) changes."""
    return [
        Line(
            "band",
            "",
            [(float(lat), west + (east - west) * i / _SAMPLES) for i in range(_SAMPLES + 1)],
        )
        for lat in range(-80, 85, 8)
        if south < lat < north
    ]


def around(points: list[tuple[float, float]], pad_m: float) -> tuple[float, float, float, float]:
    """(south, west, north, east) of the points, widened by `pad_m` metres on every side."""
    lats, lons = [p[0] for p in points], [p[1] for p in points]
    middle = math.radians((min(lats) + max(lats)) / 2)
    dlat = pad_m / _METRES_PER_DEGREE
    dlon = pad_m / (_METRES_PER_DEGREE * max(math.cos(middle), 0.01))
    return (
        max(min(lats) - dlat, 0.0),
        min(lons) - dlon,
        min(max(lats) + dlat, 84.0),
        max(lons) + dlon,
    )


_POINTS = ("n", "ne", "e", "se", "s", "sw", "w", "nw")


def compass_point(origin: tuple[float, float], to: tuple[float, float]) -> str:
    """Which of the eight compass points `to` lies towards, seen from `origin` (lat, lon):
    the initial great-circle bearing, rounded to 45°."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*origin, *to))
    y = math.sin(lon2 - lon1) * math.cos(lat2)
    x = math.cos(lat1) * math.sin(lat2) - math.sin(lat1) * math.cos(lat2) * math.cos(lon2 - lon1)
    bearing = math.degrees(math.atan2(y, x)) % 360
    return _POINTS[round(bearing / 45) % 8]
