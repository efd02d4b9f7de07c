"""Where, when and on what a file was made, read from container tags and photo EXIF.

Every value here is a claim made by the file itself and can be forged; the review page shows
them as evidence next to the unit's own claim, never as proof.
"""

import re
from datetime import UTC, datetime
from typing import Any

from PIL import Image, TiffImagePlugin

ISO6709 = re.compile(r"^([+-]\d+(?:\.\d+)?)([+-]\d+(?:\.\d+)?)([+-]\d+(?:\.\d+)?)?/?$")
CREATION_TAGS = ("com.apple.quicktime.creationdate", "creation_time", "date")
LOCATION_TAGS = ("com.apple.quicktime.location.iso6709", "location", "location-eng")
MAKE_TAGS = ("com.apple.quicktime.make", "com.android.manufacturer", "make")
MODEL_TAGS = ("com.apple.quicktime.model", "com.android.model", "model")
# Encoders that mean the file passed through ffmpeg/libav or an editing app after capture.
# Phones write their own encoder names (or none); messengers and editors rewrite the file.
REENCODERS = re.compile(r"^(lavf|lavc|libx26[45]|x26[45]|handbrake|capcut|inshot|vn |adobe|"
                        r"premiere|davinci|kinemaster|telegram|whatsapp)", re.I)  # fmt: skip
EXIF_IFD, GPS_IFD = 0x8769, 0x8825


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    text = text.strip().replace("Z", "+00:00")
    for candidate in (text, text.replace(" ", "T", 1)):
        try:
            value = datetime.fromisoformat(candidate)
        except ValueError:
            continue
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    try:  # EXIF: "2024:05:01 12:00:00", local time with no zone; read as UTC, flagged by tolerance
        return datetime.strptime(text[:19], "%Y:%m:%d %H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return None


def parse_iso6709(text: str | None) -> tuple[float, float] | None:
    match = ISO6709.match((text or "").strip())
    if not match:
        return None
    lat, lon = float(match.group(1)), float(match.group(2))
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return lat, lon


def _first(tags: dict[str, str], names: tuple[str, ...]) -> str | None:
    return next((tags[n] for n in names if tags.get(n)), None)


def video_facts(tags: dict[str, str], stream_tags: dict[str, str]) -> dict[str, Any]:
    merged = {**stream_tags, **tags}
    position = parse_iso6709(_first(merged, LOCATION_TAGS))
    encoder = merged.get("encoder") or stream_tags.get("encoder")
    make, model = _first(merged, MAKE_TAGS), _first(merged, MODEL_TAGS)
    signals = []
    if encoder and REENCODERS.match(encoder):
        signals.append(f"encoder tag {encoder!r}")
    if not make and not model and encoder and "lavf" in encoder.lower():
        signals.append("no camera make/model beside an ffmpeg muxer tag")
    return {
        "captured_at": parse_time(_first(merged, CREATION_TAGS)),
        "lat": position[0] if position else None,
        "lon": position[1] if position else None,
        "device_make": make,
        "device_model": model,
        "encoder": encoder,
        "reencode_signals": signals,
    }


def _rational(value: Any) -> float:
    if isinstance(value, TiffImagePlugin.IFDRational):
        return float(value) if value.denominator else 0.0
    if isinstance(value, tuple) and len(value) == 2:
        return value[0] / value[1] if value[1] else 0.0
    return float(value)


def _gps(gps: dict[int, Any]) -> tuple[float, float] | None:
    try:
        lat = sum(_rational(v) / 60**i for i, v in enumerate(gps[2]))
        lon = sum(_rational(v) / 60**i for i, v in enumerate(gps[4]))
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None
    lat = -lat if str(gps.get(1, "N")).upper().startswith("S") else lat
    lon = -lon if str(gps.get(3, "E")).upper().startswith("W") else lon
    return (lat, lon) if -90 <= lat <= 90 and -180 <= lon <= 180 else None


def exif_facts(img: Image.Image) -> dict[str, Any]:
    exif = img.getexif()
    detail = exif.get_ifd(EXIF_IFD)
    position = _gps(exif.get_ifd(GPS_IFD))
    software = str(exif.get(305, "")) or None
    return {
        "captured_at": parse_time(str(detail.get(36867) or exif.get(306) or "")),
        "lat": position[0] if position else None,
        "lon": position[1] if position else None,
        "device_make": str(exif[271]).strip("\x00 ") if 271 in exif else None,
        "device_model": str(exif[272]).strip("\x00 ") if 272 in exif else None,
        "encoder": software,
        "reencode_signals": [f"software tag {software!r}"]
        if software and REENCODERS.match(software)
        else [],
    }
