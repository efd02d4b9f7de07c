"""Stills for the reviewer and the matcher: frames sampled by time (default 1 a second,
capped for long clips) in one decoding pass, each stored as a small JPEG with its PDQ hash,
plus a contact sheet per video."""

import io
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

from workers.ingest import hashing, tools
from workers.ingest.probe import VideoInfo

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
    digest, quality = hashing.pdq(rgb)
    img = Image.fromarray(rgb)
    return Still(index, t_seconds, encode_jpeg(img), img.width, img.height, digest, quality)


def video_stills(path: str, info: VideoInfo, *, fps: float, max_frames: int) -> Iterator[Still]:
    rate = sample_rate(info.duration, fps=fps, max_frames=max_frames)
    width, height = scaled_size(info.display_width, info.display_height)
    argv = [
        "ffmpeg", "-nostdin", "-v", "error", "-threads", "2",
        *tools.input_args(path, info.demuxer),
        "-map", "0:v:0", "-an", "-sn", "-dn",
        "-vf", f"fps={rate:.6f},scale={width}:{height}:flags=area",
        "-frames:v", str(max_frames), "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1",
    ]  # fmt: skip
    for index, raw in enumerate(tools.stream(argv, record_size=width * height * 3)):
        rgb = np.frombuffer(raw, np.uint8).reshape(height, width, 3)
        yield still_from(rgb, index, round(index / rate, 3))


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
