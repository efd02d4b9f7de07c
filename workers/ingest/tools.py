"""Run ffmpeg/ffprobe on hostile input: no stdin, local files only, pinned demuxer,
a wall-clock timeout and an address-space cap."""

import subprocess
from collections.abc import Sequence

from mvq.settings import get_settings


class ToolTimeout(Exception):
    pass


class ToolFailed(Exception):
    def __init__(self, stderr: str) -> None:
        super().__init__(stderr[-500:])
        self.stderr = stderr


def run(argv: Sequence[str], *, timeout: float | None = None) -> bytes:
    settings = get_settings()
    limit = settings.ffmpeg_memory_bytes
    try:
        done = subprocess.run(
            # prlimit (util-linux) caps the child's address space without a preexec_fn,
            # which is unsafe in a process that may have threads.
            ["prlimit", f"--as={limit}", "--", *argv],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout or settings.ffmpeg_timeout_seconds,
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
