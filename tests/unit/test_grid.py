"""The MGRS grid drawn on the position map (mvq/grid.py, web/position_map.py): every line
lies where its number says, lines of neighbouring zones meet on the zone boundary, squares
are named as the grid references shown beside the map name them."""

import json

import mgrs
import pytest

from mvq import grid
from web.position_map import from_claim, grid_for, levels_for

CONVERT = mgrs.MGRS()
KYIV, ZAPORIZHZHIA = (50.45, 30.52), (47.84, 35.14)


def reference(lat: float, lon: float) -> str:
    raw = CONVERT.toMGRS(lat, lon, MGRSPrecision=5)
    return raw.decode() if isinstance(raw, bytes) else str(raw)


@pytest.mark.parametrize("step", [1_000, 10_000])
def test_every_line_lies_on_the_easting_or_northing_its_number_says(step: int) -> None:
    found = grid.level(*grid.around([ZAPORIZHZHIA], 4 * step), step)
    assert {line.axis for line in found.lines} == {"e", "n"}
    for line in found.lines:
        for lat, lon in line.points[1:-1]:  # the ends may be cut at a zone edge
            digits = reference(lat, lon)[-10:]
            metres = int(digits[:5] if line.axis == "e" else digits[5:])
            # Within a metre of the line (the reference truncates to the metre).
            off = (metres - int(line.label) * 1000) % step
            assert min(off, step - off) <= 1, (line.label, lat, lon, reference(lat, lon))


def test_a_1_km_level_spans_the_box_with_a_line_each_kilometre() -> None:
    found = grid.level(*grid.around([KYIV], 4_000), 1_000)
    eastings = sorted(int(line.label) for line in found.lines if line.axis == "e")
    assert len(eastings) >= 8
    assert eastings == list(range(eastings[0], eastings[0] + len(eastings)))


def test_lines_of_two_zones_meet_on_the_boundary_meridian() -> None:
    # 36° E parts zones 36 and 37, east of Zaporizhzhia.
    found = grid.level(*grid.around([(48.0, 36.0)], 20_000), 10_000)
    ends = [
        p for line in found.lines if line.axis == "n" for p in (line.points[0], line.points[-1])
    ]
    on_boundary = [p for p in ends if p[1] == 36.0]
    assert len(on_boundary) >= 4  # each northing line ends there, from both sides
    for line in found.lines:
        lons = [p[1] for p in line.points]
        assert max(lons) <= 36.0 or min(lons) >= 36.0  # no line crosses into the next zone


def test_100_km_squares_are_named_as_references_name_them() -> None:
    found = grid.level(*grid.around([ZAPORIZHZHIA], 300_000), 100_000)
    names = {square.label for square in found.squares}
    # XU straddles 48° N: named apart on each side, as the references in it read.
    assert {"36T XU", "36U XU"} <= names
    assert reference(*ZAPORIZHZHIA).startswith("36TXU")
    for square in found.squares:
        zone_band, letters = square.label.split()
        assert reference(*square.at)[: len(zone_band) + 2] == zone_band + letters
    assert all(line.label == "" for line in found.lines)  # squares, not margin numbers
    assert any(line.axis == "band" and line.points[0][0] == 48.0 for line in found.lines)


def test_finer_levels_only_for_places_close_enough_to_show_them() -> None:
    assert [step for step, _ in levels_for(3.0)] == [100_000, 10_000, 1_000]
    assert [step for step, _ in levels_for(60.0)] == [100_000, 10_000]
    assert [step for step, _ in levels_for(500.0)] == [100_000]
    # The reach grows with the spread, so every place is inside each level it gets.
    assert dict(levels_for(15.0))[1_000] == 15_000


def test_the_levels_sent_surround_the_places_and_are_shared_nearby() -> None:
    here = [Place("claimed", *ZAPORIZHZHIA), Place("file", 47.86, 35.17)]
    sent = json.loads(grid_for(here))
    assert [level["step"] for level in sent] == [100_000, 10_000, 1_000]
    fine = sent[-1]
    lats = [p[0] for line in fine["lines"] for p in line["points"]]
    lons = [p[1] for line in fine["lines"] for p in line["points"]]
    # Four kilometres at least on every side of the places.
    assert min(lats) < 47.84 - 0.035 and max(lats) > 47.86 + 0.035
    assert min(lons) < 35.14 - 0.05 and max(lons) > 35.17 + 0.05
    # A claim a few hundred metres away draws the very same grid (from the cache).
    near = [Place("claimed", 47.842, 35.143), Place("file", 47.861, 35.171)]
    assert grid_for(near) == grid_for(here)


class Place:
    def __init__(self, source: str, lat: float, lon: float) -> None:
        self.source, self.lat, self.lon = source, lat, lon


@pytest.mark.parametrize(("to", "towards"), [
    ((47.86, 35.14), "n"), ((47.86, 35.17), "ne"), ((47.84, 35.20), "e"),
    ((47.80, 35.14), "s"), ((47.82, 35.11), "sw"), ((47.84, 35.00), "w"),
])  # fmt: skip
def test_where_a_place_lies_from_the_claim(to: tuple[float, float], towards: str) -> None:
    claimed = Place("claimed", *ZAPORIZHZHIA)
    away = from_claim(claimed, Place("file", *to))
    assert away is not None and away["towards"] == towards
    assert from_claim(claimed, claimed) is None
    assert from_claim(None, Place("file", *to)) is None
