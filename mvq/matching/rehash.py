"""Re-hashing the frame index's old rows: those indexed before the current matching scheme
(`models.SCHEME`), hashed at the still's 640 px and without every variant. Each is hashed again
from its stored still, by the path a photo takes through the pipeline
(`frames.still_hashes`), so it meets the copies the current scheme finds.

A run walks the old rows in `seq` order, a batch at a time: it fetches and hashes a batch's
stills outside any transaction, then writes their hashes, marks them current and records its
position, all in one. A killed run loses at most the batch in flight and resumes after the
position; a batch run twice changes nothing (only rows still old are written). A row whose
still is gone keeps its old hashes and is counted as missing (nothing stored is dropped);
status shows those as the old rows at or below the position.

Only the index rows are written. A frame's own hash columns are what ingest computed from the
decoded picture; they are read again only when a file is indexed anew, which follows
processing it again from its original.

A row keeps its `seq`, so the segments holding it (segments.py) still count the same rows and
would keep its old hashes for good: the compaction job asks `stale_segments` which ones the
re-hash has finished with since it last looked, and rebuilds them from the database
(compaction.py). A segment the re-hash is still inside waits until it is through, so a run of
many hours rebuilds each segment once. Rows after the newest segment reach the workers when
compaction writes them into one, as every row does.
"""

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from botocore.exceptions import ClientError
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from mvq import queue, storage
from mvq.db import session_scope
from mvq.matching.models import SCHEME, IndexedFrame, IndexRehash
from mvq.media.ingest.frames import still_hashes
from mvq.media.ingest.hashing import FrameHashes
from mvq.media.models import Frame

log = logging.getLogger(__name__)
LOCK, LOCK_SECONDS = "mvq:index-rehash", 120
# Stills fetched and hashed at once: S3's round trips overlap, and JPEG decoding and PDQ's
# C++ run beside each other: 8 threads hashed 60 stills a second where one did 17 (2 cores,
# bench/rehash.py).
THREADS = 8


class OldRow(NamedTuple):
    seq: int
    still_key: str


@dataclass
class Progress:
    """One run's: rows done of the old rows it found ahead of the position when it began."""

    total: int
    done: int = 0
    missing: int = 0  # stills that could not be read: those rows keep their old hashes
    position: int = 0
    started: float = field(default_factory=time.monotonic)

    def rate(self, now: float) -> float:
        return self.done / max(now - self.started, 1e-9)

    def eta_seconds(self, now: float) -> float | None:
        rate = self.rate(now)
        return (self.total - self.done) / rate if rate > 0 else None

    def line(self, now: float | None = None) -> str:
        now = time.monotonic() if now is None else now
        eta = self.eta_seconds(now)
        return (f"rehash: {self.done}/{self.total} rows, {self.rate(now):.0f} rows/s, "
                f"eta {'?' if eta is None else f'{eta:.0f} s'}, missing {self.missing}, "
                f"position {self.position}")  # fmt: skip


def position(session: Session) -> int:
    return session.scalar(select(IndexRehash.position)) or 0


def old_rows(session: Session, *, after: int, up_to: int | None = None) -> int:
    query = select(func.count()).where(IndexedFrame.scheme.is_(None), IndexedFrame.seq > after)
    if up_to is not None:
        query = query.where(IndexedFrame.seq <= up_to)
    return session.scalar(query) or 0


def backlog(session: Session) -> int:
    """Old rows the re-hash has still to reach."""
    return old_rows(session, after=position(session))


def next_batch(session: Session, *, after: int, size: int) -> list[OldRow]:
    rows = session.execute(
        select(IndexedFrame.seq, Frame.s3_key).join(Frame, Frame.id == IndexedFrame.frame_id)
        .where(IndexedFrame.scheme.is_(None), IndexedFrame.seq > after)
        .order_by(IndexedFrame.seq).limit(size)
    )  # fmt: skip
    return [OldRow(seq, key) for seq, key in rows]


HASH_COLUMNS = ("pdq", "pdq_center", "pdq_upper", "pdq_9x16", "pdq_4x5")


def columns(hashes: FrameHashes) -> dict[str, str]:
    """An index row's hash columns, as `service.index_frames` fills them from a frame's."""
    made = (hashes.pdq, hashes.center, hashes.upper, hashes.vertical_9x16, hashes.vertical_4x5)
    return dict(zip(HASH_COLUMNS, made, strict=True))


# Only a row still old is written: a batch run again (after a crash before its position was
# recorded, or by a second run) changes nothing.
_UPDATE = (
    update(IndexedFrame)
    .where(IndexedFrame.seq == bindparam("b_seq"), IndexedFrame.scheme.is_(None))
    .values(scheme=SCHEME, **{name: bindparam(f"b_{name}") for name in HASH_COLUMNS})
)


def save(session: Session, hashed: Sequence[tuple[int, FrameHashes]], *, reached: int) -> None:
    """The batch's new hashes and the position after it, in the session's transaction."""
    if hashed:
        params = [{"b_seq": seq, **{f"b_{k}": v for k, v in columns(h).items()}}
                  for seq, h in hashed]  # fmt: skip
        session.connection().execute(_UPDATE, params)
    state = session.get(IndexRehash, 1)
    if state is None:
        session.add(IndexRehash(id=1, position=reached))
    else:
        state.position = max(state.position, reached)


def _hash(fetch: Callable[[str], bytes], row: OldRow) -> FrameHashes | None:
    try:
        return still_hashes(fetch(row.still_key))
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in {"NoSuchKey", "404"}:
            raise
        log.warning("still missing, row left as it was", extra={"seq": row.seq,
                                                                "key": row.still_key})  # fmt: skip
        return None


def run(
    *, batch: int, limit: int | None = None, seconds: float | None = None,
    fetch: Callable[[str], bytes] = storage.get_bytes,
    report: Callable[[Progress], None] = lambda p: log.info(p.line()),
) -> Progress:  # fmt: skip
    """Re-hashes old rows after the position until none is left, `limit` rows are done or
    `seconds` have passed (checked between batches); `report` hears of every batch."""
    with session_scope() as session:
        at = position(session)
        progress = Progress(total=old_rows(session, after=at), position=at)
    if limit is not None:
        progress.total = min(progress.total, limit)
    with ThreadPoolExecutor(THREADS) as pool:
        while progress.done < progress.total:
            if seconds is not None and time.monotonic() - progress.started > seconds:
                break
            with session_scope() as session:
                rows = next_batch(session, after=progress.position,
                                  size=min(batch, progress.total - progress.done))  # fmt: skip
            if not rows:
                break
            found = list(pool.map(lambda row: _hash(fetch, row), rows))
            hashed = [(row.seq, h) for row, h in zip(rows, found, strict=True) if h is not None]
            with session_scope() as session:
                save(session, hashed, reached=rows[-1].seq)
            progress.done += len(rows)
            progress.missing += len(rows) - len(hashed)
            progress.position = rows[-1].seq
            report(progress)
    return progress


class Busy(Exception):
    """Another re-hash holds the lock."""


def run_locked(**kwargs: Any) -> Progress:
    """`run`, one at a time across every host (an operator's and the queue's). The lock is
    renewed every batch, so a run killed outright holds it for LOCK_SECONDS at most."""
    lock = queue.redis_conn().lock(LOCK, timeout=LOCK_SECONDS, blocking=False)
    if not lock.acquire():
        raise Busy
    report = kwargs.pop("report", lambda p: log.info(p.line()))

    def renewing(progress: Progress) -> None:
        lock.reacquire()
        report(progress)

    try:
        return run(**kwargs, report=renewing)
    finally:
        lock.release()


def stale_segments(
    session: Session, manifests: Sequence[dict[str, Any]], *, since: int
) -> tuple[list[int], int]:
    """The listed frame segments (their numbers) holding rows the re-hash has finished with
    after `since` (the position at the last look), and the position now. One the re-hash is
    still inside (old rows beyond the position in its range) waits: it stays in the next
    look's range, as its end is beyond the position."""
    reached = position(session)
    stale = [n for n, m in enumerate(manifests)
             if m["lo"] < reached and m["hi"] > since
             and not old_rows(session, after=reached, up_to=m["hi"])]  # fmt: skip
    return stale, reached
