"""Fixed-window counters kept in Redis, so every API replica counts together."""

import hashlib
import math
import time

from mvq.errors import RateLimited
from mvq.queue import redis_conn

WINDOW_SECONDS = 60


def _key(bucket: str, subject: str, window_seconds: int, now: float) -> str:
    # Subjects may be e-mail addresses; only a digest of them goes into Redis.
    digest = hashlib.sha256(subject.encode()).hexdigest()[:32]
    return f"mvq:ratelimit:{bucket}:{digest}:{int(now // window_seconds)}"


def _refuse(limit: int, window_seconds: int, now: float) -> RateLimited:
    wait = math.ceil(window_seconds - now % window_seconds)
    return RateLimited(
        f"more than {limit} attempts in {window_seconds} s; retry later", retry_after=wait
    )


def _count(key: str, window_seconds: int) -> int:
    pipe = redis_conn().pipeline()
    pipe.incr(key)
    pipe.expire(key, window_seconds * 2)
    count, _ = pipe.execute()
    return int(count)


def check(*, bucket: str, subject: str, per_minute: int) -> None:
    """Counts this request, and refuses it past `per_minute` in the current minute."""
    now = time.time()
    if _count(_key(bucket, subject, WINDOW_SECONDS, now), WINDOW_SECONDS) > per_minute:
        raise _refuse(per_minute, WINDOW_SECONDS, now)


def refuse_if_exhausted(*, bucket: str, subject: str, allowed: int, window_seconds: int) -> None:
    """Refuses when `allowed` failures were already counted in this window (see `fail`)."""
    now = time.time()
    count = redis_conn().get(_key(bucket, subject, window_seconds, now))
    if count is not None and int(count) >= allowed:
        raise _refuse(allowed, window_seconds, now)


def fail(*, bucket: str, subject: str, window_seconds: int) -> None:
    _count(_key(bucket, subject, window_seconds, time.time()), window_seconds)
