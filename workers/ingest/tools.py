"""Run ffmpeg/ffprobe on hostile input: no stdin, local files only, pinned demuxer,
a wall-clock timeout and an address-space cap."""

import resource
import subprocess
from collections.abc import Sequence

from mvq.settings import get_settings


class ToolTimeout(Exception):
    pass


class ToolFailed(Exception):
    def __init__(self, stderr: str) -> None:
        super().__init__(stderr[-500:])
        self.stderr = stderr


def _limit_memory(limit: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def run(argv: Sequence[str], *, timeout: float | None = None) -> bytes:
    settings = get_settings()
    limit = settings.ffmpeg_memory_bytes
    try:
        done = subprocess.run(
            list(argv),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout or settings.ffmpeg_timeout_seconds,
            preexec_fn=lambda: _limit_memory(limit),  # noqa: PLW1509 - no threads before exec
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ToolTimeout(f"{argv[0]} exceeded {exc.timeout}s") from exc
    if done.returncode != 0:
        raise ToolFailed(done.stderr.decode(errors="replace"))
    return done.stdout


def input_args(path: str, demuxer: str) -> list[str]:
    """The hardened input half of every ffmpeg/ffprobe call."""
    return ["-protocol_whitelist", "file", "-f", demuxer, "-i", f"file:{path}"]
