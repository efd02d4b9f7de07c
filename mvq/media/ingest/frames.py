"""Stills for the reviewer and the matcher: frames sampled by time (default 1 a second,
capped for long clips) in one decoding pass, each stored as a small JPEG with its PDQ hash,
plus a contact sheet per video."""

import io
import itertools
import re
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

from mvq.media.ingest import hashing, tools
from mvq.media.ingest.probe import VideoInfo

MAX_SIDE = 640  # PDQ downsamples to 64x64 anyway; reviewers get a clear still
SHEET_COLUMNS, SHEET_CELLS, SHEET_CELL_WIDTH = 4, 16, 240


@dataclass(frozen=True)
class Still:
    index: int
    t_seconds: float
    jpeg: bytes
    width: int
    height: int
    pdq: str
    pdq_quality: int
    pdq_center: str
    pdq_mirror: str
    pdq_upper: str


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


def still_from(rgb: npt.NDArray[np.uint8], index: int, t_seconds: float) -> Still:
    hashes = hashing.frame_hashes(rgb)
    img = Image.fromarray(rgb)
    return Still(index, t_seconds, encode_jpeg(img), img.width, img.height, hashes.pdq,
                 hashes.quality, hashes.center, hashes.mirror, hashes.upper)  # fmt: skip


def keyframes_are_enough(path: str, info: VideoInfo, rate: float) -> bool:
    """True when keyframes alone give a frame at least every 1.5/rate seconds, as phones and
    drones write them (one every second or two). Reading packet flags decodes nothing."""
    rows = tools.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-of", "csv=p=0",
                      "-show_entries", "packet=pts_time,flags",
                      *tools.input_args(path, info.demuxer)]).decode().split()  # fmt: skip
    packets = [(float(t), flags) for t, _, flags in (r.partition(",") for r in rows)
               if t not in ("", "N/A")]  # fmt: skip
    keys = sorted(t for t, flags in packets if "K" in flags)
    if not keys:
        return False
    bounds = [min(t for t, _ in packets), *keys, max(t for t, _ in packets)]
    return all(b - a <= 1.5 / rate for a, b in itertools.pairwise(bounds))


SHOWINFO_PTS = re.compile(r"Parsed_showinfo.*\bpts_time:\s*(-?[\d.]+)")


def as_rgb(raw: bytes, width: int, height: int) -> npt.NDArray[np.uint8]:
    return np.frombuffer(raw, np.uint8).reshape(height, width, 3)


def video_stills(path: str, info: VideoInfo, *, fps: float, max_frames: int) -> list[Still]:
    rate = sample_rate(info.duration, fps=fps, max_frames=max_frames)
    width, height = scaled_size(info.display_width, info.display_height)
    scale = f"scale={width}:{height}:flags=area"
    output = ["-map", "0:v:0", "-an", "-sn", "-dn", "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]
    if keyframes_are_enough(path, info, rate):
        # Decoding keyframes only costs a fraction of decoding the clip; showinfo reports
        # each decoded frame's own time, since they are not evenly spaced.
        argv = ["ffmpeg", "-nostdin", "-v", "info", "-threads", "2", "-skip_frame", "nokey",
                *tools.input_args(path, info.demuxer), "-fps_mode", "passthrough",
                "-vf", f"{scale},showinfo", *output]  # fmt: skip
        log: list[str] = []
        raws = tools.stream(argv, record_size=width * height * 3, stderr_to=log)
        decoded = [still_from(as_rgb(raw, width, height), 0, 0.0) for raw in raws]
        times = [float(m.group(1)) for m in map(SHOWINFO_PTS.search, log) if m]
        if len(times) == len(decoded) and decoded:
            return _thin(decoded, times, rate, max_frames)
    # Every frame must be decoded; skipping the deblocking filter saves about an eighth of
    # that and leaves PDQ within a few bits (docs/BENCHMARKS.md).
    argv = ["ffmpeg", "-nostdin", "-v", "error", "-threads", "2", "-skip_loop_filter", "all",
            *tools.input_args(path, info.demuxer),
            "-vf", f"fps={rate:.6f},{scale}", "-frames:v", str(max_frames), *output]  # fmt: skip
    raws = tools.stream(argv, record_size=width * height * 3)
    return [still_from(as_rgb(raw, width, height), n, round(n / rate, 3))
            for n, raw in enumerate(raws)]  # fmt: skip


def _thin(decoded: list[Still], times: list[float], rate: float, max_frames: int) -> list[Still]:
    """Keeps one keyframe per 1/rate seconds, each stamped with its own time in the clip."""
    start, due = times[0], 0.0
    kept: list[Still] = []
    for still, t in zip(decoded, times, strict=True):
        offset = t - start
        if offset + 1e-6 < due or len(kept) >= max_frames:
            continue
        kept.append(replace(still, index=len(kept), t_seconds=round(offset, 3)))
        due = offset + 0.75 / rate  # a keyframe a little early still counts for its second
    return kept


def image_still(img: Image.Image) -> Still:
    rgb = img.convert("RGB")
    rgb.thumbnail((MAX_SIDE, MAX_SIDE))
    return still_from(np.asarray(rgb), 0, 0.0)


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
