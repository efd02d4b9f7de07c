"""Fixed-window request limits kept in Redis, so every API replica counts together."""

import math
import time

from mvq.errors import RateLimited
from mvq.queue import redis_conn

WINDOW_SECONDS = 60


def check(*, bucket: str, subject: str, per_minute: int) -> None:
    now = time.time()
    window = int(now // WINDOW_SECONDS)
    key = f"mvq:ratelimit:{bucket}:{subject}:{window}"
    pipe = redis_conn().pipeline()
    pipe.incr(key)
    pipe.expire(key, WINDOW_SECONDS * 2)
    count, _ = pipe.execute()
    if int(count) > per_minute:
        wait = math.ceil(WINDOW_SECONDS - now % WINDOW_SECONDS)
        raise RateLimited(
            f"more than {per_minute} requests a minute; retry later", retry_after=wait
        )
