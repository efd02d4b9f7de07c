from datetime import UTC, datetime

import pytest
from PIL import Image

from mvq.media.flags import Claim, OsdRule, consistency_flags, distance_km
from mvq.media.ingest.metadata import parse_iso6709, parse_time, video_facts
from mvq.media.ingest.telemetry import parse_klv, parse_srt, summarise
from testkit import footage

OSD = OsdRule(tolerance_minutes=120, tolerance_km=10, clock_offsets_hours=(0,))


@pytest.mark.parametrize(("text", "expected"), [
    ("+48.1000+037.6000/", (48.1, 37.6)),
    ("-33.8688+151.2093+025.000/", (-33.8688, 151.2093)),
    ("+91.0+037.6/", None),
    ("somewhere", None),
])  # fmt: skip
def test_iso6709_positions(text: str, expected: tuple[float, float] | None) -> None:
    assert parse_iso6709(text) == expected


def test_times_from_tags_and_exif() -> None:
    assert parse_time("2026-11-20T10:00:00.000000Z") == datetime(2026, 11, 20, 10, tzinfo=UTC)
    assert parse_time("2026:11:20 10:00:00") == datetime(2026, 11, 20, 10, tzinfo=UTC)
    assert parse_time("not a time") is None


def test_phone_tags_give_device_and_no_reencode_signal() -> None:
    facts = video_facts({"creation_time": "2026-11-20T10:00:00Z", "location": "+48.1+037.6/",
                         "make": "Apple", "model": "iPhone 14"}, {"encoder": "H.264"})  # fmt: skip
    assert (facts["device_make"], facts["lat"], facts["reencode_signals"]) == ("Apple", 48.1, [])


def test_ffmpeg_muxed_file_without_device_tags_is_a_reencode() -> None:
    facts = video_facts({"encoder": "Lavf59.27.100"}, {"encoder": "Lavc59.37.100 libx264"})
    assert len(facts["reencode_signals"]) == 2


def test_klv_packets_are_found_and_scaled() -> None:
    raw = b"junk" + footage.klv_packet(1_700_000_000_000_000, 48.1, 37.6, (48.2, 37.7)) * 2
    samples = parse_klv(raw)
    assert len(samples) == 2
    lat, lon = samples[0]["platform"]
    assert abs(lat - 48.1) < 1e-6 and abs(lon - 37.6) < 1e-6
    assert samples[0]["time"] == datetime.fromtimestamp(1_700_000_000, UTC)
    summary = summarise("misb0601", samples)
    assert summary is not None and summary["samples"] == 2


def test_dji_srt_records_are_parsed() -> None:
    text = ("1\n00:00:00,000 --> 00:00:01,000\n2026-11-20 10:00:01.123\n"
            "[latitude: 48.100000] [longitude: 37.600000]\n\n"
            "2\n00:00:01,000 --> 00:00:02,000\nGPS(37.6010,48.1010,20)\n")  # fmt: skip
    samples = parse_srt(text)
    assert [s["platform"] for s in samples] == [(48.1, 37.6), (48.101, 37.601)]
    assert samples[0]["time"] == datetime(2026, 11, 20, 10, 0, 1, 123000, tzinfo=UTC)


def test_consistency_flags_carry_their_evidence() -> None:
    facts = {"captured_at": "2026-11-20T10:00:00+00:00", "lat": 48.1, "lon": 37.6,
             "reencode_signals": []}  # fmt: skip
    claim = Claim(datetime(2026, 11, 21, 10, tzinfo=UTC), 48.6, 37.6)
    found = dict(
        consistency_flags(facts, claim, tolerance_minutes=120, tolerance_km=5, osd_rule=OSD)
    )
    assert found["capture_time_mismatch"]["difference_minutes"] == 1440
    assert 55 < found["location_mismatch"]["distance_km"] < 56
    close = Claim(datetime(2026, 11, 20, 10, 30, tzinfo=UTC), 48.1, 37.6)
    assert (
        consistency_flags(facts, close, tolerance_minutes=120, tolerance_km=5, osd_rule=OSD) == []
    )
    assert [
        k
        for k, _ in consistency_flags({}, close, tolerance_minutes=1, tolerance_km=1, osd_rule=OSD)
    ] == ["no_capture_time"]


def test_haversine_distance() -> None:
    assert abs(distance_km((0.0, 0.0), (0.0, 1.0)) - 111.19) < 0.01


def test_exif_gps_and_time_from_a_real_photo(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from mvq.media.ingest.metadata import exif_facts

    path = footage.exif_photo(tmp_path / "p.jpg", taken="2026:11:20 10:00:00", lat=48.1, lon=-37.6)
    with Image.open(path) as img:
        facts = exif_facts(img)
    assert facts["captured_at"] == datetime(2026, 11, 20, 10, tzinfo=UTC)
    assert abs(facts["lat"] - 48.1) < 1e-3 and abs(facts["lon"] + 37.6) < 1e-3
    assert (facts["device_make"], facts["device_model"]) == ("Canon", "EOS R6")
