"""Every indexed frame a worker searches: immutable segments (memory-mapped files written by the
compaction job, `segments.py`) plus a tail in memory, the rows committed after the newest
segment, caught up from the database before each search.

A part is one stretch of `seq`: each kind's hashes and sorted tables, and per row its clip and
the time range it stands for. Rows are grouped by clip, each clip's in time order: a clip's
rows are committed in one transaction under the matching lock, so their `seq`s are consecutive.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from sqlalchemy import select
from sqlalchemy.orm import Session

from mvq.matching.index import Codes, Found, FrameIndex, from_hex, scan
from mvq.matching.models import IndexedFrame

KINDS = ("full", "center", "upper", "vertical_9x16", "vertical_4x5")
MEDIA_ID_BYTES = 36  # a UUID's text


class IndexRow(NamedTuple):
    media_id: str
    t_seconds: float
    full: str
    center: str
    upper: str
    vertical_9x16: str
    vertical_4x5: str
    t_until: float | None = None  # the last moment this frame stands for (deduplicated frames)


@dataclass
class Part:
    indexes: dict[str, FrameIndex]
    t: npt.NDArray[np.float32]
    t_until: npt.NDArray[np.float32]
    media_ids: npt.NDArray[np.bytes_]  # per clip number
    media_first: npt.NDArray[np.int64]  # clip n's rows are media_first[n]:media_first[n + 1]
    lo: int = 0  # the `seq`s this part holds: lo < seq <= hi
    hi: int = 0
    segment: str | None = None  # the manifest's SHA-256 of its rows, when mapped from a segment

    def __len__(self) -> int:
        return len(self.t)

    def search(
        self, kind: str, queries: Codes, radius: int, keys: npt.NDArray[np.uint32] | None = None
    ) -> Found:
        return self.indexes[kind].search(queries, radius, keys)

    def scan(self, kind: str, queries: Codes, radius: int, start: int) -> Found:
        """Only the rows from `start` on, compared directly."""
        return scan(self.indexes[kind].codes, queries, radius, start)

    def clips(self, rows: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """The number of the clip each row belongs to (a clip's rows are together, so no
        per-row column is kept for it: 4 bytes a frame)."""
        return np.searchsorted(self.media_first, rows, side="right") - 1

    def media_id(self, number: int) -> str:
        return bytes(self.media_ids[number]).decode()

    def span(self, number: int) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        """A clip's rows here: the times they start at and run until, in time order."""
        a, b = int(self.media_first[number]), int(self.media_first[number + 1])
        return self.t[a:b], self.t_until[a:b]


def empty_part(lo: int = 0) -> Part:
    return Part(
        indexes={k: FrameIndex() for k in KINDS},
        t=np.empty(0, np.float32),
        t_until=np.empty(0, np.float32),
        media_ids=np.empty(0, f"S{MEDIA_ID_BYTES}"),
        media_first=np.zeros(1, np.int64),
        lo=lo,
        hi=lo,
    )


def append(part: Part, rows: Sequence[IndexRow], *, hi: int | None = None) -> None:
    """Rows in `seq` order, each clip's together and in time order."""
    if not rows:
        return
    ids = [r.media_id for r in rows]
    # A new clip number wherever the clip changes from the row before.
    previous = bytes(part.media_ids[-1]).decode() if len(part.media_ids) else None
    changes = np.array([m != (ids[i - 1] if i else previous) for i, m in enumerate(ids)])
    starts = np.flatnonzero(changes)
    part.media_ids = np.concatenate(
        [part.media_ids, np.array([ids[i] for i in starts], f"S{MEDIA_ID_BYTES}")]
    )
    part.media_first = np.concatenate(
        [part.media_first[:-1], starts + len(part.t), [len(part.t) + len(rows)]]
    )
    part.t = np.concatenate([part.t, np.array([r.t_seconds for r in rows], np.float32)])
    part.t_until = np.concatenate([part.t_until, np.array(
        [r.t_seconds if r.t_until is None else r.t_until for r in rows], np.float32)])  # fmt: skip
    for kind in KINDS:
        part.indexes[kind].add(from_hex([getattr(r, kind) for r in rows]))
    if hi is not None:
        part.hi = hi


def row_of(frame: IndexedFrame) -> IndexRow:
    # Rows indexed before a variant existed fall back to their plain PDQ.
    return IndexRow(frame.media_id, frame.t_seconds, frame.pdq, frame.pdq_center,
                    frame.pdq_upper or frame.pdq, frame.pdq_9x16 or frame.pdq,
                    frame.pdq_4x5 or frame.pdq, frame.t_until)  # fmt: skip


BATCH = 100_000


def read_batch(session: Session, part: Part, *, up_to: int | None = None) -> bool:
    """Appends up to BATCH of the database's rows after `part.hi` (and up to `up_to`, if
    given); False when there were none left."""
    query = select(IndexedFrame).where(IndexedFrame.seq > part.hi)
    if up_to is not None:
        query = query.where(IndexedFrame.seq <= up_to)
    rows = session.scalars(query.order_by(IndexedFrame.seq).limit(BATCH)).all()
    if not rows:
        if up_to is not None:
            part.hi = up_to
        return False
    append(part, [row_of(r) for r in rows], hi=rows[-1].seq)
    return True


def read_rows(session: Session, part: Part, *, up_to: int | None = None) -> None:
    """Appends every row after `part.hi` (up to `up_to`, if given), a batch at a time."""
    while read_batch(session, part, up_to=up_to):
        pass


def concat(parts: Sequence[Part]) -> Part:
    """Adjacent parts, oldest first, as one (its tables are built when it is written)."""
    rows = np.cumsum([0] + [len(p) for p in parts])
    return Part(
        indexes={k: FrameIndex(np.concatenate([p.indexes[k].codes for p in parts])) for k in KINDS},
        t=np.concatenate([p.t for p in parts]),
        t_until=np.concatenate([p.t_until for p in parts]),
        media_ids=np.concatenate([p.media_ids for p in parts]),
        media_first=np.concatenate(
            [p.media_first[:-1] + r for p, r in zip(parts, rows, strict=False)] + [rows[-1:]]
        ),
        lo=parts[0].lo,
        hi=parts[-1].hi,
    )


@dataclass
class Catalogue:
    """What a worker searches: segments, oldest first, then the tail."""

    segments: list[Part] = field(default_factory=list)
    tail: Part = field(default_factory=empty_part)
    generation: str | None = None  # the segment list this was loaded from
    checked_at: float = 0.0  # monotonic time the segment list was last looked at

    @property
    def parts(self) -> list[Part]:
        return [*self.segments, self.tail]

    def __len__(self) -> int:
        return sum(len(p) for p in self.parts)

    def add(self, rows: Sequence[IndexRow]) -> None:
        append(self.tail, rows)

    def catch_up(self, session: Session) -> None:
        read_rows(session, self.tail)
