"""Re-used footage: exact copies by SHA-256, near copies by PDQ frame matching in the manner
of vPDQ (the share of this clip's frames matched, and the share of the other's).

Every process keeps a FrameIndex of all indexed frames, filled from the database and caught
up (rows after the last `seq` it holds) before each search. Matching and indexing a new file
happen in one transaction under one lock, so two copies processed at the same moment by two
workers still find each other: the second to take the lock sees the first's frames.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from mvq.matching.index import FrameIndex, from_hex
from mvq.matching.models import IndexedFrame
from mvq.media.models import Frame, Media, MediaStatus
from mvq.submissions.models import Submission

MIN_QUALITY = 50  # PDQ's own advice: below this a hash says little, so it is never indexed
# A query may be a little weaker (a dim screenshot of a clip): it can still only match
# indexed frames, which all meet MIN_QUALITY. Measured: no false positive (bench.robustness).
QUERY_MIN_QUALITY = 30
MAX_PAIRS = 50  # frame pairs kept as evidence per match


@dataclass
class Catalogue:
    full: FrameIndex = field(default_factory=FrameIndex)
    center: FrameIndex = field(default_factory=FrameIndex)
    upper: FrameIndex = field(default_factory=FrameIndex)
    media_ids: list[str] = field(default_factory=list)
    media_pos: dict[str, int] = field(default_factory=dict)
    media_of: npt.NDArray[np.int64] = field(default_factory=lambda: np.empty(0, np.int64))
    t_of: npt.NDArray[np.float64] = field(default_factory=lambda: np.empty(0, np.float64))
    last_seq: int = 0

    def catch_up(self, session: Session) -> None:
        while True:
            rows = session.execute(
                select(IndexedFrame.seq, IndexedFrame.media_id, IndexedFrame.t_seconds,
                       IndexedFrame.pdq, IndexedFrame.pdq_center, IndexedFrame.pdq_upper)
                .where(IndexedFrame.seq > self.last_seq).order_by(IndexedFrame.seq).limit(100_000)
            ).all()  # fmt: skip
            if not rows:
                return
            self.add([(r.media_id, r.t_seconds, r.pdq, r.pdq_center, r.pdq_upper or r.pdq)
                      for r in rows])  # fmt: skip
            self.last_seq = rows[-1].seq

    def add(self, frames: list[tuple[str, float, str, str, str]]) -> None:
        """(media_id, t_seconds, pdq, pdq_center, pdq_upper) rows, in arrival order."""
        for media_id, *_ in frames:
            if media_id not in self.media_pos:
                self.media_pos[media_id] = len(self.media_ids)
                self.media_ids.append(media_id)
        self.full.add(from_hex([f[2] for f in frames]))
        self.center.add(from_hex([f[3] for f in frames]))
        self.upper.add(from_hex([f[4] for f in frames]))
        positions = np.array([self.media_pos[f[0]] for f in frames], dtype=np.int64)
        self.media_of = np.concatenate([self.media_of, positions])
        self.t_of = np.concatenate([self.t_of, np.array([f[1] for f in frames])])


_catalogues: dict[str, Catalogue] = {}


def catalogue(session: Session) -> Catalogue:
    key = str(session.get_bind().engine.url)
    if key not in _catalogues:
        _catalogues[key] = Catalogue()
    cat = _catalogues[key]
    cat.catch_up(session)
    return cat


def lock_matching(session: Session) -> None:
    """One matcher at a time per database (SQLite's BEGIN IMMEDIATE already is one)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(7421002)"))


@dataclass(frozen=True)
class QueryFrame:
    t_seconds: float
    pdq: str
    pdq_center: str
    pdq_mirror: str
    pdq_upper: str


@dataclass
class NearMatch:
    media_id: str
    pairs: list[dict[str, Any]]
    share_this: float
    share_other: float
    min_distance: int
    signals: list[str]


def near_matches(
    cat: Catalogue, frames: list[QueryFrame], *, exclude_media: str | None, threshold: int,
    min_share: float,
) -> list[NearMatch]:  # fmt: skip
    if not frames or not len(cat.full):
        return []
    kinds = ("pdq", "pdq_center", "pdq_mirror", "pdq_upper")
    full, center, mirror, upper = (from_hex([getattr(f, a) for f in frames]) for a in kinds)
    # Plain PDQ (dark bars trimmed), then the second signals: either frame cropped, this frame
    # mirrored, and both frames without their bottom fifth, where captions are burned in.
    searches = [("pdq", full, cat.full), ("crop", full, cat.center), ("crop", center, cat.full),
                ("mirror", mirror, cat.full), ("caption", upper, cat.upper)]  # fmt: skip
    excluded = cat.media_pos.get(exclude_media, -1) if exclude_media else -1
    best: dict[tuple[int, int], tuple[int, str]] = {}
    for signal, queries, index in searches:
        for q, (positions, dists) in enumerate(index.search(queries, threshold)):
            for pos, dist in zip(positions.tolist(), dists.tolist(), strict=True):
                if cat.media_of[pos] == excluded:
                    continue
                if (q, pos) not in best or dist < best[(q, pos)][0]:
                    best[(q, pos)] = (dist, signal)
    by_media: dict[int, list[tuple[int, int, int, str]]] = defaultdict(list)
    for (q, pos), (dist, signal) in best.items():
        by_media[int(cat.media_of[pos])].append((q, pos, dist, signal))
    sizes = np.bincount(cat.media_of, minlength=len(cat.media_ids))
    found = []
    for media, hits in by_media.items():
        share_this = len({q for q, *_ in hits}) / len(frames)
        share_other = len({pos for _, pos, *_ in hits}) / max(1, int(sizes[media]))
        if max(share_this, share_other) < min_share:
            continue
        # Evidence: each of this clip's matched frames with its closest frame of the other.
        closest: dict[int, tuple[int, int, int, str]] = {}
        for hit in hits:
            if hit[0] not in closest or hit[2] < closest[hit[0]][2]:
                closest[hit[0]] = hit
        pairs = [{"this_t": frames[q].t_seconds, "other_t": float(cat.t_of[pos]),
                  "distance": dist, "signal": signal}
                 for q, pos, dist, signal in sorted(closest.values())[:MAX_PAIRS]]  # fmt: skip
        found.append(NearMatch(cat.media_ids[media], pairs, round(share_this, 3),
                               round(share_other, 3), min(h[2] for h in hits),
                               sorted({h[3] for h in hits})))  # fmt: skip
    return sorted(found, key=lambda m: -max(m.share_this, m.share_other))


def query_frames(session: Session, *, media_id: str) -> list[QueryFrame]:
    rows = session.scalars(
        select(Frame).where(Frame.media_id == media_id, Frame.pdq_quality >= QUERY_MIN_QUALITY)
        .order_by(Frame.index)
    )  # fmt: skip
    return [QueryFrame(f.t_seconds, f.pdq, f.pdq_center or f.pdq, f.pdq_mirror or f.pdq,
                       f.pdq_upper or f.pdq) for f in rows]  # fmt: skip


def unindex(session: Session, *, media_id: str) -> None:
    """Before a file's frames are stored again: the index must not point at the old rows."""
    session.execute(delete(IndexedFrame).where(IndexedFrame.media_id == media_id))


def index_frames(session: Session, *, media_id: str) -> None:
    session.add_all(
        IndexedFrame(frame_id=f.id, media_id=media_id, t_seconds=f.t_seconds, pdq=f.pdq,
                     pdq_center=f.pdq_center or f.pdq, pdq_upper=f.pdq_upper or f.pdq)
        for f in session.scalars(select(Frame).where(Frame.media_id == media_id,
                                                     Frame.pdq_quality >= MIN_QUALITY))
    )  # fmt: skip


def describe(session: Session, *, media_id: str) -> dict[str, Any]:
    """Who the other copy belongs to and where it stands, for the reviewer."""
    row = session.execute(
        select(Media.submission_id, Submission.unit_id, Submission.status)
        .join(Submission, Submission.id == Media.submission_id).where(Media.id == media_id)
    ).one()  # fmt: skip
    return {"media_id": media_id, "submission_id": row.submission_id, "unit_id": row.unit_id,
            "submission_status": row.status}  # fmt: skip


def exact_copies(session: Session, *, media: Media) -> list[str]:
    return list(session.scalars(
        select(Media.id).where(Media.sha256 == media.sha256, Media.id != media.id,
                               Media.status == MediaStatus.processed)
    ))  # fmt: skip
