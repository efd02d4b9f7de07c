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

Every process keeps a Catalogue of all indexed frames (catalogue.py): the shared segments,
memory-mapped, and a tail of the rows after them, caught up from the database before each
search. A new file is matched against everything without a lock, then against the rows
committed meanwhile under one, and indexed in the same transaction (`locked_matches`).
"""

import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from botocore.exceptions import BotoCoreError, ClientError
from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from mvq.matching import features, segments
from mvq.matching.catalogue import KINDS, Catalogue, IndexRow, Part, empty_part, read_rows
from mvq.matching.index import from_hex, probe_keys
from mvq.matching.models import IndexedFrame, IndexedKeyframe
from mvq.media.ingest.frames import Probe
from mvq.media.ingest.hashing import MIRROR, ROTATIONS
from mvq.media.ingest.keyframes import Keyframe
from mvq.media.models import Frame, Media, MediaStatus
from mvq.settings import get_settings
from mvq.submissions.models import Submission

log = logging.getLogger(__name__)
MIN_QUALITY = 50  # PDQ's own advice: below this a hash says little, so it is never indexed
# A query may be a little weaker (a dim screenshot of a clip): it can still only match
# indexed frames, which all meet MIN_QUALITY. Measured: no false positive (bench.robustness).
QUERY_MIN_QUALITY = 30
MAX_PAIRS = 50  # frame pairs kept as evidence per match
# Consecutive stills this alike on every hash are indexed once. Chosen, not tuned: a copy's
# frame within 31 - 8 = 23 bits of a dropped still is within 31 of the one kept (re-encoded
# copies sit 10-20 bits from their source). Measured in bench.hover and bench.robustness.
DEDUPE_DISTANCE = 8


def dedupe(rows: Sequence[IndexRow]) -> list[IndexRow]:
    """One clip's stills in time order, each run of nearly identical consecutive ones (a drone
    hovering) as its first, standing for the run's time range, as vPDQ indexes a repeated hash
    once. Every kind must be alike: a caption or a crop that changes is kept."""
    kept: list[IndexRow] = []
    for row in rows:
        last = kept[-1] if kept else None
        if last is not None and all(_bits(getattr(last, k), getattr(row, k)) <= DEDUPE_DISTANCE
                                    for k in KINDS):  # fmt: skip
            kept[-1] = last._replace(t_until=row.t_until or row.t_seconds)
        else:
            kept.append(row)
    return kept


def _bits(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


_catalogues: dict[str, Catalogue] = {}


def catalogue(session: Session) -> Catalogue:
    """This process's catalogue for the session's database: the segment list looked at again
    every `index_refresh_seconds`, and the tail caught up."""
    key = str(session.get_bind().engine.url)
    settings = get_settings()
    cat = _catalogues.get(key)
    if cat is None or time.monotonic() - cat.checked_at > settings.index_refresh_seconds:
        cat = _catalogues[key] = refresh(session, cat)
    cat.catch_up(session)
    return cat


def refresh(session: Session, cat: Catalogue | None) -> Catalogue:
    """The segments in force, mapped (fetched to this host first if they are not here), and
    a tail of the rows after them. S3 out of reach: what this process had, or the database."""
    try:
        listing = segments.current()
    except (BotoCoreError, ClientError) as exc:
        log.warning("segment list unreadable, searching what this process has",
                    extra={"error": str(exc)})  # fmt: skip
        listing = None
    if listing is None or (cat is not None and listing["generation"] == cat.generation):
        cat = cat or Catalogue()
        cat.checked_at = time.monotonic()
        return cat

    def from_database(manifest: dict[str, Any]) -> Part:
        part = empty_part(manifest["lo"])
        read_rows(session, part, up_to=manifest["hi"])
        return part

    # Parts mapped from the same build are kept; one read from the database is tried again.
    had = {p.segment: p for p in (cat.segments if cat else []) if p.segment}
    parts = segments.parts_in_force(listing, had, family=segments.FRAMES,
                                    open_part=segments.open_segment,
                                    from_database=from_database)  # fmt: skip
    top = parts[-1].hi if parts else 0
    tail = cat.tail if cat is not None and cat.tail.lo == top else empty_part(top)
    return Catalogue(segments=parts, tail=tail, generation=listing["generation"],
                     checked_at=time.monotonic())  # fmt: skip


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
    (fewer when that side has fewer): one frame alike by chance is not a copy. A clip whose
    keyframes agree with the other's geometrically (features.py) is a match as well."""

    min_share: float
    min_frames: int

    def holds(self, m: "NearMatch") -> bool:
        if m.geometry:
            return True
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
    min_distance: int | None  # None: found by geometry alone
    signals: list[str]
    # Keyframe pairs whose keypoints agree on a homography (features.py), best first: each
    # with the region each frame shows of the other and the share of keypoints that agree.
    geometry: list[dict[str, Any]] = field(default_factory=list)


def near_matches(
    cat: Catalogue, probes: Sequence[Probe], *, exclude_media: str | None, threshold: int,
    rule: ClipRule, keyframes: Sequence[Keyframe] = (),
    feature_index: features.FeatureIndex | None = None,
) -> list[NearMatch]:  # fmt: skip
    """Indexed clips that `probes` and `keyframes` (one clip's) copy, best first."""
    found = candidates(cat, probes, exclude_media=exclude_media, threshold=threshold,
                       keyframes=keyframes, feature_index=feature_index)  # fmt: skip
    return [m for m in found if rule.holds(m)]


def candidates(
    cat: Catalogue, probes: Sequence[Probe], *, exclude_media: str | None, threshold: int,
    keyframes: Sequence[Keyframe] = (), feature_index: features.FeatureIndex | None = None,
) -> list[NearMatch]:  # fmt: skip
    """Every indexed clip with any frame within `threshold` of a probe, and every one whose
    keyframes agree geometrically with `keyframes`, best first."""
    probes = usable(probes)
    hits = find(cat, probes, threshold=threshold, parts=range(len(cat.parts)))
    found = measure(cat, probes, hits, exclude_media=exclude_media)
    if feature_index is None or not keyframes:
        return found
    agreed = feature_index.verified(keyframes, feature_index.hits(keyframes),
                                    exclude_media=exclude_media)  # fmt: skip
    return with_geometry(found, agreed, probes=len(probes))


def with_geometry(
    found: list[NearMatch], agreed: dict[str, list[dict[str, Any]]], *, probes: int
) -> list[NearMatch]:
    """The PDQ stage's candidates with the geometric stage's verdicts, and the clips only
    geometry found; those first that both stages agree on."""
    for m in found:
        if m.media_id in agreed:
            m.geometry = agreed.pop(m.media_id)
            m.signals = sorted({*m.signals, "geometry"})
    found += [NearMatch(media_id=media_id, pairs=[], share_this=0.0, share_other=0.0,
                        frames_this=0, frames_other=0, size_this=probes, size_other=0,
                        min_distance=None, signals=["geometry"], geometry=pairs)
              for media_id, pairs in agreed.items()]  # fmt: skip
    return sorted(found, key=lambda m: (not m.geometry, -max(m.share_this, m.share_other)))


def locked_matches(
    session: Session, probes: Sequence[Probe], *, exclude_media: str, threshold: int,
    rule: ClipRule, keyframes: Sequence[Keyframe] = (),
) -> list[NearMatch]:  # fmt: skip
    """Near matches, leaving the session holding the matching lock until it commits.

    Everything indexed is searched without the lock; then, under it, only the rows committed
    meanwhile, compared directly. A copy processed at the same moment by another worker is
    either in those rows, or it takes the lock after this one and finds this clip's frames:
    the two still find each other, while the lock is held for a few rows' search."""
    cat = catalogue(session)
    probes = usable(probes)
    hits = find(cat, probes, threshold=threshold, parts=range(len(cat.parts)))
    seen = len(cat.tail)
    shapes = features.feature_index(session)
    shared = shapes.hits(keyframes)
    shapes_seen = len(shapes.tail.index)
    lock_matching(session)
    cat.catch_up(session)
    hits = find(cat, probes, threshold=threshold, parts=[len(cat.segments)], hits=hits,
                since=seen)  # fmt: skip
    shapes.catch_up(session)
    shared += shapes.hits(keyframes, since=shapes_seen)
    found = measure(cat, probes, hits, exclude_media=exclude_media)
    agreed = shapes.verified(keyframes, shared, exclude_media=exclude_media)
    return [m for m in with_geometry(found, agreed, probes=len(probes)) if rule.holds(m)]


def usable(probes: Sequence[Probe]) -> list[Probe]:
    return [p for p in probes if p.hashes.quality >= QUERY_MIN_QUALITY]


# (part, row, probe) -> (distance, signal): each probe's closest look at each indexed frame
Hits = dict[tuple[int, int, int], tuple[int, str]]


def find(
    cat: Catalogue, probes: Sequence[Probe], *, threshold: int, parts: Iterable[int],
    hits: Hits | None = None, since: int | None = None,
) -> Hits:  # fmt: skip
    """`since`: only the rows from there on, compared directly (the rows new since a search)."""
    hits = {} if hits is None else dict(hits)
    if not probes:
        return hits
    by_index: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for signal, probe_kind, index_kind in SEARCHES:
        by_index[index_kind].append((signal, probe_kind))
    for index_kind, lookups in by_index.items():
        # One batched search per index: every probe in every variant looked up in it.
        queries = from_hex([_probe_hash(p, kind) for _, kind in lookups for p in probes])
        keys = probe_keys(queries)
        for n in parts:
            part = cat.parts[n]
            if len(part) <= (since or 0):
                continue
            found = (part.search(index_kind, queries, threshold, keys) if since is None
                     else part.scan(index_kind, queries, threshold, since))  # fmt: skip
            for q, (rows, dists) in enumerate(found):
                signal, probe = lookups[q // len(probes)][0], q % len(probes)
                for row, dist in zip(rows.tolist(), dists.tolist(), strict=True):
                    key = (n, row, probe)
                    if key not in hits or dist < hits[key][0]:
                        hits[key] = (dist, signal)
    return hits


def measure(
    cat: Catalogue, probes: Sequence[Probe], hits: Hits, *, exclude_media: str | None
) -> list[NearMatch]:
    rows: dict[int, set[int]] = defaultdict(set)
    for n, row, _ in hits:
        rows[n].add(row)
    clip_of: dict[tuple[int, int], int] = {}  # one lookup a part, not one a hit
    for n, found in rows.items():
        ordered = np.fromiter(found, np.int64, len(found))
        numbers = cat.parts[n].clips(ordered).tolist()
        clip_of.update(zip(((n, r) for r in ordered.tolist()), numbers, strict=True))
    by_media: dict[tuple[int, int], list[tuple[int, int, int, str]]] = defaultdict(list)
    for (n, row, probe), (dist, signal) in hits.items():
        by_media[(n, clip_of[(n, row)])].append((probe, row, dist, signal))
    measured = [_measure(cat.parts[n], probes, number, found)
                for (n, number), found in by_media.items()
                if cat.parts[n].media_id(number) != exclude_media]  # fmt: skip
    return sorted(measured, key=lambda m: -max(m.share_this, m.share_other))


def _measure(
    part: Part, probes: Sequence[Probe], media: int, hits: list[tuple[int, int, int, str]]
) -> NearMatch:
    met_probes = {probe for probe, *_ in hits}
    met_rows = sorted({row for _, row, *_ in hits})
    starts, untils = part.span(media)
    # The other clip's indexed frames within the span the matches cover: a 5 s cut of a
    # 60 s clip meets every still of those 5 s, and that is what counts. A deduplicated
    # frame counts once, over the whole range it stands for.
    first, last = float(part.t[met_rows[0]]), float(part.t_until[met_rows[-1]])
    in_span = int(np.searchsorted(starts, last, "right") - np.searchsorted(untils, first, "left"))
    # Evidence: each of the other clip's matched frames with the closest frame of this one.
    closest: dict[int, tuple[int, int, int, str]] = {}
    for hit in hits:
        if hit[1] not in closest or hit[2] < closest[hit[1]][2]:
            closest[hit[1]] = hit
    pairs: dict[float, dict[str, Any]] = {}
    for probe, row, dist, signal in sorted(closest.values(), key=lambda h: h[2]):
        this_t = probes[probe].t_seconds
        pairs.setdefault(this_t, {"this_t": this_t, "other_t": round(float(part.t[row]), 3),
                                  "distance": dist, "signal": signal})  # fmt: skip
    return NearMatch(
        media_id=part.media_id(media),
        pairs=[pairs[t] for t in sorted(pairs)][:MAX_PAIRS],
        share_this=round(len(met_probes) / len(probes), 3),
        share_other=round(len(met_rows) / max(1, in_span), 3),
        frames_this=len(met_probes),
        frames_other=len(met_rows),
        size_this=len(probes),
        size_other=len(starts),
        min_distance=min(h[2] for h in hits),
        signals=sorted({h[3] for h in hits}),
    )


def unindex(session: Session, *, media_id: str) -> None:
    """Before a file's frames are stored again: the index must not point at the old rows."""
    session.execute(delete(IndexedFrame).where(IndexedFrame.media_id == media_id))
    session.execute(delete(IndexedKeyframe).where(IndexedKeyframe.media_id == media_id))


def index_keyframes(session: Session, *, media_id: str, keyframes: Sequence[Keyframe]) -> None:
    for kf in keyframes:
        if len(kf):
            points, descriptors = kf.to_bytes()
            session.add(IndexedKeyframe(media_id=media_id, t_seconds=kf.t_seconds,
                                        width=kf.width, height=kf.height, points=points,
                                        descriptors=descriptors))  # fmt: skip


def index_frames(session: Session, *, media_id: str) -> None:
    frames = session.scalars(select(Frame).where(Frame.media_id == media_id,
                                                 Frame.pdq_quality >= MIN_QUALITY)
                             .order_by(Frame.index)).all()  # fmt: skip
    frame_at = {f.t_seconds: f.id for f in frames}  # one still a moment
    rows = dedupe([IndexRow(media_id, f.t_seconds, f.pdq, f.pdq_center or f.pdq,
                            f.pdq_upper or f.pdq, f.pdq_9x16 or f.pdq, f.pdq_4x5 or f.pdq)
                   for f in frames])  # fmt: skip
    session.add_all(
        IndexedFrame(frame_id=frame_at[r.t_seconds], media_id=media_id, t_seconds=r.t_seconds,
                     t_until=r.t_until, pdq=r.full, pdq_center=r.center, pdq_upper=r.upper,
                     pdq_9x16=r.vertical_9x16, pdq_4x5=r.vertical_4x5)
        for r in rows
    )  # fmt: skip


def describe(session: Session, *, media_id: str) -> dict[str, Any]:
    """Whose the other copy is. Where that claim stands is read when the evidence is shown
    (`review.evidence.live_evidence`): written here, it would go stale."""
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
