"""What a drone's on-screen display (OSD) says, read from the OCR'd text of a still: the time
(with or without a date), the position (decimal degrees with hemisphere letters or signs, or
MGRS) and the altitude. Pure functions of text; the OCR itself is ocr.py's.

OCR drops the spaces between words ("N48.51234E35.01234", "2024-05-0112:34:56"), so every
pattern here reads glued text as well as spaced text.
"""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from statistics import median
from typing import Any

from mvq.geo import GRID_PATTERN, grid_position

# Small text is misread "2026-09:02": a colon stands for a dash or dot in a date too.
_YMD = r"(?P<y>20\d{2})[-./:](?P<m>\d{1,2})[-./:](?P<d>\d{1,2})"
# Day first when the year is last: how Ukrainian and most European overlays write it.
_DMY = r"(?P<d>\d{1,2})[-./:](?P<m>\d{1,2})[-./:](?P<y>20\d{2})"
_CLOCK = r"(?P<H>\d{1,2})[:](?P<M>\d{2})[:](?P<S>\d{2})(?:[.,]\d{1,3})?"
DATE_TIME = [re.compile(f"(?<!\\d){d}[\\sT_,|]*{_CLOCK}(?!\\d)") for d in (_YMD, _DMY)] + [
    re.compile(f"(?<![\\d:]){_CLOCK}[\\s,|]*{d}(?!\\d)") for d in (_YMD, _DMY)
]
# A clock alone needs its seconds: "12:34" is too easily part of something else.
CLOCK_ONLY = re.compile(f"(?<![\\d:]){_CLOCK}(?![\\d:])")
ZONE = re.compile(r"\s*(?:(?:UTC|GMT)\s*(?P<off>[+-]\d{1,2}(?::?\d{2})?)?(?![A-Z])|Z(?![A-Z])"
                  r"|(?P<bare>[+-]\d{2}:\d{2}))")  # fmt: skip

_LAT, _LON = r"\d{1,2}\.\d{3,}", r"\d{1,3}\.\d{3,}"
HEMISPHERE_FIRST = re.compile(
    f"(?P<ns>[NS])\\s*:?\\s*(?P<lat>{_LAT})\\s*°?\\s*[,;/|]?\\s*(?P<ew>[EW])\\s*:?\\s*(?P<lon>{_LON})"
)
HEMISPHERE_AFTER = re.compile(
    f"(?P<lat>{_LAT})\\s*°?\\s*(?P<ns>[NS])\\s*[,;/|]?\\s*(?P<lon>{_LON})\\s*°?\\s*(?P<ew>[EW])"
)
LABELLED = re.compile(
    f"LAT(?:ITUDE)?\\s*[:=]?\\s*(?P<lat>[+-]?{_LAT})\\s*°?[^0-9+-]{{0,12}}?"
    f"L[O0]?NG?(?:ITUDE)?\\s*[:=]?\\s*(?P<lon>[+-]?{_LON})"
)
# Two signed numbers with four or more decimals, apart: "48.51234, 35.01234", "-33.8688 151.2093".
SIGNED_PAIR = re.compile(
    r"(?<![\d.])(?P<lat>[+-]?\d{1,2}\.\d{4,})(?:\s*[,;/|]\s*|\s+)"
    r"(?P<lon>[+-]?\d{1,3}\.\d{4,})(?![\d.])"
)


def _dms(name: str, degree_digits: str) -> str:
    """Degrees, minutes and seconds: 48°30'44.4" (primes and doubled apostrophes are mended
    in normalise). OCR often drops the minute and second marks, or reads them as a space,
    a degree sign, a colon, a star or a dash: "35°0044.4E", "35°00°44.4E" and "51°5309.5*N"
    are all read. The degree sign may go missing too, where two-digit minutes and their
    mark keep the reading plain: "4750*08.3N" is 47° 50' 08.3"."""
    minute_mark = "['°:*-]"
    return (f"(?P<{name}d>\\d{{{degree_digits}}})"
            f"(?:\\s*[°\\s]\\s*(?P<{name}m>\\d{{1,2}})\\s*{minute_mark}?"
            f"|(?P<{name}mm>\\d{{2}}){minute_mark})\\s*"
            f"(?P<{name}s>\\d{{1,2}}(?:[.,]\\d+)?)\\s*[\"'°*]?")  # fmt: skip


DMS_AFTER = re.compile(f"(?<!\\d){_dms('lat', '1,2')}\\s*(?P<ns>[NS])\\s*[,;/|]?\\s*"
                       f"{_dms('lon', '1,3')}\\s*(?P<ew>[EW])")  # fmt: skip
DMS_FIRST = re.compile(f"(?P<ns>[NS])\\s*:?\\s*{_dms('lat', '1,2')}\\s*[,;/|]?\\s*"
                       f"(?P<ew>[EW])\\s*:?\\s*{_dms('lon', '1,3')}")  # fmt: skip
GRID = re.compile(f"(?<![A-Z0-9]){GRID_PATTERN}")
ALTITUDE = re.compile(r"(?:ALT(?:ITUDE)?|HGT|HEIGHT|(?<![A-Z])H)\s*[:=]?\s*"
                      r"(?P<value>-?\d{1,5}(?:\.\d+)?)\s*(?P<unit>M|FT)?")  # fmt: skip
FEET = 0.3048
# Full-width colon and comma (the recogniser learnt Chinese too), degree look-alikes, dashes.
MENDS = str.maketrans({"\uff1a": ":", "\uff0c": ",", "º": "°", "˚": "°", "—": "-",
                       # primes and curly quotes, for minutes' and seconds' marks
                       "\u2032": "'", "\u2019": "'", "\u2018": "'", "\u2033": '"',
                       "\u201c": '"', "\u201d": '"'})  # fmt: skip


@dataclass(frozen=True)
class Reading:
    """One still's overlay. Times are the drone's clock: naive unless the overlay names its
    zone (`utc_offset_minutes`)."""

    day: date | None = None
    clock: time | None = None
    utc_offset_minutes: int | None = None
    lat: float | None = None
    lon: float | None = None
    position_format: str | None = None  # "decimal", "dms" or "mgrs"
    altitude_m: float | None = None

    @property
    def empty(self) -> bool:
        return self.clock is None and self.lat is None and self.altitude_m is None


def normalise(lines: list[str]) -> str:
    """One upper-case line, with the OCR's usual slips mended where digits make them plain."""
    text = " ".join(lines).upper()
    text = text.translate(MENDS).replace("''", '"')
    text = re.sub(r"(?<=\d)O(?=\d)|(?<=\d)O(?=[.:])|(?<=[.:])O(?=\d)", "0", text)
    text = re.sub(r"(?<=\d)B(?=[\d.])", "8", text)
    text = re.sub(r"(?<=\d)[IL](?=\d)", "1", text)
    # Small text's colon for a coordinate's decimal point ("E36:37256"); only after a
    # hemisphere letter or label, as a glued date and clock ("2026:09:0203:16") look alike.
    return re.sub(r"((?:[NSEW]|LAT|LON|LNG)\s*:?\s*[+-]?\d{1,3}):(?=\d{4})", r"\1.", text)


def _clock(match: re.Match[str]) -> time | None:
    hours, minutes, seconds = int(match["H"]), int(match["M"]), int(match["S"])
    return time(hours, minutes, seconds) if hours < 24 and minutes < 60 and seconds < 60 else None


def _offset(text: str, end: int) -> int | None:
    zone = ZONE.match(text, end)
    if zone is None:
        return None
    raw = zone["off"] or zone["bare"]
    if not raw:
        return 0
    sign = -1 if raw[0] == "-" else 1
    digits = raw[1:].replace(":", "")
    hours, minutes = (int(digits), 0) if len(digits) <= 2 else (int(digits[:-2]), int(digits[-2:]))
    return sign * (hours * 60 + minutes) if hours <= 14 and minutes < 60 else None


def read_time(text: str) -> tuple[date | None, time | None, int | None]:
    """(date, clock, UTC offset in minutes) from normalised text; each None when not shown."""
    for pattern in DATE_TIME:
        for found in pattern.finditer(text):
            clock = _clock(found)
            try:
                day = date(int(found["y"]), int(found["m"]), int(found["d"]))
            except ValueError:
                continue
            if clock is not None:
                return day, clock, _offset(text, found.end())
    for found in CLOCK_ONLY.finditer(text):
        if (clock := _clock(found)) is not None:
            return None, clock, _offset(text, found.end())
    return None, None, None


def _valid(lat: float, lon: float) -> bool:
    return -90 <= lat <= 90 and -180 <= lon <= 180 and (lat, lon) != (0.0, 0.0)


def _degrees(found: re.Match[str], name: str) -> float | None:
    minutes = int(found[f"{name}m"] or found[f"{name}mm"])
    seconds = float(found[f"{name}s"].replace(",", "."))
    if minutes >= 60 or seconds >= 60:
        return None
    return round(int(found[f"{name}d"]) + minutes / 60 + seconds / 3600, 7)


def read_position(text: str) -> tuple[float, float, str] | None:
    """(lat, lon, "decimal" | "dms" | "mgrs") from normalised text."""
    for pattern in (DMS_FIRST, DMS_AFTER):
        for found in pattern.finditer(text):
            lat, lon = _degrees(found, "lat"), _degrees(found, "lon")
            if lat is None or lon is None:
                continue
            lat, lon = (-lat if found["ns"] == "S" else lat), (-lon if found["ew"] == "W" else lon)
            if _valid(lat, lon):
                return lat, lon, "dms"
    for pattern in (HEMISPHERE_FIRST, HEMISPHERE_AFTER):
        for found in pattern.finditer(text):
            lat = float(found["lat"]) * (-1 if found["ns"] == "S" else 1)
            lon = float(found["lon"]) * (-1 if found["ew"] == "W" else 1)
            if _valid(lat, lon):
                return lat, lon, "decimal"
    for pattern in (LABELLED, SIGNED_PAIR):
        for found in pattern.finditer(text):
            lat, lon = float(found["lat"]), float(found["lon"])
            if _valid(lat, lon):
                return lat, lon, "decimal"
    for found in GRID.finditer(text):
        digits = found.group(3) + (found.group(4) or "")
        if len(digits) < 4:  # coarser than a kilometre: more likely a misread than a grid
            continue
        if where := grid_position(*found.groups()):
            return where[0], where[1], "mgrs"
    return None


def read_altitude(text: str) -> float | None:
    found = ALTITUDE.search(text)
    if found is None:
        return None
    value = float(found["value"])
    return round(value * FEET if found["unit"] == "FT" else value, 1)


def read(lines: list[str]) -> Reading:
    text = normalise(lines)
    day, clock, offset = read_time(text)
    where = read_position(text)
    return Reading(day, clock, offset, where[0] if where else None, where[1] if where else None,
                   where[2] if where else None, read_altitude(text))  # fmt: skip


@dataclass(frozen=True)
class StillText:
    """The text read from one still, with where the still sits in the clip."""

    index: int
    t_seconds: float
    lines: list[str]

    @property
    def reading(self) -> Reading:
        return read(self.lines)


def _start(reading: Reading, t_seconds: float) -> datetime | None:
    """The clip's first moment by the overlay's clock: its time less the still's offset."""
    if reading.clock is None:
        return None
    day = reading.day or date(2000, 1, 1)  # a stand-in day: only the time of day is used then
    return datetime.combine(day, reading.clock) - timedelta(seconds=round(t_seconds))


def agree(a: StillText, b: StillText) -> bool:
    """Two stills' overlays tell the same story: both show a clock or neither, with the same
    first moment (to within 2 s); both show a place or neither, the same (to within about
    100 m). A value one still missed is read again from another, so that two confirm it."""
    ra, rb = a.reading, b.reading
    if ra.empty or rb.empty:
        return False
    sa, sb = _start(ra, a.t_seconds), _start(rb, b.t_seconds)
    pa = (ra.lat, ra.lon) if ra.lat is not None and ra.lon is not None else None
    pb = (rb.lat, rb.lon) if rb.lat is not None and rb.lon is not None else None
    if (sa is None) != (sb is None) or (pa is None) != (pb is None):
        return False
    same_time = sa is None or sb is None or _same_start(sa, sb)
    same_place = pa is None or pb is None or _same_place(pa, pb)
    return same_time and same_place


def _best(values: list[tuple[StillText, Any]], close: Any) -> tuple[StillText, Any, int] | None:
    """The value most of the others agree with (`close`), its first still and how many stills
    support it: one misread still can neither outvote nor be mistaken for the display."""
    scored = [(sum(close(v, w) for _, w in values), -n, t, v) for n, (t, v) in enumerate(values)]
    if not scored:
        return None
    support, _, still, value = max(scored, key=lambda s: (s[0], s[1]))
    return still, value, support


def _same_start(a: datetime, b: datetime) -> bool:
    return abs((a - b).total_seconds()) <= 2


def _same_place(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return abs(a[0] - b[0]) < 1e-3 and abs(a[1] - b[1]) < 1e-3  # about 100 m


def summarise(texts: list[StillText], *, assumed_offset_minutes: int) -> dict[str, Any] | None:
    """The overlay across the stills read, as facts: the time and the place that most stills
    agree on, each *confirmed* when two stills show it (or the one still there was), and the
    still showing them as the evidence. A dated clock gives the clip's start in UTC, read in
    the overlay's own zone when it shows one, else at `assumed_offset_minutes` from UTC."""
    found = [(t, r) for t in texts if not (r := t.reading).empty]
    if not found:
        return None
    needed = min(2, len(texts))
    dated = [(t, r) for t, r in found if r.day is not None and r.clock is not None]
    timed = dated or [(t, r) for t, r in found if r.clock is not None]
    starts = [(t, (s, r)) for t, r in timed if (s := _start(r, t.t_seconds)) is not None]
    when = _best(starts, lambda a, b: _same_start(a[0], b[0]))
    placed = [(t, (r.lat, r.lon, r.position_format)) for t, r in found
              if r.lat is not None and r.lon is not None]  # fmt: skip
    where = _best(placed, lambda a, b: _same_place(a[:2], b[:2]))
    heights = [r.altitude_m for _, r in found if r.altitude_m is not None]
    still = when[0] if when else where[0] if where else found[0][0]
    start, shown = when[1] if when else (None, None)
    offset = shown.utc_offset_minutes if shown and shown.utc_offset_minutes is not None else None
    start_utc = None
    if start is not None and dated:
        zone = offset if offset is not None else assumed_offset_minutes
        start_utc = (start - timedelta(minutes=zone)).replace(tzinfo=UTC)
    return {
        "source": "osd",
        "stills_read": len(texts),
        "stills_with_text": len(found),
        "frame_index": still.index,
        "t_seconds": still.t_seconds,
        "text": still.lines[:12],
        "dated": bool(dated),
        # The first moment of the clip by the overlay's clock, naive (the zone is rarely shown).
        "start_local": start.isoformat() if start and dated else None,
        "start_clock": start.time().isoformat() if start else None,
        "utc_offset_minutes": offset,
        "start": start_utc.isoformat() if start_utc else None,
        "time_confirmed": bool(when and when[2] >= needed),
        "lat": where[1][0] if where else None,
        "lon": where[1][1] if where else None,
        "position_format": where[1][2] if where else None,
        "place_confirmed": bool(where and where[2] >= needed),
        "altitude_m": median(heights) if heights else None,
        "shown": {"time": shown.clock.isoformat() if shown and shown.clock else None,
                  "date": shown.day.isoformat() if shown and shown.day else None},
    }  # fmt: skip
