"""The offline map's base layer, made once and committed (web/static/vendor/countries-land-10km-*/):
the country outlines of `@geo-maps/countries-land-10km` cut to Ukraine and its neighbours.

Run by hand after fetching the package (`npm pack @geo-maps/countries-land-10km@0.6.0`):
    python web/make_outline.py package/map.geo.json \
        > web/static/vendor/countries-land-10km-0.6.0/region.geo.json
The whole world is 1 MB; the region is what a reviewer ever looks at, so the page carries only
that. No GIS library: cutting polygons to a rectangle is Sutherland-Hodgman, a few lines, and a
dependency for a one-off would outlive its use."""

import json
import sys
from collections.abc import Callable
from typing import Any

# West, south, east, north: Ukraine (22-40.3° E, 44.3-52.4° N) with Poland, Belarus, Moldova,
# Romania, Hungary, Slovakia, the Baltic states and western Russia around it.
REGION = (12.0, 41.0, 46.0, 58.0)

# The source (OpenStreetMap's borders) draws Crimea twice: within Ukraine and again as a
# polygon of Russia. Drawn twice it would put a border at Perekop; internationally (UN General
# Assembly resolution 68/262) and for this project it is Ukraine, so the second copy is left out.
CRIMEA = (32.3, 44.3, 36.7, 46.3)

Point = tuple[float, float]


def _cut(
    ring: list[Point], inside: Callable[[Point], bool], cross: Callable[[Point, Point], Point]
) -> list[Point]:
    """One Sutherland-Hodgman pass: the ring's part on the inner side of one edge."""
    out: list[Point] = []
    for i, current in enumerate(ring):
        previous = ring[i - 1]
        if inside(current):
            if not inside(previous):
                out.append(cross(previous, current))
            out.append(current)
        elif inside(previous):
            out.append(cross(previous, current))
    return out


def _at_lon(lon: float) -> Callable[[Point, Point], Point]:
    def cross(a: Point, b: Point) -> Point:
        t = (lon - a[0]) / (b[0] - a[0])
        return lon, a[1] + t * (b[1] - a[1])

    return cross


def _at_lat(lat: float) -> Callable[[Point, Point], Point]:
    def cross(a: Point, b: Point) -> Point:
        t = (lat - a[1]) / (b[1] - a[1])
        return a[0] + t * (b[0] - a[0]), lat

    return cross


def clip_ring(
    ring: list[Point], box: tuple[float, float, float, float] = REGION
) -> list[list[float]]:
    """A closed ring cut to the box; [] when nothing of it is inside. Parts of a ring that
    leave and re-enter the box are joined along its edge, which draws as the map's edge."""
    west, south, east, north = box
    open_ring = [(float(x), float(y)) for x, y in ring[:-1]]  # GeoJSON repeats the first point
    for inside, cross in (
        (lambda p: p[0] >= west, _at_lon(west)),
        (lambda p: p[0] <= east, _at_lon(east)),
        (lambda p: p[1] >= south, _at_lat(south)),
        (lambda p: p[1] <= north, _at_lat(north)),
    ):
        open_ring = _cut(open_ring, inside, cross)
        if not open_ring:
            return []
    # Two decimals, as the source has them (about 1 km): the 10 km outline needs no more.
    rounded = [[round(x, 2), round(y, 2)] for x, y in open_ring]
    return [*rounded, rounded[0]] if len(rounded) >= 3 else []


def _within(ring: list[Point], box: tuple[float, float, float, float]) -> bool:
    west, south, east, north = box
    return all(west <= x <= east and south <= y <= north for x, y in ring)


def clip(world: dict[str, Any]) -> dict[str, Any]:
    """The FeatureCollection's countries that reach into the region, cut to it, keyed by
    their ISO 3166 alpha-3 code (the package's only property)."""
    features = []
    for feature in world["features"]:
        geometry = feature["geometry"]
        polygons = geometry["coordinates"]
        if geometry["type"] == "Polygon":
            polygons = [polygons]
        kept: list[list[list[list[float]]]] = []
        for polygon in polygons:
            if feature["properties"]["A3"] == "RUS" and _within(polygon[0], CRIMEA):
                continue
            outer = clip_ring(polygon[0])
            if outer:
                holes = [h for h in (clip_ring(r) for r in polygon[1:]) if h]
                kept.append([outer, *holes])
        if kept:
            features.append(
                {
                    "type": "Feature",
                    "properties": {"A3": feature["properties"]["A3"]},
                    "geometry": {"type": "MultiPolygon", "coordinates": kept},
                }
            )
    return {"type": "FeatureCollection", "bbox": list(REGION), "features": features}


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as source:
        json.dump(clip(json.load(source)), sys.stdout, separators=(",", ":"))
