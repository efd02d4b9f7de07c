"""Identify a file by its first bytes, never by its name or declared type.

The result pins ffmpeg's demuxer: a playlist (HLS, concat) renamed `.mp4` would otherwise be
opened by its own demuxer, which can read local files or reach the network.
"""

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Sniffed:
    kind: str  # "video" or "image"
    container: str  # a name for people
    demuxer: str | None  # ffmpeg -f value for videos


MP4_BOXES = (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip")
TS_PACKET = 188


def sniff(path: Path) -> Sniffed | None:
    with path.open("rb") as fh:
        head = fh.read(TS_PACKET * 4)
    if head.startswith(b"\xff\xd8\xff"):
        return Sniffed("image", "jpeg", None)
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return Sniffed("image", "png", None)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return Sniffed("image", "webp", None)
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return Sniffed("video", "avi", "avi")
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return Sniffed("video", "matroska", "matroska")
    if len(head) >= 12 and head[4:8] in MP4_BOXES:
        return Sniffed("video", "mp4", "mov")
    if len(head) >= TS_PACKET * 3 and all(head[i * TS_PACKET] == 0x47 for i in range(3)):
        return Sniffed("video", "mpegts", "mpegts")
    return None
