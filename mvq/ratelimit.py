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


def attempt(*, bucket: str, limits: dict[str, int], window_seconds: int) -> list[str]:
    """Counts one attempt against every subject in `limits` (subject -> attempts allowed per
    window) before the attempt is judged, in one MULTI/EXEC, so parallel attempts see each
    other's counts. Refuses when any subject is past its limit. Returns the keys counted, for
    `refund` once the attempt turns out not to count (a login that succeeded).

    A refund lowers a count only by what the same attempt added, so the count never drops
    below the attempts that were let through and failed: at most `allowed` of those.
    """
    now = time.time()
    keys = [_key(bucket, subject, window_seconds, now) for subject in limits]
    pipe = redis_conn().pipeline(transaction=True)
    for key in keys:
        pipe.incr(key)
        pipe.expire(key, window_seconds * 2)
    counts = pipe.execute()[::2]
    for count, allowed in zip(counts, limits.values(), strict=True):
        if int(count) > allowed:
            # A refused attempt is not judged, so it does not count either: hammering a
            # locked-out account must not use up the allowance of the client's other users.
            refund(keys)
            raise _refuse(allowed, window_seconds, now)
    return keys


def refund(keys: list[str]) -> None:
    pipe = redis_conn().pipeline(transaction=True)
    for key in keys:
        pipe.decr(key)
    pipe.execute()
