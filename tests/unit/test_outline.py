"""The offline map's base layer (web/make_outline.py and the file it made, committed under
web/static/vendor/countries-land-10km-*/): cut to the region, small, Crimea drawn as Ukraine."""

import json
from pathlib import Path

from web.make_outline import CRIMEA, REGION, clip_ring

SHIPPED = Path("web/static/vendor/countries-land-10km-0.6.0/region.geo.json")


def test_a_ring_is_cut_along_the_box_edge() -> None:
    ring = [(10.0, 50.0), (20.0, 50.0), (20.0, 52.0), (10.0, 52.0), (10.0, 50.0)]
    cut = clip_ring(ring, (12.0, 41.0, 46.0, 58.0))
    assert cut[0] == cut[-1]
    assert sorted(set(map(tuple, cut))) == [(12.0, 50.0), (12.0, 52.0), (20.0, 50.0), (20.0, 52.0)]
    assert clip_ring([(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 0.0)]) == []


def test_the_shipped_outline_stays_in_the_region_and_small() -> None:
    assert SHIPPED.stat().st_size < 150_000
    world = json.loads(SHIPPED.read_text())
    west, south, east, north = REGION
    countries = {f["properties"]["A3"] for f in world["features"]}
    assert {"UKR", "POL", "BLR", "MDA", "ROU", "HUN", "SVK", "RUS"} <= countries
    for feature in world["features"]:
        for polygon in feature["geometry"]["coordinates"]:
            for ring in polygon:
                assert all(west <= x <= east and south <= y <= north for x, y in ring)


def test_crimea_is_drawn_once_as_ukraine() -> None:
    world = json.loads(SHIPPED.read_text())
    west, south, east, north = CRIMEA

    def in_crimea(ring: list[list[float]]) -> bool:
        return all(west <= x <= east and south <= y <= north for x, y in ring)

    russia = next(f for f in world["features"] if f["properties"]["A3"] == "RUS")
    assert not any(in_crimea(polygon[0]) for polygon in russia["geometry"]["coordinates"])
