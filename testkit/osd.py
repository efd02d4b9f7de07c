"""Drone on-screen displays burned over real footage, as a drone's recorder burns them: a clock
that ticks with the picture, a position, an altitude, in a chosen font, size, corner and
contrast (ffmpeg's drawtext, with the DejaVu fonts Debian ships)."""

import random
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

from mvq.media import flags
from mvq.review.inspection import mgrs_of
from mvq.settings import get_settings

FONTS = {
    "sans-mono": "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
    "sans-bold": "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "serif": "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
    "sans-condensed": "/usr/share/fonts/truetype/dejavu/DejaVuSansCondensed.ttf",
}
# Corners, as drawtext positions with a margin of 2 % of the frame.
CORNERS = {
    "top-left": ("w*0.02", "h*0.02"),
    "top-right": ("w-tw-w*0.02", "h*0.02"),
    "bottom-left": ("w*0.02", "h-th-h*0.02"),
    "bottom-right": ("w-tw-w*0.02", "h-th-h*0.02"),
}
# How the text stands out: drawtext options after the font colour.
STYLES = {
    "outlined": "fontcolor=white:borderw=2:bordercolor=black",
    "plain-white": "fontcolor=white",
    "yellow": "fontcolor=yellow:borderw=1:bordercolor=black@0.6",
    "boxed": "fontcolor=white:box=1:boxcolor=black@0.5:boxborderw=4",
    "low-contrast": "fontcolor=0xD0D0D0",
}
# What the display shows: a clock line and a place line, each a format of the clip's start and
# position. `{clock}` becomes drawtext's ticking clock in the given strftime form.
LAYOUTS = {
    "iso-hemisphere": ("%Y-%m-%d %H:%M:%S", "N {lat:.5f}  E {lon:.5f}  ALT 120m"),
    "time-only-labelled": ("%H:%M:%S", "LAT {lat:.5f} LON {lon:.5f} H 85m"),
    "dmy-mgrs": ("%d.%m.%Y %H:%M:%S", "{mgrs}"),
    "slash-suffix-utc": ("%Y/%m/%d %H:%M:%S UTC", "{lat:.5f}°N {lon:.5f}°E"),
    "dmy-dms": ("%d.%m.%Y %H:%M:%S", "{dms}"),
}
SIZES = {"small (2.5 %)": 0.025, "medium (3.5 %)": 0.035, "large (5 %)": 0.05}
# Ukraine's extent, roughly: where the positions are drawn from.
LAT, LON = (46.0, 52.0), (22.5, 40.0)


def dms(lat: float, lon: float) -> str:
    """A position as degrees, minutes and seconds to a tenth: 48°30'44.4"N 35°00'44.4"E."""

    def one(value: float, signs: str) -> str:
        tenths = round(abs(value) * 36000)  # the whole value in tenths of a second
        degrees, rest = divmod(tenths, 36000)
        minutes, rest = divmod(rest, 600)
        return f"{degrees}°{minutes:02d}'{rest / 10:04.1f}\"{signs[value < 0]}"

    return f"{one(lat, 'NS')} {one(lon, 'EW')}"


@dataclass(frozen=True)
class Overlay:
    start: datetime  # the clock at the clip's first frame, as the display shows it
    lat: float
    lon: float
    mgrs: str = ""
    layout: str = "iso-hemisphere"
    font: str = "sans-mono"
    size: float = 0.035  # text height as a share of the frame's height
    corner: str = "top-left"
    style: str = "outlined"


def draw(rng: random.Random) -> tuple[Overlay, datetime, int]:
    """A display drawn at random: its overlay, the true start (UTC) and the zone its clock
    shows (hours east of UTC; the layout naming UTC is always at UTC)."""
    layout = rng.choice(sorted(LAYOUTS))
    zone = 0 if layout == "slash-suffix-utc" else rng.choice([0, 2, 3])
    start = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(700 * 86400))
    lat, lon = round(rng.uniform(*LAT), 5), round(rng.uniform(*LON), 5)
    overlay = Overlay(
        start=start + timedelta(hours=zone), lat=lat, lon=lon, mgrs=mgrs_of(lat, lon) or "",
        layout=layout, font=rng.choice(sorted(FONTS)), size=SIZES[rng.choice(sorted(SIZES))],
        corner=rng.choice(sorted(CORNERS)), style=rng.choice(sorted(STYLES)),
    )  # fmt: skip
    return overlay, start, zone


def _escape(text: str) -> str:
    """drawtext's own escaping inside a text file: `\\` and `:` in function arguments, `%`."""
    return text.replace("\\", "\\\\").replace(":", "\\:")


def drawtext(overlay: Overlay, workdir: Path) -> str:
    """The filter burning the display: the clock line in one corner, the place line below or
    above it, so both sit in the same band."""
    clock_form, place_form = LAYOUTS[overlay.layout]
    epoch = int(overlay.start.timestamp())
    clock = f"%{{pts:gmtime:{epoch}:{_escape(clock_form)}}}"
    place = place_form.format(lat=overlay.lat, lon=overlay.lon, mgrs=overlay.mgrs,
                              dms=dms(overlay.lat, overlay.lon))  # fmt: skip
    place = place.replace("%", "%%")
    x, y = CORNERS[overlay.corner]
    top = overlay.corner.startswith("top")
    lines = [clock, place] if top else [place, clock]
    filters = []
    for n, text in enumerate(lines):
        path = workdir / f"osd-{n}.txt"
        path.write_text(text)
        # One line per filter: the second sits one line-height below (or above) the first.
        shift = f"+{n}*h*{overlay.size * 1.4}" if top else f"-{1 - n}*h*{overlay.size * 1.4}"
        filters.append(f"drawtext=fontfile={FONTS[overlay.font]}:textfile={path}"
                       f":expansion=normal:fontsize=h*{overlay.size}:x={x}:y={y}{shift}"
                       f":{STYLES[overlay.style]}")  # fmt: skip
    return ",".join(filters)


def burn(source: Path, dest: Path, overlay: Overlay) -> Path:
    """`source` with the display burned in, re-encoded as a messenger would pass it on."""
    vf = drawtext(overlay, dest.parent)
    argv = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(source), "-vf", vf,
            "-c:v", "libx264", "-preset", "veryfast", "-crf", "26", "-pix_fmt", "yuv420p",
            "-an", str(dest)]  # fmt: skip
    subprocess.run(argv, check=True, capture_output=True, timeout=180)
    return dest


def still_with(
    lines: list[str],
    *,
    photo: str = "astronaut",
    font: str = "sans-mono",
    size: int = 16,
    top: bool = True,
) -> bytes:
    """A 640x360 JPEG still of a real photo with `lines` drawn in white with a black edge
    along its top (or bottom) edge: the stills the pipeline keeps, without a clip."""
    import io

    from PIL import Image, ImageDraw, ImageFont
    from skimage import data

    img = Image.fromarray(getattr(data, photo)()).convert("RGB").resize((640, 360))
    draw = ImageDraw.Draw(img)
    face = ImageFont.truetype(FONTS[font], size)
    y = 8 if top else 360 - 8 - len(lines) * round(size * 1.4)
    for line in lines:
        draw.text((12, y), line, font=face, fill="white", stroke_width=2, stroke_fill="black")
        y += round(size * 1.4)
    out = io.BytesIO()
    img.save(out, "JPEG", quality=82)
    return out.getvalue()


def _seconds_of_day(moment: time) -> int:
    return moment.hour * 3600 + moment.minute * 60 + moment.second


@dataclass(frozen=True)
class Verdict:
    """What a clip's analysis made of its display, against the truth it was burned with."""

    time_read: bool  # the display's clock at the clip's first frame, within the slack
    place_read: bool  # within 50 m
    given: bool  # the display stands in for the file's missing capture time, named as source
    false_flag: bool  # osd_mismatch against an honest claim
    caught: bool  # osd_mismatch against a claim a day and 50 km off


def verdict(
    facts: dict[str, Any], overlay: Overlay, true_start: datetime, rng: random.Random,
    *, slack_seconds: float = 2,
) -> Verdict:  # fmt: skip
    """`slack_seconds` allows for copies that start later or run faster than the original,
    whose first frame shows a later clock."""
    read = facts.get("osd") or {}
    clock = read.get("start_clock")
    shown = overlay.start.time()
    apart = 86400.0
    if clock is not None:
        seconds = abs(_seconds_of_day(time.fromisoformat(clock)) - _seconds_of_day(shown))
        apart = min(seconds, 86400 - seconds)
    truth = (overlay.lat, overlay.lon)
    place_read = read.get("lat") is not None and flags.distance_km(
        (read["lat"], read["lon"]), truth) <= 0.05  # fmt: skip
    rule = flags.OsdRule.of(get_settings())
    near = (truth[0] + rng.uniform(-0.01, 0.01), truth[1] + rng.uniform(-0.01, 0.01))
    honest = flags.Claim(true_start + timedelta(minutes=rng.uniform(0, 20)), *near)
    off = flags.Claim(true_start + timedelta(days=1), truth[0] + 0.45, truth[1])
    return Verdict(
        time_read=apart <= slack_seconds,
        place_read=place_read,
        given=flags.capture_time(facts)[1] == "osd" or flags.position(facts)[1] == "osd",
        false_flag=bool(read) and flags.osd_mismatch(read, honest, rule) is not None,
        caught=bool(read) and flags.osd_mismatch(read, off, rule) is not None,
    )
