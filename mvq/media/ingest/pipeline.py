"""The ingest pipeline for one local file: verify → identify → probe → metadata → telemetry
→ stills with PDQ → contact sheet → provenance. It knows nothing of S3 or the database, so
`mvq analyze` runs exactly what the workers run."""

import functools
import hashlib
import importlib.metadata
import logging
import os
import platform
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pdqhash
import PIL

from mvq.media.ingest import (
    frames,
    hashing,
    metadata,
    ocr,
    osd,
    probe,
    provenance,
    telemetry,
    tools,
)
from mvq.media.ingest.keyframes import Keyframe
from mvq.media.ingest.probe import Rejected
from mvq.media.ingest.sniff import sniff
from mvq.settings import get_settings

__all__ = ["Analysis", "Rejected", "analyse", "file_sha256"]
MAX_TELEMETRY_BYTES = 64 * 1024**2
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Analysis:
    sha256: str
    size: int
    facts: dict[str, Any]
    stills: list[frames.Still]
    probes: list[frames.Probe]  # in memory only: the matcher queries with them once
    keyframes: list[Keyframe]  # indexed for geometric matching; their mirrors query only
    contact_sheet: bytes | None


def file_sha256(path: Path) -> tuple[str, int]:
    """Streamed: a multi-gigabyte original never sits in memory."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _ffmpeg_version() -> str:
    """The version line of the ffmpeg on PATH, asked once per binary: running `ffmpeg -version`
    for every file cost 40-50 ms of CPU, a fortieth of a short clip's whole analysis. The
    binary's identity (path, inode, mtime, size) is the key, so one replaced under a running
    worker is asked again and the chain of custody names the ffmpeg that made the frames."""
    path = shutil.which("ffmpeg") or "ffmpeg"
    try:
        stat = os.stat(path)
    except OSError:  # let running it say what is wrong
        return _version_of(path, 0, 0, 0)
    return _version_of(path, stat.st_ino, stat.st_mtime_ns, stat.st_size)


@functools.cache
def _version_of(path: str, inode: int, mtime_ns: int, size: int) -> str:
    first = tools.run([path, "-version"]).decode(errors="replace").splitlines()[0]
    return first.split(" Copyright")[0]


def derivation(rate: float | None) -> dict[str, Any]:
    """How the derived objects were made, for the chain of custody."""
    return {
        "tools": {"ffmpeg": _ffmpeg_version(), "pillow": PIL.__version__,
                  "pdqhash": getattr(pdqhash, "__version__", "0.2"),
                  "python": platform.python_version(),
                  "rapidocr": importlib.metadata.version("rapidocr-onnxruntime")},
        "frames": {"fps": rate, "max_side": frames.MAX_SIDE, "format": "jpeg q82",
                   "scaler": "ffmpeg area", "decoder_skips": "noref",
                   "hash_side": hashing.HASH_SIDE},
        "contact_sheet": {"cells": frames.SHEET_CELLS, "cell_width": frames.SHEET_CELL_WIDTH},
        "osd": {"stills": get_settings().osd_stills, "bands": ocr.BAND},
    }  # fmt: skip


def _stream_bytes(path: Path, info: probe.VideoInfo, index: int, *output: str) -> bytes:
    """One stream of the file, copied or converted by ffmpeg, capped in size."""
    argv = ["ffmpeg", "-nostdin", "-v", "error", *tools.input_args(str(path), info.demuxer),
            "-map", f"0:{index}", *output, "pipe:1"]  # fmt: skip
    return tools.run(argv)[:MAX_TELEMETRY_BYTES]


def _telemetry(path: Path, info: probe.VideoInfo) -> dict[str, Any] | None:
    for stream in info.streams_of("data"):
        raw = _stream_bytes(path, info, stream["index"], "-c", "copy", "-f", "data")
        if summary := telemetry.summarise("misb0601", telemetry.parse_klv(raw)):
            return summary
    for stream in info.streams_of("subtitle"):
        text = _stream_bytes(path, info, stream["index"], "-f", "srt").decode(errors="replace")
        if summary := telemetry.summarise("srt", telemetry.parse_srt(text)):
            return summary
    return None


def _overlay(stills: list[frames.Still]) -> dict[str, Any] | None:
    """What the picture's own overlay says of time and place, if it has one."""
    settings = get_settings()
    if settings.osd_stills == 0:
        return None
    try:
        texts = ocr.read_stills(stills, count=settings.osd_stills)
    except Exception:
        # OCR reads the picture, which is already decoded and good; its failing says nothing
        # about the file, which keeps every other fact.
        log.exception("reading the on-screen display failed")
        return None
    offset = round(settings.osd_clock_offsets_hours[0] * 60)
    return osd.summarise(texts, assumed_offset_minutes=offset)


def _video(path: Path, info: probe.VideoInfo) -> tuple[dict[str, Any], frames.Frames]:
    settings = get_settings()
    found = frames.video_frames(
        str(path), info, fps=settings.frame_fps, max_frames=settings.max_frames
    )
    if not found.stills:
        raise Rejected("corrupt", "no frame could be decoded")
    rate = frames.sample_rate(info.duration, fps=settings.frame_fps, max_frames=settings.max_frames)
    facts = {
        "kind": "video", "container": info.container, "format_name": info.format_name,
        "duration_seconds": info.duration, "width": info.display_width,
        "height": info.display_height, "rotation": info.rotation, "video_codec": info.codec,
        "fps": info.fps, "bit_rate": info.bit_rate, "tags": info.tags, "streams": info.streams,
        **metadata.video_facts(info.tags, info.stream_tags),
        "telemetry": _telemetry(path, info), "derivation": derivation(rate),
    }  # fmt: skip
    return facts, found


def analyse(path: Path, *, declared_sha256: str | None = None) -> Analysis:
    try:
        return _analyse(path, declared_sha256)
    except Rejected as exc:
        # Tool messages name the worker's scratch path; that is ours, not the reviewer's.
        raise Rejected(exc.reason, exc.detail.replace(str(path), "<input>")) from exc
    except Exception as exc:
        # Hostile input can trip any parser in ways no one listed; it fails the file, not
        # the worker. Infrastructure errors (S3, database) happen outside and do retry.
        log.exception("unexpected error analysing media")
        raise Rejected("corrupt", f"unreadable: {type(exc).__name__}") from exc


def _analyse(path: Path, declared_sha256: str | None) -> Analysis:
    sha256, size = file_sha256(path)
    if declared_sha256 is not None and sha256 != declared_sha256:
        raise Rejected("checksum_mismatch", f"stored file hashes to {sha256}")
    sniffed = sniff(path)
    if sniffed is None:
        raise Rejected("unsupported_format", "not a recognised video or image container")
    try:
        if sniffed.kind == "image":
            info, img = probe.probe_image(path, sniffed)
            found = frames.image_frames(img)
            facts = {"kind": "image", "container": info.container, "width": info.width,
                     "height": info.height, "duration_seconds": None, **info.exif,
                     "telemetry": None, "derivation": derivation(None)}  # fmt: skip
        else:
            facts, found = _video(path, probe.probe_video(path, sniffed))
    except tools.ToolTimeout as exc:
        raise Rejected("timeout", str(exc)) from exc
    except tools.ToolFailed as exc:
        raise Rejected(tools.failure_reason(exc.stderr), exc.stderr[-300:]) from exc
    facts["osd"] = _overlay(found.stills)
    facts["c2pa"] = provenance.c2pa_status(path, sniffed.container)
    sheet = frames.contact_sheet(found.stills) if facts["kind"] == "video" else None
    return Analysis(sha256=sha256, size=size, facts=facts, stills=found.stills,
                    probes=found.probes, keyframes=found.keyframes,
                    contact_sheet=sheet)  # fmt: skip
