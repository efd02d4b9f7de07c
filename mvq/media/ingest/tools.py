"""Run ffmpeg/ffprobe on hostile input: no stdin, local files only, pinned demuxer,
a wall-clock timeout and an address-space cap."""

import os
import re
import subprocess
import tempfile
import threading
from collections import deque
from collections.abc import Iterator, Sequence

from mvq.settings import get_settings


class ToolTimeout(Exception):
    pass


class ToolFailed(Exception):
    def __init__(self, stderr: str) -> None:
        super().__init__(stderr[-500:])
        self.stderr = stderr


# What ffmpeg says when a file stops before its container does: the index (MP4's moov) never
# came, or the data ends before the index says. The unit can act on that (send the whole
# file again), unlike other damage.
TRUNCATION_SIGNS = ("moov atom not found", "partial file", "end of file")


def failure_reason(stderr: str) -> str:
    """`truncated` or `corrupt`, from a failed tool's message."""
    lowered = stderr.lower()
    return "truncated" if any(sign in lowered for sign in TRUNCATION_SIGNS) else "corrupt"


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


def stream_timed(
    argv: Sequence[str], *, record_size: int, times: re.Pattern[str], timeout: float | None = None
) -> Iterator[tuple[bytes, float]]:
    """Yields stdout in records of `record_size` bytes (raw video frames) as they are made,
    each with the time the tool logged for it (the first group of the n-th line of its log
    matching `times`, e.g. showinfo's pts_time), so a long clip never sits in memory whole.
    The log is read as it grows: a filter logs a frame before the frame reaches the output,
    and a record whose line is not there yet waits for it. The timeout covers the whole run."""
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
        log = _GrowingLog(errors.fileno(), times)
        waiting: deque[bytes] = deque()
        sent = 0
        try:
            assert proc.stdout is not None
            while record := proc.stdout.read(record_size):
                if len(record) < record_size:
                    break
                waiting.append(record)
                log.catch_up()
                while waiting and sent < len(log.times):
                    yield waiting.popleft(), log.times[sent]
                    sent += 1
            code = proc.wait()
        finally:
            timer.cancel()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if expired.is_set():
            raise ToolTimeout(f"{argv[0]} exceeded {limit}s")
        log.catch_up()
        if code != 0 or failure_reason(log.text()) == "truncated":
            # ffmpeg decodes what there is of a cut file and exits 0: judged on part of the
            # footage, a claim would be reviewed on less than the unit meant to send.
            raise ToolFailed(log.text())
        if len(log.times) < sent + len(waiting):
            raise ToolFailed(f"{len(log.times)} frame times for {sent + len(waiting)} frames")
        for record in waiting:
            yield record, log.times[sent]
            sent += 1


class _GrowingLog:
    """A tool's stderr, written to a file, read from where the last read stopped."""

    def __init__(self, fd: int, times: re.Pattern[str]) -> None:
        self.fd, self.pattern, self.offset = fd, times, 0
        self.partial, self.tail = b"", b""
        self.times: list[float] = []

    def catch_up(self) -> None:
        while chunk := os.pread(self.fd, 1 << 16, self.offset):
            self.offset += len(chunk)
            *lines, self.partial = (self.partial + chunk).split(b"\n")
            for line in lines:
                if match := self.pattern.search(line.decode(errors="replace")):
                    self.times.append(float(match.group(1)))
            self.tail = (self.tail + chunk)[-4096:]

    def text(self) -> str:
        return self.tail.decode(errors="replace")


def input_args(path: str, demuxer: str) -> list[str]:
    """The hardened input half of every ffmpeg/ffprobe call."""
    return ["-protocol_whitelist", "file", "-f", demuxer, "-i", f"file:{path}"]
