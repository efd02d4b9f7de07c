"""Reading a drone's on-screen display: the text layouts, what several stills add up to, and
the flag raised when the picture contradicts the claim."""

from datetime import UTC, date, datetime, time, timedelta

import pytest

from mvq.geo import read_grid
from mvq.media.flags import Claim, OsdRule, capture_time, consistency_flags, position
from mvq.media.ingest.osd import StillText, agree, read, summarise

GRID = "36U XU 55126 74005"
GRID_AT = read_grid(GRID)
RULE = OsdRule(tolerance_minutes=120, tolerance_km=10, clock_offsets_hours=(2, 3, 0))


@pytest.mark.parametrize(("lines", "day", "clock", "offset"), [
    (["2024-05-01 12:34:56"], date(2024, 5, 1), time(12, 34, 56), None),
    (["2024-05-0112:34:56"], date(2024, 5, 1), time(12, 34, 56), None),  # OCR drops spaces
    (["2024/05/01 12:34:56 UTC"], date(2024, 5, 1), time(12, 34, 56), 0),
    (["01.05.2024 12:34:56 UTC+3"], date(2024, 5, 1), time(12, 34, 56), 180),
    (["12:34:56 01.05.2024"], date(2024, 5, 1), time(12, 34, 56), None),
    (["2024-05-01", "12:34:56Z"], date(2024, 5, 1), time(12, 34, 56), 0),  # date, time apart
    (["REC 12:34:56"], None, time(12, 34, 56), None),
    (["2O24-05-01 12:34:56"], date(2024, 5, 1), time(12, 34, 56), None),  # O read for 0
    (["2026-09:0203:16:32"], date(2026, 9, 2), time(3, 16, 32), None),  # small text's colon
    (["2026:09:0203:16:34", "N4B.44836E3637256"], date(2026, 9, 2), time(3, 16, 34), None),
    (["ISO 100 1/500 F2.8 12:34"], None, None, None),  # no seconds: not taken for a clock
    (["2024-13-01 25:61:00"], None, None, None),
])  # fmt: skip
def test_times_with_and_without_a_date(
    lines: list[str], day: date | None, clock: time | None, offset: int | None
) -> None:
    found = read(lines)
    assert (found.day, found.clock, found.utc_offset_minutes) == (day, clock, offset)


@pytest.mark.parametrize(("lines", "where", "form"), [
    (["N 48.51234 E 35.01234"], (48.51234, 35.01234), "decimal"),
    (["N48.51234E35.01234ALT120m"], (48.51234, 35.01234), "decimal"),
    (["S33.86880 W151.20930"], (-33.8688, -151.2093), "decimal"),
    (["48.51234°N 35.01234°E"], (48.51234, 35.01234), "decimal"),
    (["LAT: 48.51234 LON: -35.01234"], (48.51234, -35.01234), "decimal"),
    (["LAT48.51234LON35.01234H85m"], (48.51234, 35.01234), "decimal"),
    (["N4B.44836 E36:37256 ALT 120m"], (48.44836, 36.37256), "decimal"),  # B for 8, : for .
    (["LAT 51.61172 L0N34.03906 H 85m"], (51.61172, 34.03906), "decimal"),  # 0 for O
    (["48.51234, 35.01234"], (48.51234, 35.01234), "decimal"),
    (["-33.8688 151.2093"], (-33.8688, 151.2093), "decimal"),
    ([GRID], GRID_AT, "mgrs"),
    (["36UXU5512674005", "20.11.202610:00:02"], GRID_AT, "mgrs"),
    (["F2.8 1/500 EV+0.3"], None, None),
    (["2026:09:0203:16:34", "N4B.44836E3637256 AIT120m"], None, None),  # no date for a place
    (["N 98.51234 E 35.01234"], None, None),  # no latitude beyond 90
    (["36U XU 5512 74005"], None, None),  # easting and northing of unequal length
    # Degrees, minutes and seconds, as DJI and most consumer overlays write them.
    (["48°30'44.4\"N 35°00'44.4\"E"], (48.5123333, 35.0123333), "dms"),
    (["N48°30'44.4\" E35°00'44.4\""], (48.5123333, 35.0123333), "dms"),
    # Primes for the marks, glued.
    (["48°30\u203244\u2033N35°0\u203244\u2033E ALT 120m"], (48.5122222, 35.0122222), "dms"),
    (["33°51'47.7\"S 151°12'33.5\"W"], (-33.8632500, -151.2093056), "dms"),
    (["48°30'44.4''N 35°00'44.4''E"], (48.5123333, 35.0123333), "dms"),  # '' for "
    (["48 30 44.4N 35 00 44.4E"], (48.5123333, 35.0123333), "dms"),  # OCR lost the marks
    # As the OCR read real overlays: marks dropped, or read as a degree sign or a colon.
    (["48°30'44.4\"N35°0044.4EALT120m"], (48.5123333, 35.0123333), "dms"),
    (["48°30'44.4°N35°00°44.4\"E"], (48.5123333, 35.0123333), "dms"),
    (["48°30:44.4N35°00'44.4E"], (48.5123333, 35.0123333), "dms"),
    (["51°5309.5*N25°3640.6E"], (51.8859722, 25.6112778), "dms"),
    (["4750*08.3\"N3926-13.8\"E"], (47.8356389, 39.4371667), "dms"),
    (["48°70'44\"N 35°00'44\"E"], None, None),  # no 70th minute
])  # fmt: skip
def test_positions_in_decimal_degrees_and_mgrs(
    lines: list[str], where: tuple[float, float] | None, form: str | None
) -> None:
    found = read(lines)
    got = (found.lat, found.lon) if found.lat is not None else None
    assert got == (pytest.approx(where) if where else None)
    assert found.position_format == form


def test_altitude_in_metres_or_feet() -> None:
    assert read(["ALT 120m"]).altitude_m == 120.0
    assert read(["H:85.2M"]).altitude_m == 85.2
    assert read(["ALT 400FT"]).altitude_m == 121.9
    assert read(["a caption"]).empty


def stills(*texts: list[str]) -> list[StillText]:
    return [StillText(n * 4, n * 4.0, lines) for n, lines in enumerate(texts)]


def test_the_stills_agree_on_the_clips_start_and_a_misread_is_outvoted() -> None:
    read_ = stills(["2026-11-20 10:00:00", "N48.50000 E35.00000"],
                   ["2026-11-20 10:00:04", "N48.50000 E35.00000"],
                   ["2026-11-20 13:00:08", "N48.90000 E35.00000"])  # fmt: skip
    found = summarise(read_, assumed_offset_minutes=120)
    assert found is not None
    assert found["start_local"] == "2026-11-20T10:00:00"
    assert found["start"] == "2026-11-20T08:00:00+00:00"  # read in the assumed zone
    assert (found["lat"], found["lon"]) == (48.5, 35.0)
    assert found["time_confirmed"] and found["place_confirmed"]
    assert (found["frame_index"], found["text"][0]) == (0, "2026-11-20 10:00:00")
    assert agree(read_[0], read_[1]) and not agree(read_[1], read_[2])
    # A place one still missed is not confirmed by the other: a third still is read.
    clock_only = stills(["2026-11-20 10:00:00"], ["2026-11-20 10:00:04", "N48.50000 E35.00000"])
    assert not agree(*clock_only)


def test_a_zone_shown_wins_over_the_assumed_one_and_nothing_shown_is_none() -> None:
    found = summarise(stills(["2026/11/20 10:00:00 UTC"]), assumed_offset_minutes=120)
    assert found is not None and found["start"] == "2026-11-20T10:00:00+00:00"
    undated = summarise(stills(["10:00:00"]), assumed_offset_minutes=120)
    assert undated is not None and (undated["start"], undated["start_clock"]) == (None, "10:00:00")
    assert summarise(stills(["SPORT MODE"], []), assumed_offset_minutes=0) is None


def facts_with(*lines: str, file_time: str | None = None) -> dict[str, object]:
    return {"captured_at": file_time, "reencode_signals": [],
            "osd": summarise(stills(list(lines)), assumed_offset_minutes=120)}  # fmt: skip


def flags_of(facts: dict[str, object], claim: Claim) -> dict[str, dict[str, object]]:
    found = consistency_flags(facts, claim, tolerance_minutes=120, tolerance_km=5, osd_rule=RULE)
    return dict(found)


WHEN = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def test_an_overlay_that_agrees_in_some_plausible_zone_raises_nothing() -> None:
    facts = facts_with("2026-11-20 10:00:00", "N48.50000 E35.00000")  # Kyiv time of WHEN
    assert flags_of(facts, Claim(WHEN, 48.52, 35.0)) == {}
    in_utc = facts_with("2026-11-20 08:00:00", "N48.50000 E35.00000")
    assert flags_of(in_utc, Claim(WHEN, 48.52, 35.0)) == {}
    # The file had no time of its own: the overlay's stands in, and says so.
    assert capture_time(facts) == (datetime(2026, 11, 20, 8, 0, tzinfo=UTC), "osd")
    assert position(facts) == ((48.5, 35.0), "osd")


def test_an_overlay_a_day_off_or_far_away_is_flagged_with_its_frame() -> None:
    facts = facts_with("2026-11-21 10:00:00", "N48.50000 E35.40000")
    found = flags_of(facts, Claim(WHEN, 48.5, 35.0))
    assert set(found) == {"osd_mismatch"}  # no second, capture_time_mismatch, for the same
    evidence = found["osd_mismatch"]
    assert evidence["disagrees"] == ["time", "place"]
    # A day later, read in the zone that brings it closest (UTC+3: 23 hours).
    assert (evidence["difference_minutes"], evidence["read_at_utc_offset_hours"]) == (23 * 60, 3)
    assert evidence["osd_time"] == "2026-11-21 10:00:00"
    assert 29 < evidence["distance_km"] < 30  # type: ignore[operator]
    assert (evidence["frame_index"], evidence["t_seconds"]) == (0, 0.0)


def test_a_clock_without_a_date_is_compared_by_the_time_of_day() -> None:
    near_midnight = Claim(datetime(2026, 11, 20, 21, 50, tzinfo=UTC), None, None)
    # 21:50 UTC is 23:50 in Kyiv, 5 minutes from the clock; a clock alone is no capture time.
    assert set(flags_of(facts_with("23:55:00"), near_midnight)) == {"no_capture_time"}
    found = flags_of(facts_with("16:00:00"), near_midnight)
    # 16:00 is nearest 21:50 read as UTC: 5 h 50 min.
    assert found["osd_mismatch"]["difference_minutes"] == 350
    assert found["osd_mismatch"]["dated"] is False


def test_the_files_own_time_is_still_checked_beside_the_overlay() -> None:
    facts = facts_with("2026-11-20 10:00:00", file_time="2026-11-25T08:00:00+00:00")
    found = flags_of(facts, Claim(WHEN, None, None))
    assert set(found) == {"capture_time_mismatch"}
    assert found["capture_time_mismatch"]["source"] == "file metadata"


def test_what_one_still_alone_says_among_several_is_not_enough() -> None:
    """Two stills read that disagree: neither stands in for the file's time, neither flags."""
    read_ = stills(["2026-11-20 10:00:00", "N48.50000 E35.00000"],
                   ["2026-11-23 17:00:04", "N49.50000 E35.00000"])  # fmt: skip
    overlay = summarise(read_, assumed_offset_minutes=120)
    assert overlay is not None and not overlay["time_confirmed"]
    facts: dict[str, object] = {"reencode_signals": [], "osd": overlay}
    assert capture_time(facts) == (None, None) and position(facts) == (None, None)
    assert set(flags_of(facts, Claim(WHEN + timedelta(days=9), 40.0, 30.0))) == {"no_capture_time"}
