"""Frames of a clip in one decoding pass: stills sampled by time (default 1 a second, capped
for long clips), each stored as a small JPEG with its PDQ hashes and indexed for matching;
probes, the clip's frames the matcher queries with; and a contact sheet per video."""

import io
import re
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

from mvq.media.ingest import hashing, keyframes, tools
from mvq.media.ingest.hashing import FrameHashes
from mvq.media.ingest.keyframes import Keyframe
from mvq.media.ingest.probe import VideoInfo

MAX_SIDE = 640  # PDQ downsamples to 64x64 anyway; reviewers get a clear still
SHEET_COLUMNS, SHEET_CELLS, SHEET_CELL_WIDTH = 4, 16, 240


@dataclass(frozen=True)
class Still:
    """A frame kept for the reviewer and for the index: one a second (1/rate)."""

    index: int
    t_seconds: float
    jpeg: bytes
    width: int
    height: int
    hashes: FrameHashes


@dataclass(frozen=True)
class Probe:
    """A frame the matcher queries with: every decoded frame unlike the one before it."""

    t_seconds: float
    hashes: FrameHashes


@dataclass(frozen=True)
class Frames:
    stills: list[Still]
    probes: list[Probe]
    keyframes: list[Keyframe]  # stills' ORB features, for matching past crops and insets


def sample_rate(duration: float, *, fps: float, max_frames: int) -> float:
    """Frames a second: `fps`, lowered so that a long clip yields at most `max_frames`."""
    if duration <= 0:
        return fps
    return min(fps, max_frames / duration)


def scaled_size(width: int, height: int) -> tuple[int, int]:
    scale = min(1.0, MAX_SIDE / max(width, height))
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def encode_jpeg(img: Image.Image, quality: int = 82) -> bytes:
    out = io.BytesIO()
    img.save(out, "JPEG", quality=quality)
    return out.getvalue()


def keep_as_still(rgb: npt.NDArray[np.uint8], index: int, t: float, hashes: FrameHashes) -> Still:
    img = Image.fromarray(rgb)
    return Still(index, t, encode_jpeg(img), img.width, img.height, hashes)


SHOWINFO_PTS = re.compile(r"Parsed_showinfo.*\bpts_time:\s*(-?[\d.]+)")
# Frames nearly equal to the probe before them add lookups and no recall: a still camera or a
# slow pan repeats itself for seconds.
PROBE_DEDUP_BITS = 8
MAX_PROBES = 6000  # a 30 min clip is probed at most every 0.3 s; 6000 probes hold ~9 MB


def as_rgb(raw: bytes, width: int, height: int) -> npt.NDArray[np.uint8]:
    return np.frombuffer(raw, np.uint8).reshape(height, width, 3)


def video_frames(path: str, info: VideoInfo, *, fps: float, max_frames: int) -> Frames:
    """One decoding pass gives both kinds of frame. Stills are sampled `rate` a second for the
    reviewer and the index; probes are every decoded frame, so that a copy cut between two
    stills still meets, within a frame or two, the very picture each still shows.

    The decoder skips frames no other frame refers to (`-skip_frame noref`): on H.264 with
    B-frames that is about a third of them and a fifth of the decoding, and still leaves a frame
    every few hundredths of a second. ffmpeg's HEVC decoder still returns every frame with it
    (for less CPU: docs/BENCHMARKS.md). Skipping every B-frame (`bidir`) would save more, but
    HEVC and H.264 with pyramids refer to B-frames: the frames after a skipped one decode broken
    ("Could not find ref").
    """
    rate = sample_rate(info.duration, fps=fps, max_frames=max_frames)
    width, height = scaled_size(info.display_width, info.display_height)
    argv = ["ffmpeg", "-nostdin", "-v", "info", "-threads", "2", "-skip_frame", "noref",
            *tools.input_args(path, info.demuxer), "-map", "0:v:0", "-an", "-sn", "-dn",
            "-fps_mode", "passthrough", "-vf", f"scale={width}:{height}:flags=area,showinfo",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]  # fmt: skip
    min_gap = info.duration / MAX_PROBES
    stills: list[Still] = []
    probes: list[Probe] = []
    found: list[Keyframe] = []
    keyframe_gap = keyframes.gap(info.duration)
    start: float | None = None
    for raw, t in tools.stream_timed(argv, record_size=width * height * 3, times=SHOWINFO_PTS):
        start = t if start is None else start
        offset = round(t - start, 3)
        # A still is due at each 1/rate of a second; the first frame on or after it is kept.
        still_due = len(stills) < max_frames and offset + 0.005 >= len(stills) / rate
        frame = hashing.shrink(as_rgb(raw, width, height))
        turned = hashing.dihedral(hashing.trim_borders(frame))
        # The count is capped too: a hostile file's declared duration means nothing.
        probe_due = not probes or (
            len(probes) < MAX_PROBES
            and offset - probes[-1].t_seconds >= min_gap
            and hashing.hamming(turned[0][0], probes[-1].hashes.pdq) > PROBE_DEDUP_BITS
        )
        if not (still_due or probe_due):
            continue
        hashes = hashing.complete(frame, turned)
        if probe_due:
            probes.append(Probe(offset, hashes))
        if still_due:
            rgb = as_rgb(raw, width, height)
            stills.append(keep_as_still(rgb, len(stills), offset, hashes))
            if not found or offset - found[-1].t_seconds >= keyframe_gap - 0.005:
                found.append(keyframes.keyframe(rgb, offset))
    return Frames(stills, probes, found)


def picture(img: Image.Image) -> npt.NDArray[np.uint8]:
    """A photo's pixels as its still shows them."""
    rgb = img.convert("RGB")
    rgb.thumbnail((MAX_SIDE, MAX_SIDE))
    return np.asarray(rgb)


def still_hashes(jpeg: bytes) -> FrameHashes:
    """A stored still's hashes as the current scheme makes them: the path a photo takes
    (`image_frames`). The re-hash of old index rows uses it (mvq.matching.rehash)."""
    with Image.open(io.BytesIO(jpeg)) as img:
        return hashing.frame_hashes(picture(img))


def image_frames(img: Image.Image) -> Frames:
    pixels = picture(img)
    hashes = hashing.frame_hashes(pixels)
    return Frames(
        [keep_as_still(pixels, 0, 0.0, hashes)],
        [Probe(0.0, hashes)],
        [keyframes.keyframe(pixels, 0.0)],
    )


def thumbnail(jpeg: bytes, max_side: int = 320) -> bytes:
    with Image.open(io.BytesIO(jpeg)) as img:
        rgb = img.convert("RGB")
    rgb.thumbnail((max_side, max_side))
    return encode_jpeg(rgb, quality=80)


def contact_sheet(stills: list[Still]) -> bytes:
    """Up to 16 evenly spread stills in a grid, each stamped with its time in the clip."""
    step = max(1, len(stills) / SHEET_CELLS)
    chosen = [stills[int(i * step)] for i in range(min(SHEET_CELLS, len(stills)))]
    cells = []
    for still in chosen:
        with Image.open(io.BytesIO(still.jpeg)) as img:
            cell = img.convert("RGB")
        cell.thumbnail((SHEET_CELL_WIDTH, SHEET_CELL_WIDTH))
        ImageDraw.Draw(cell).text((4, 4), f"{still.t_seconds:.1f}s", fill=(255, 255, 0))
        cells.append(cell)
    cell_h = max(c.height for c in cells)
    rows = -(-len(cells) // SHEET_COLUMNS)
    sheet = Image.new("RGB", (SHEET_COLUMNS * SHEET_CELL_WIDTH, rows * cell_h))
    for n, cell in enumerate(cells):
        sheet.paste(cell, ((n % SHEET_COLUMNS) * SHEET_CELL_WIDTH, (n // SHEET_COLUMNS) * cell_h))
    return encode_jpeg(sheet)
