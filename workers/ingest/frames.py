"""Stills for the reviewer: a few evenly spaced frames and one thumbnail."""

import io
from pathlib import Path

from PIL import Image

from workers.ingest import tools
from workers.ingest.sniff import Sniffed

FRAME_MAX_SIDE = 640
THUMB_MAX_SIDE = 320


def sample_times(duration: float, count: int) -> list[float]:
    if duration <= 0:
        return [0.0]
    step = duration / count
    return [round(step * (i + 0.5), 3) for i in range(count)]


def video_frame(path: Path, sniffed: Sniffed, t_seconds: float) -> bytes:
    assert sniffed.demuxer is not None
    return tools.run(
        [
            "ffmpeg",
            "-nostdin",
            "-v",
            "error",
            "-ss",
            f"{t_seconds:.3f}",
            *tools.input_args(str(path), sniffed.demuxer),
            "-frames:v",
            "1",
            "-vf",
            f"scale='min({FRAME_MAX_SIDE},iw)':-2",
            "-f",
            "image2pipe",
            "-c:v",
            "mjpeg",
            "-q:v",
            "4",
            "pipe:1",
        ]
    )


def image_frame(path: Path) -> bytes:
    with Image.open(path) as img:
        rgb = img.convert("RGB")
    rgb.thumbnail((FRAME_MAX_SIDE, FRAME_MAX_SIDE))
    out = io.BytesIO()
    rgb.save(out, "JPEG", quality=85)
    return out.getvalue()


def thumbnail(jpeg: bytes) -> bytes:
    with Image.open(io.BytesIO(jpeg)) as img:
        rgb = img.convert("RGB")
    rgb.thumbnail((THUMB_MAX_SIDE, THUMB_MAX_SIDE))
    out = io.BytesIO()
    rgb.save(out, "JPEG", quality=80)
    return out.getvalue()


def size_of(jpeg: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(jpeg)) as img:
        return img.size
