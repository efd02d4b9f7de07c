"""Re-used footage: exact copies by SHA-256, near copies by PDQ frame matching in the manner
of vPDQ, measured so that it does not depend on where a copy starts.

What is indexed and what is queried (measured in bench/robustness.py): the index holds each
clip's stills, one a second; a new clip queries with its probes, every decoded frame unlike the
one before. A copy cut between two stills, sped up or slowed down still holds, within a frame
or two, the very picture each indexed still shows, so the copy's probes meet the stills
wherever it was cut. Both orders of upload work: the later clip always probes densely.

A clip is a match when enough of the *other* clip's indexed frames within the span both clips
share are met (vPDQ's "compared" share, counted over the overlap so a short cut of a long clip
still counts), or when enough of this clip's probes are (a still, or a clip inside a longer one).

Every process keeps a Catalogue of all indexed frames, filled from the database and caught
up (rows after the last `seq` it holds) before each search. Matching and indexing a new file
happen in one transaction under one lock, so two copies processed at the same moment by two
workers still find each other: the second to take the lock sees the first's frames.
"""

import bisect
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from mvq.matching.index import FrameIndex, from_hex
from mvq.matching.models import IndexedFrame
from mvq.media.ingest.frames import Probe
from mvq.media.ingest.hashing import MIRROR, ROTATIONS
from mvq.media.models import Frame, Media, MediaStatus
from mvq.submissions.models import Submission

MIN_QUALITY = 50  # PDQ's own advice: below this a hash says little, so it is never indexed
# A query may be a little weaker (a dim screenshot of a clip): it can still only match
# indexed frames, which all meet MIN_QUALITY. Measured: no false positive (bench.robustness).
QUERY_MIN_QUALITY = 30
MAX_PAIRS = 50  # frame pairs kept as evidence per match
KINDS = ("full", "center", "upper", "vertical_9x16", "vertical_4x5")


class IndexRow(NamedTuple):
    media_id: str
    t_seconds: float
    full: str
    center: str
    upper: str
    vertical_9x16: str
    vertical_4x5: str


@dataclass
class Catalogue:
    indexes: dict[str, FrameIndex] = field(default_factory=lambda: {k: FrameIndex() for k in KINDS})
    media_ids: list[str] = field(default_factory=list)
    media_pos: dict[str, int] = field(default_factory=dict)
    times: list[list[float]] = field(default_factory=list)  # per media, in time order
    media_of: npt.NDArray[np.int64] = field(default_factory=lambda: np.empty(0, np.int64))
    t_of: npt.NDArray[np.float64] = field(default_factory=lambda: np.empty(0, np.float64))
    last_seq: int = 0

    def __len__(self) -> int:
        return len(self.t_of)

    def catch_up(self, session: Session) -> None:
        while True:
            rows = session.execute(
                select(IndexedFrame).where(IndexedFrame.seq > self.last_seq)
                .order_by(IndexedFrame.seq).limit(100_000)
            ).scalars().all()  # fmt: skip
            if not rows:
                return
            # Rows indexed before a variant existed fall back to their plain PDQ.
            self.add([IndexRow(r.media_id, r.t_seconds, r.pdq, r.pdq_center, r.pdq_upper or r.pdq,
                               r.pdq_9x16 or r.pdq, r.pdq_4x5 or r.pdq) for r in rows])  # fmt: skip
            self.last_seq = rows[-1].seq

    def add(self, rows: Sequence[IndexRow]) -> None:
        """Rows in arrival order; one media's rows in time order."""
        for row in rows:
            if row.media_id not in self.media_pos:
                self.media_pos[row.media_id] = len(self.media_ids)
                self.media_ids.append(row.media_id)
                self.times.append([])
            bisect.insort(self.times[self.media_pos[row.media_id]], row.t_seconds)
        for kind in KINDS:
            self.indexes[kind].add(from_hex([getattr(r, kind) for r in rows]))
        positions = np.array([self.media_pos[r.media_id] for r in rows], dtype=np.int64)
        self.media_of = np.concatenate([self.media_of, positions])
        self.t_of = np.concatenate([self.t_of, np.array([r.t_seconds for r in rows])])


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


# (signal, the probe's hash, the index it is looked up in). Each variant is paired both ways,
# so either clip may be the one uploaded first: a 5% crop's picture is the original's centre,
# and the original's centre is the crop's picture.
SEARCHES: list[tuple[str, str, str]] = [
    ("pdq", "pdq", "full"),
    *[("rotation", f"dihedral{n}", "full") for n in ROTATIONS],
    *[("mirror", f"dihedral{n}", "full") for n in range(4, 8)],
    ("crop", "pdq", "center"), ("crop", "center", "full"),
    ("caption", "upper", "upper"),
    ("vertical", "pdq", "vertical_9x16"), ("vertical", "pdq", "vertical_4x5"),
    ("vertical", "vertical_9x16", "full"), ("vertical", "vertical_4x5", "full"),
]  # fmt: skip
assert MIRROR in range(4, 8)


def _probe_hash(probe: Probe, kind: str) -> str:
    if kind.startswith("dihedral"):
        return probe.hashes.dihedral[int(kind.removeprefix("dihedral"))]
    return str(getattr(probe.hashes, kind))


@dataclass(frozen=True)
class ClipRule:
    """When frame matches make a clip match. `min_share` of the other clip's indexed frames
    within the shared span, or of this clip's probes, and at least `min_frames` matched frames
    (fewer when that side has fewer): one frame alike by chance is not a copy."""

    min_share: float
    min_frames: int

    def holds(self, m: "NearMatch") -> bool:
        enough_other = m.frames_other >= min(self.min_frames, m.size_other)
        enough_this = m.frames_this >= min(self.min_frames, m.size_this)
        return (enough_other and m.share_other >= self.min_share) or (
            enough_this and m.share_this >= self.min_share
        )


@dataclass
class NearMatch:
    media_id: str
    pairs: list[dict[str, Any]]
    share_this: float  # of this clip's probes, a match in the other clip
    share_other: float  # of the other clip's indexed frames within the shared span, matched
    frames_this: int
    frames_other: int
    size_this: int  # probes
    size_other: int  # the other clip's indexed frames
    min_distance: int
    signals: list[str]


def near_matches(
    cat: Catalogue, probes: Sequence[Probe], *, exclude_media: str | None, threshold: int,
    rule: ClipRule,
) -> list[NearMatch]:  # fmt: skip
    """Indexed clips that `probes` (one clip's) copy, best first."""
    found = candidates(cat, probes, exclude_media=exclude_media, threshold=threshold)
    return [m for m in found if rule.holds(m)]


def candidates(
    cat: Catalogue, probes: Sequence[Probe], *, exclude_media: str | None, threshold: int
) -> list[NearMatch]:
    """Every indexed clip with any frame within `threshold` of a probe, best first."""
    probes = [p for p in probes if p.hashes.quality >= QUERY_MIN_QUALITY]
    if not probes or not len(cat):
        return []
    by_index: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for signal, probe_kind, index_kind in SEARCHES:
        by_index[index_kind].append((signal, probe_kind))
    excluded = cat.media_pos.get(exclude_media, -1) if exclude_media else -1
    best: dict[tuple[int, int], tuple[int, str]] = {}  # (probe, position) -> (distance, signal)
    for index_kind, lookups in by_index.items():
        # One batched search per index: every probe in every variant looked up in it.
        queries = from_hex([_probe_hash(p, kind) for _, kind in lookups for p in probes])
        found = cat.indexes[index_kind].search(queries, threshold)
        for q, (positions, dists) in enumerate(found):
            signal, probe = lookups[q // len(probes)][0], q % len(probes)
            for pos, dist in zip(positions.tolist(), dists.tolist(), strict=True):
                if cat.media_of[pos] != excluded and (
                    (probe, pos) not in best or dist < best[(probe, pos)][0]
                ):
                    best[(probe, pos)] = (dist, signal)
    by_media: dict[int, list[tuple[int, int, int, str]]] = defaultdict(list)
    for (probe, pos), (dist, signal) in best.items():
        by_media[int(cat.media_of[pos])].append((probe, pos, dist, signal))
    measured = [_measure(cat, probes, media, hits) for media, hits in by_media.items()]
    return sorted(measured, key=lambda m: -max(m.share_this, m.share_other))


def _measure(
    cat: Catalogue, probes: Sequence[Probe], media: int, hits: list[tuple[int, int, int, str]]
) -> NearMatch:
    met_probes = {probe for probe, *_ in hits}
    met_other = sorted({float(cat.t_of[pos]) for _, pos, *_ in hits})
    times = cat.times[media]
    # The other clip's indexed frames within the span the matches cover: a 5 s cut of a
    # 60 s clip meets every still of those 5 s, and that is what counts.
    in_span = bisect.bisect_right(times, met_other[-1]) - bisect.bisect_left(times, met_other[0])
    # Evidence: each of the other clip's matched frames with the closest frame of this one.
    closest: dict[int, tuple[int, int, int, str]] = {}
    for hit in hits:
        if hit[1] not in closest or hit[2] < closest[hit[1]][2]:
            closest[hit[1]] = hit
    pairs: dict[float, dict[str, Any]] = {}
    for probe, pos, dist, signal in sorted(closest.values(), key=lambda h: h[2]):
        this_t = probes[probe].t_seconds
        pairs.setdefault(this_t, {"this_t": this_t, "other_t": float(cat.t_of[pos]),
                                  "distance": dist, "signal": signal})  # fmt: skip
    return NearMatch(
        media_id=cat.media_ids[media],
        pairs=[pairs[t] for t in sorted(pairs)][:MAX_PAIRS],
        share_this=round(len(met_probes) / len(probes), 3),
        share_other=round(len(met_other) / max(1, in_span), 3),
        frames_this=len(met_probes),
        frames_other=len(met_other),
        size_this=len(probes),
        size_other=len(times),
        min_distance=min(h[2] for h in hits),
        signals=sorted({h[3] for h in hits}),
    )


def unindex(session: Session, *, media_id: str) -> None:
    """Before a file's frames are stored again: the index must not point at the old rows."""
    session.execute(delete(IndexedFrame).where(IndexedFrame.media_id == media_id))


def index_frames(session: Session, *, media_id: str) -> None:
    session.add_all(
        IndexedFrame(frame_id=f.id, media_id=media_id, t_seconds=f.t_seconds, pdq=f.pdq,
                     pdq_center=f.pdq_center or f.pdq, pdq_upper=f.pdq_upper or f.pdq,
                     pdq_9x16=f.pdq_9x16 or f.pdq, pdq_4x5=f.pdq_4x5 or f.pdq)
        for f in session.scalars(select(Frame).where(Frame.media_id == media_id,
                                                     Frame.pdq_quality >= MIN_QUALITY)
                          .order_by(Frame.index))
    )  # fmt: skip


def describe(session: Session, *, media_id: str) -> dict[str, Any]:
    """Whose the other copy is. Where that claim stands is read when the evidence is shown
    (`review.service.live_evidence`): written here, it would go stale."""
    row = session.execute(
        select(Media.submission_id, Submission.unit_id)
        .join(Submission, Submission.id == Media.submission_id).where(Media.id == media_id)
    ).one()  # fmt: skip
    return {"media_id": media_id, "submission_id": row.submission_id, "unit_id": row.unit_id}


def exact_copies(session: Session, *, media: Media) -> list[str]:
    return list(session.scalars(
        select(Media.id).where(Media.sha256 == media.sha256, Media.id != media.id,
                               Media.status == MediaStatus.processed)
    ))  # fmt: skip
