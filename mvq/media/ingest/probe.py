"""What a file is: ffprobe for video, Pillow for photos, checked against the limits."""

import json
import warnings
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from PIL import Image

from mvq.media.ingest import tools
from mvq.media.ingest.metadata import exif_facts
from mvq.media.ingest.sniff import Sniffed
from mvq.settings import get_settings

VIDEO_CODECS = frozenset({"h264", "hevc", "vp8", "vp9", "av1", "mpeg4", "mpeg2video", "mjpeg"})


class Rejected(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass
class VideoInfo:
    container: str
    demuxer: str
    format_name: str
    duration: float
    width: int
    height: int
    codec: str
    fps: float | None
    bit_rate: int | None
    tags: dict[str, str]
    stream_tags: dict[str, str]
    rotation: int = 0
    streams: list[dict[str, Any]] = field(default_factory=list)

    @property
    def display_width(self) -> int:
        """ffmpeg turns frames upright when decoding; a quarter turn swaps the sides."""
        return self.height if self.rotation % 180 else self.width

    @property
    def display_height(self) -> int:
        return self.width if self.rotation % 180 else self.height

    def streams_of(self, codec_type: str) -> list[dict[str, Any]]:
        return [s for s in self.streams if s["codec_type"] == codec_type]

    def has_stream(self, codec_type: str) -> bool:
        return any(s["codec_type"] == codec_type for s in self.streams)


def _rate(text: str | None) -> float | None:
    try:
        value = float(Fraction(text or "0/0"))
    except (ValueError, ZeroDivisionError):
        return None
    return round(value, 3) if value > 0 else None


def _rotation(video: dict[str, Any]) -> int:
    for side in video.get("side_data_list", []):
        if "rotation" in side:
            return int(float(side["rotation"])) % 360
    return int(float(video.get("tags", {}).get("rotate", 0) or 0)) % 360


def probe_video(path: Path, sniffed: Sniffed) -> VideoInfo:
    assert sniffed.demuxer is not None
    settings = get_settings()
    try:
        # ffprobe has no -nostdin; tools.run gives it /dev/null as stdin.
        out = tools.run(
            [
                "ffprobe",
                "-v",
                "error",
                "-print_format",
                "json",
                "-show_format",
                "-show_streams",
                *tools.input_args(str(path), sniffed.demuxer),
            ]
        )
    except tools.ToolFailed as exc:
        raise Rejected(tools.failure_reason(exc.stderr), exc.stderr[-300:]) from exc
    info = json.loads(out)
    streams = info.get("streams", [])
    video = next(
        (
            s
            for s in streams
            if s.get("codec_type") == "video" and not s.get("disposition", {}).get("attached_pic")
        ),
        None,
    )
    if video is None:
        raise Rejected("corrupt", "no video stream")
    if video.get("codec_name") not in VIDEO_CODECS:
        raise Rejected("unsupported_format", f"video codec {video.get('codec_name')!r}")
    fmt = info.get("format", {})
    width, height = int(video.get("width") or 0), int(video.get("height") or 0)
    if width <= 0 or height <= 0:
        raise Rejected("corrupt", "video stream has no size")
    if width * height > settings.max_video_pixels:
        raise Rejected("too_large", f"{width}x{height} is over {settings.max_video_pixels} pixels")
    duration = float(fmt.get("duration") or video.get("duration") or 0.0)
    if duration > settings.max_duration_seconds:
        raise Rejected("too_long", f"{duration:.0f} s is over {settings.max_duration_seconds} s")
    return VideoInfo(
        container=sniffed.container,
        demuxer=sniffed.demuxer,
        format_name=str(fmt.get("format_name", "")),
        duration=duration,
        width=width,
        height=height,
        codec=str(video.get("codec_name")),
        fps=_rate(video.get("avg_frame_rate")) or _rate(video.get("r_frame_rate")),
        bit_rate=int(fmt["bit_rate"]) if str(fmt.get("bit_rate", "")).isdigit() else None,
        tags={str(k).lower(): str(v) for k, v in fmt.get("tags", {}).items()},
        stream_tags={str(k).lower(): str(v) for k, v in video.get("tags", {}).items()},
        rotation=_rotation(video),
        streams=[
            {
                "index": s.get("index"),
                "codec_type": s.get("codec_type"),
                "codec_name": s.get("codec_name"),
                "codec_tag": s.get("codec_tag_string"),
                "width": s.get("width"),
                "height": s.get("height"),
                "frame_rate": s.get("avg_frame_rate"),
                "duration": s.get("duration"),
                "handler": s.get("tags", {}).get("handler_name"),
            }
            for s in streams
        ],
    )


@dataclass
class ImageInfo:
    container: str
    width: int
    height: int
    exif: dict[str, Any]


def open_image(path: Path) -> Image.Image:
    """Opens a photo with the decompression-bomb guard as a hard error, not a warning."""
    Image.MAX_IMAGE_PIXELS = get_settings().max_image_pixels
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            img = Image.open(path)
            img.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise Rejected("too_large", str(exc)[:200]) from exc
        except (OSError, SyntaxError, ValueError) as exc:
            raise Rejected("corrupt", str(exc)[:200]) from exc
    return img


def probe_image(path: Path, sniffed: Sniffed) -> tuple[ImageInfo, Image.Image]:
    img = open_image(path)
    return ImageInfo(sniffed.container, img.width, img.height, exif_facts(img)), img
