"""Run ffmpeg/ffprobe on hostile input: no stdin, local files only, pinned demuxer,
a wall-clock timeout and an address-space cap."""

import subprocess
import tempfile
import threading
from collections.abc import Iterator, Sequence

from mvq.settings import get_settings


class ToolTimeout(Exception):
    pass


class ToolFailed(Exception):
    def __init__(self, stderr: str) -> None:
        super().__init__(stderr[-500:])
        self.stderr = stderr


def _capped(argv: Sequence[str]) -> list[str]:
    # prlimit (util-linux) caps the child's address space without a preexec_fn, which is
    # unsafe in a process that may have threads.
    return ["prlimit", f"--as={get_settings().ffmpeg_memory_bytes}", "--", *argv]


def run(argv: Sequence[str], *, timeout: float | None = None) -> bytes:
    settings = get_settings()
    try:
        done = subprocess.run(
            _capped(argv),
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


def stream(
    argv: Sequence[str],
    *,
    record_size: int,
    timeout: float | None = None,
    stderr_to: list[str] | None = None,
) -> Iterator[bytes]:
    """Yields stdout in records of `record_size` bytes (raw video frames) as they are made,
    so a long clip never sits in memory whole. The timeout covers the whole run. When given,
    `stderr_to` receives the tool's log lines once it has finished."""
    limit = timeout or get_settings().ffmpeg_timeout_seconds
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(
            _capped(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors
        )
        expired = threading.Event()

        def expire() -> None:
            expired.set()
            proc.kill()

        timer = threading.Timer(limit, expire)
        timer.start()
        try:
            assert proc.stdout is not None
            while record := proc.stdout.read(record_size):
                if len(record) < record_size:
                    break
                yield record
            code = proc.wait()
        finally:
            timer.cancel()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if expired.is_set():
            raise ToolTimeout(f"{argv[0]} exceeded {limit}s")
        errors.seek(0)
        log = errors.read().decode(errors="replace")
        if code != 0:
            raise ToolFailed(log)
        if stderr_to is not None:
            stderr_to.extend(log.splitlines())


def input_args(path: str, demuxer: str) -> list[str]:
    """The hardened input half of every ffmpeg/ffprobe call."""
    return ["-protocol_whitelist", "file", "-f", demuxer, "-i", f"file:{path}"]
