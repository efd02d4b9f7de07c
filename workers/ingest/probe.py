"""Facts about a file: ffprobe for video, Pillow for photos."""

import json
from pathlib import Path
from typing import Any

from PIL import Image

from workers.ingest import tools
from workers.ingest.sniff import Sniffed


class Unreadable(Exception):
    """The file is of a known type but cannot be read: corrupt or truncated."""


def probe_video(path: Path, sniffed: Sniffed) -> dict[str, Any]:
    assert sniffed.demuxer is not None
    try:
        out = tools.run(
            # ffprobe has no -nostdin; its stdin is /dev/null anyway (tools.run).
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
        raise Unreadable(exc.stderr[-300:]) from exc
    info = json.loads(out)
    video = next((s for s in info.get("streams", []) if s.get("codec_type") == "video"), None)
    if video is None:
        raise Unreadable("no video stream")
    fmt = info.get("format", {})
    duration = float(fmt.get("duration") or video.get("duration") or 0.0)
    return {
        "kind": "video",
        "container": sniffed.container,
        "format_name": fmt.get("format_name"),
        "duration_seconds": duration,
        "width": int(video.get("width") or 0),
        "height": int(video.get("height") or 0),
        "video_codec": video.get("codec_name"),
        "bit_rate": int(fmt["bit_rate"]) if fmt.get("bit_rate") else None,
        "tags": fmt.get("tags", {}),
        "streams": [
            {
                k: s.get(k)
                for k in (
                    "index",
                    "codec_type",
                    "codec_name",
                    "width",
                    "height",
                    "avg_frame_rate",
                    "duration",
                )
            }
            for s in info.get("streams", [])
        ],
    }


def probe_image(path: Path, sniffed: Sniffed) -> dict[str, Any]:
    try:
        with Image.open(path) as img:
            img.verify()
        with Image.open(path) as img:
            width, height = img.size
            exif = {str(k): str(v)[:200] for k, v in img.getexif().items()}
    except (OSError, SyntaxError, Image.DecompressionBombError) as exc:
        raise Unreadable(str(exc)) from exc
    return {
        "kind": "image",
        "container": sniffed.container,
        "duration_seconds": None,
        "width": width,
        "height": height,
        "exif": exif,
    }
