"""The ingest pipeline for one file: verify → identify → probe → frames. Pure of the database:
it takes a local path and returns what it found, or raises Rejected with a reason."""

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workers.ingest import frames, probe, tools
from workers.ingest.sniff import sniff

FRAME_COUNT = 5


class Rejected(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Still:
    index: int
    t_seconds: float
    jpeg: bytes


@dataclass(frozen=True)
class Result:
    sha256: str
    size: int
    facts: dict[str, Any]
    stills: list[Still]


def file_sha256(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def analyse(path: Path, *, declared_sha256: str, frame_count: int = FRAME_COUNT) -> Result:
    sha256, size = file_sha256(path)
    if sha256 != declared_sha256:
        raise Rejected("checksum_mismatch", f"stored file hashes to {sha256}")
    sniffed = sniff(path)
    if sniffed is None:
        raise Rejected("unsupported_format", "not a recognised video or image container")
    try:
        if sniffed.kind == "image":
            facts = probe.probe_image(path, sniffed)
            stills = [Still(0, 0.0, frames.image_frame(path))]
        else:
            facts = probe.probe_video(path, sniffed)
            times = frames.sample_times(facts["duration_seconds"], frame_count)
            stills = [
                Still(i, t, frames.video_frame(path, sniffed, t)) for i, t in enumerate(times)
            ]
            stills = [s for s in stills if s.jpeg]
            if not stills:
                raise Rejected("corrupt", "no frame could be decoded")
    except probe.Unreadable as exc:
        raise Rejected("corrupt", str(exc)) from exc
    except tools.ToolTimeout as exc:
        raise Rejected("timeout", str(exc)) from exc
    except tools.ToolFailed as exc:
        raise Rejected("corrupt", exc.stderr[-300:]) from exc
    return Result(sha256=sha256, size=size, facts=facts, stills=stills)
