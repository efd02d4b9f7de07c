"""Drone telemetry carried beside the picture: MISB ST 0601 KLV in MPEG-TS data streams and
DJI-style SRT subtitle tracks, summarised as a time span and a (thinned) track."""

import re
import struct
from datetime import UTC, datetime
from typing import Any

MISB_0601_KEY = bytes.fromhex("060E2B34020B01010E01030101000000")
MAX_POINTS = 200  # the track kept for the review map; enough to draw, small to store
INT32_ERROR = -(2**31)


def _ber_length(data: bytes, pos: int) -> tuple[int, int]:
    first = data[pos]
    if first < 0x80:
        return first, pos + 1
    count = first & 0x7F
    if count == 0 or count > 8 or pos + 1 + count > len(data):
        raise ValueError("bad BER length")
    return int.from_bytes(data[pos + 1 : pos + 1 + count], "big"), pos + 1 + count


def _ber_oid(data: bytes, pos: int) -> tuple[int, int]:
    value = 0
    while True:
        byte = data[pos]
        value = (value << 7) | (byte & 0x7F)
        pos += 1
        if byte < 0x80:
            return value, pos


def _angle(raw: bytes, span: float) -> float | None:
    if len(raw) != 4:
        return None
    value = struct.unpack(">i", raw)[0]
    return None if value == INT32_ERROR else value * span / (2**31 - 1)


def _local_set(body: bytes) -> dict[int, bytes]:
    items, pos = {}, 0
    while pos < len(body):
        tag, pos = _ber_oid(body, pos)
        length, pos = _ber_length(body, pos)
        items[tag] = body[pos : pos + length]
        pos += length
    return items


def parse_klv(data: bytes) -> list[dict[str, Any]]:
    """Every MISB 0601 packet found in a data stream, however the muxer split it."""
    samples, pos = [], data.find(MISB_0601_KEY)
    while pos >= 0:
        try:
            length, start = _ber_length(data, pos + len(MISB_0601_KEY))
            items = _local_set(data[start : start + length])
        except (ValueError, IndexError):
            pos = data.find(MISB_0601_KEY, pos + 1)
            continue
        stamp = items.get(2)
        sample = {
            "time": datetime.fromtimestamp(struct.unpack(">Q", stamp)[0] / 1e6, UTC)
            if stamp and len(stamp) == 8 else None,
            "platform": (_angle(items.get(13, b""), 90), _angle(items.get(14, b""), 180)),
            "frame_center": (_angle(items.get(23, b""), 90), _angle(items.get(24, b""), 180)),
        }  # fmt: skip
        samples.append(sample)
        pos = data.find(MISB_0601_KEY, start + length)
    return samples


SRT_TIME = re.compile(r"(\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?)")
SRT_LAT = re.compile(r"latitude\s*:\s*([+-]?\d+(?:\.\d+)?)", re.I)
SRT_LON = re.compile(r"longitude\s*:\s*([+-]?\d+(?:\.\d+)?)", re.I)
SRT_GPS = re.compile(r"GPS\s*\(\s*([+-]?\d+(?:\.\d+)?)\s*,\s*([+-]?\d+(?:\.\d+)?)")  # (lon, lat)


def parse_srt(text: str) -> list[dict[str, Any]]:
    samples = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n")):
        lat, lon = SRT_LAT.search(block), SRT_LON.search(block)
        gps = SRT_GPS.search(block)
        position = None
        if lat and lon:
            position = (float(lat.group(1)), float(lon.group(1)))
        elif gps:
            position = (float(gps.group(2)), float(gps.group(1)))
        if position is None:
            continue
        when = SRT_TIME.search(block)
        time = None
        if when:
            stamp = when.group(1).replace(" ", "T").replace(",", ".")
            stamp = re.sub(r"\.(\d{6})\d+", r".\1", stamp)
            try:
                time = datetime.fromisoformat(stamp).replace(tzinfo=UTC)
            except ValueError:
                time = None
        samples.append({"time": time, "platform": position, "frame_center": (None, None)})
    return samples


def _valid(point: tuple[float | None, float | None]) -> bool:
    lat, lon = point
    return lat is not None and lon is not None and -90 <= lat <= 90 and -180 <= lon <= 180


def summarise(source: str, samples: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not samples:
        return None
    times = [s["time"] for s in samples if s["time"] is not None]
    track = [s["platform"] for s in samples if _valid(s["platform"])]
    centres = [s["frame_center"] for s in samples if _valid(s["frame_center"])]
    step = max(1, len(track) // MAX_POINTS)
    return {
        "source": source,
        "samples": len(samples),
        "start": min(times).isoformat() if times else None,
        "end": max(times).isoformat() if times else None,
        "platform_track": [[round(a, 6), round(b, 6)] for a, b in track[::step]],
        "frame_center_track": [[round(a, 6), round(b, 6)] for a, b in centres[::step]],
        "first_position": list(track[0]) if track else None,
    }
