"""The second stage of matching, for what PDQ cannot see: crops of 10-25 %, a clip inside
another picture (picture-in-picture, split screens, news layouts), a clip filmed off a screen.

Candidates: every indexed keyframe's ORB descriptors in one exact Hamming index (index.py, as
PDQ's: a descriptor is 256 bits too), searched with the new clip's keyframes and their mirrors.
A descriptor describes a small patch, so it survives whatever a crop or an inset does to the
frame around it. An indexed keyframe sharing CANDIDATE_HITS descriptors with a query keyframe
is a candidate, and only candidates are verified (geometry.py): a few milliseconds each.

Why a descriptor index rather than PDQ of centre crops and of rectangles found in the frame:
PDQ of a centre crop only meets a crop cut around the same centre, and an index holding every
corner and scale would multiply its size; measured here, a corner crop, a 40 % inset and a
keystoned screen keep 15-120 descriptors within 21 bits of the original's, unrelated footage
none (bench/robustness.py).

Memory: a keyframe takes about 14 KB of descriptors and 4 KB of tables, more than a clip's PDQ
rows, so a worker must not hold them all. They live as the PDQ index does (segments.py): the
compaction job writes them into immutable segments (family `keyframes`) that every worker on a
host memory-maps from the same files, and a worker holds only the tail, the keyframes committed
since the newest segment. Measured: a worker's RSS grew 0.75 MB an upload when each held every
keyframe; with segments it stays flat (docs/BENCHMARKS.md, soak).
"""

import logging
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from botocore.exceptions import BotoCoreError, ClientError
from sqlalchemy import select
from sqlalchemy.orm import Session

from mvq.matching import geometry, segments
from mvq.matching.catalogue import MEDIA_ID_BYTES
from mvq.matching.index import Codes, FrameIndex, scan
from mvq.matching.models import IndexedKeyframe
from mvq.media.ingest.keyframes import Keyframe
from mvq.settings import get_settings

log = logging.getLogger(__name__)
RADIUS, FLIPS = 21, 1  # exact with one flip a chunk: an eleventh of radius 32's lookups
CANDIDATE_HITS = 5  # measured: unrelated keyframes share none, copies 15 and more
MAX_VERIFY = 6  # keyframe pairs verified per candidate clip, most shared descriptors first
MIN_VERIFIED = 2  # query keyframes that must verify (fewer when the query has fewer)
# Memory: every query descriptor is compared with every unsorted newest descriptor, and with
# every member of the buckets it looks up. A keyframe has hundreds of descriptors, not one
# hash, so the unsorted tail stays short, queries go in batches, and a bucket crowded with
# descriptors (flat corners, black bars: the "stop words" of a visual vocabulary) is skipped,
# which costs nothing a candidate needs (measured: a 22 GB search without these limits).
# Measured in a loop of 100 uploads of 3 s clips (800 query descriptors each, no compaction):
# an unsorted tail of up to 8,192 and batches of 256 make 2M candidate pairs a batch, about
# 200 MB of temporaries, and the worker's private memory grew 134 -> 210 MB (the allocator
# keeps what such peaks leave behind); 1,024 and 64 grew it 134 -> 149 MB, in 20 % less time.
SCAN_MAX, BATCH, MAX_BUCKET = 1024, 64, 64
READ_BATCH = 2_000  # keyframe rows read from the database at a time (about 30 MB)
ARRAYS = ("points", "first", "media", "t", "size", "media_ids")

# (query variant, (part, keyframe in it)) -> descriptors of that variant within RADIUS of it
Hits = Counter[tuple[int, tuple[int, int]]]


def as_codes(descriptors: npt.NDArray[np.uint8]) -> Codes:
    return (
        np.frombuffer(np.ascontiguousarray(descriptors).tobytes(), ">u8")
        .astype(np.uint64)
        .reshape(-1, 4)
    )


def as_descriptors(codes: Codes) -> npt.NDArray[np.uint8]:
    return np.ascontiguousarray(codes).astype(">u8").view(np.uint8).reshape(-1, 32)


def variants(queries: Sequence[Keyframe]) -> list[tuple[int, Keyframe]]:
    """Each query keyframe as it is and mirrored, with the keyframe's number."""
    out = []
    for n, kf in enumerate(queries):
        out.append((n, kf))
        if kf.mirrored is not None:
            out.append((n, kf.mirrored))
    return out


@dataclass
class KeyframePart:
    """The keyframes of one stretch of `IndexedKeyframe.seq`, as plain arrays so that a segment
    maps them from files: every keyframe's descriptors one after another in one index."""

    index: FrameIndex
    points: npt.NDArray[np.float16]  # (descriptors, 2)
    first: npt.NDArray[np.int64]  # keyframe j's descriptors are first[j]:first[j + 1]
    media: npt.NDArray[np.int32]  # per keyframe: its clip's number in this part
    t: npt.NDArray[np.float32]
    size: npt.NDArray[np.int32]  # (keyframes, 2): width, height
    media_ids: npt.NDArray[np.bytes_]  # per clip number
    lo: int = 0  # the `seq`s this part holds: lo < seq <= hi
    hi: int = 0
    segment: str | None = None  # the manifest's fingerprint, when mapped from a segment

    def __len__(self) -> int:
        return len(self.t)

    def media_id(self, keyframe: int) -> str:
        return bytes(self.media_ids[self.media[keyframe]]).decode()

    def keyframe(self, j: int) -> Keyframe:
        a, b = int(self.first[j]), int(self.first[j + 1])
        width, height = (int(v) for v in self.size[j])
        return Keyframe(float(self.t[j]), width, height, self.points[a:b].astype(np.float32),
                        as_descriptors(self.index.codes[a:b]))  # fmt: skip

    def owners(self, positions: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """The keyframe each descriptor position belongs to."""
        return np.searchsorted(self.first, positions, "right") - 1


def empty_part(lo: int = 0) -> KeyframePart:
    return KeyframePart(
        FrameIndex(scan_max=SCAN_MAX), np.empty((0, 2), np.float16), np.zeros(1, np.int64),
        np.empty(0, np.int32), np.empty(0, np.float32), np.empty((0, 2), np.int32),
        np.empty(0, f"S{MEDIA_ID_BYTES}"), lo, lo,
    )  # fmt: skip


def append(
    part: KeyframePart, rows: Sequence[tuple[str, Keyframe]], *, hi: int | None = None
) -> None:
    """Keyframes in `seq` order, each clip's together."""
    rows = [(m, kf) for m, kf in rows if len(kf)]
    if rows:
        ids = [m for m, _ in rows]
        previous = bytes(part.media_ids[-1]).decode() if len(part.media_ids) else None
        changes = np.array([m != (ids[i - 1] if i else previous) for i, m in enumerate(ids)])
        numbers = len(part.media_ids) - 1 + np.cumsum(changes)
        part.media = np.concatenate([part.media, numbers.astype(np.int32)])
        part.media_ids = np.concatenate([part.media_ids, np.array(
            [ids[i] for i in np.flatnonzero(changes)], f"S{MEDIA_ID_BYTES}")])  # fmt: skip
        sizes = np.cumsum([len(kf) for _, kf in rows]) + part.first[-1]
        part.first = np.concatenate([part.first, sizes])
        part.t = np.concatenate([part.t, np.array([kf.t_seconds for _, kf in rows], np.float32)])
        part.size = np.concatenate([part.size, np.array(
            [(kf.width, kf.height) for _, kf in rows], np.int32).reshape(-1, 2)])  # fmt: skip
        part.points = np.concatenate([part.points, *(kf.points.astype(np.float16)
                                                     for _, kf in rows)])  # fmt: skip
        part.index.add(np.concatenate([as_codes(kf.descriptors) for _, kf in rows]))
    if hi is not None:
        part.hi = hi


def read_batch(session: Session, part: KeyframePart, *, up_to: int | None = None) -> bool:
    """Appends up to READ_BATCH of the database's keyframes after `part.hi` (and up to
    `up_to`, if given); False when there were none left."""
    query = select(IndexedKeyframe).where(IndexedKeyframe.seq > part.hi)
    if up_to is not None:
        query = query.where(IndexedKeyframe.seq <= up_to)
    rows = session.scalars(query.order_by(IndexedKeyframe.seq).limit(READ_BATCH)).all()
    if not rows:
        if up_to is not None:
            part.hi = up_to
        return False
    append(part, [(r.media_id, Keyframe.from_bytes(r.t_seconds, r.width, r.height, r.points,
                                                   r.descriptors)) for r in rows],
           hi=rows[-1].seq)  # fmt: skip
    return True


def read_rows(session: Session, part: KeyframePart, *, up_to: int | None = None) -> None:
    while read_batch(session, part, up_to=up_to):
        pass


def concat(parts: Sequence[KeyframePart]) -> KeyframePart:
    """Adjacent parts, oldest first, as one (its tables are built when it is written)."""
    descriptors = np.cumsum([0] + [len(p.index) for p in parts])
    clips = np.cumsum([0] + [len(p.media_ids) for p in parts])
    pairs = list(zip(parts, descriptors, clips, strict=False))
    return KeyframePart(
        FrameIndex(np.concatenate([p.index.codes for p in parts]), scan_max=SCAN_MAX),
        points=np.concatenate([p.points for p in parts]),
        first=np.concatenate([p.first[:-1] + d for p, d, _ in pairs] + [descriptors[-1:]]),
        media=np.concatenate([p.media + np.int32(c) for p, _, c in pairs]),
        t=np.concatenate([p.t for p in parts]),
        size=np.concatenate([p.size for p in parts]),
        media_ids=np.concatenate([p.media_ids for p in parts]),
        lo=parts[0].lo,
        hi=parts[-1].hi,
    )


def write(part: KeyframePart, directory: Path) -> dict[str, Any]:
    def arrays() -> Any:
        yield "codes", part.index.codes
        yield from segments.table_arrays(part.index.codes)
        for name in ARRAYS:
            yield name, getattr(part, name)

    return segments.write_files(directory, arrays(), lo=part.lo, hi=part.hi, rows=len(part))


def open_segment(directory: Path, manifest: dict[str, Any]) -> KeyframePart:
    a = segments.map_files(directory, manifest)
    index = FrameIndex(a["codes"], segments.mapped_tables(a), scan_max=SCAN_MAX)
    arrays = {name: a[name] for name in ARRAYS}
    return KeyframePart(index, **arrays, lo=manifest["lo"], hi=manifest["hi"],
                        segment=segments.fingerprint(manifest))  # fmt: skip


@dataclass
class FeatureIndex:
    """What a worker searches for geometric copies: the keyframe segments, mapped, oldest
    first, then the tail of keyframes committed after them, in memory."""

    segments: list[KeyframePart] = field(default_factory=list)
    tail: KeyframePart = field(default_factory=empty_part)
    generation: str | None = None
    checked_at: float = 0.0

    @property
    def parts(self) -> list[KeyframePart]:
        return [*self.segments, self.tail]

    def __len__(self) -> int:
        """Descriptors held."""
        return sum(len(p.index) for p in self.parts)

    def add(self, media_id: str, keyframes: Sequence[Keyframe]) -> None:
        append(self.tail, [(media_id, kf) for kf in keyframes])

    def catch_up(self, session: Session) -> None:
        read_rows(session, self.tail)

    def hits(self, queries: Sequence[Keyframe], *, since: int | None = None) -> Hits:
        """Shared descriptors per (query variant, indexed keyframe); `since`: only the tail's
        descriptors from that position on, compared directly (those added since a search)."""
        found: Hits = Counter()
        sides = variants(queries)
        sizes = [len(kf) for _, kf in sides]
        if not sum(sizes):
            return found
        codes = np.concatenate([as_codes(kf.descriptors) for _, kf in sides])
        side_of = np.repeat(np.arange(len(sides)), sizes)
        searched = [(len(self.segments), self.tail)] if since is not None else enumerate(self.parts)
        for n, part in searched:
            if len(part.index) <= (since or 0):
                continue
            result = []
            for at in range(0, len(codes), BATCH):
                batch = codes[at : at + BATCH]
                if since is None:
                    result += part.index.search(batch, RADIUS, flips=FLIPS, max_bucket=MAX_BUCKET)
                else:
                    result += scan(part.index.codes, batch, RADIUS, since)
            for q, (positions, _) in enumerate(result):
                # One query descriptor counts once per indexed keyframe it meets.
                for keyframe in set(part.owners(positions).tolist()):
                    found[(int(side_of[q]), (n, keyframe))] += 1
        return found

    def verified(
        self, queries: Sequence[Keyframe], hits: Hits, *, exclude_media: str | None
    ) -> dict[str, list[dict[str, Any]]]:
        """Per indexed clip, the keyframe pairs whose geometry agrees, best first."""
        sides = variants(queries)
        parts = self.parts
        by_media: dict[str, list[tuple[int, int, tuple[int, int]]]] = defaultdict(list)
        for (side, (n, j)), count in hits.items():
            media_id = parts[n].media_id(j)
            if count >= CANDIDATE_HITS and media_id != exclude_media:
                by_media[media_id].append((count, side, (n, j)))
        out: dict[str, list[dict[str, Any]]] = {}
        for media_id, pairs in by_media.items():
            needed = min(MIN_VERIFIED, len(queries))
            agreed: dict[int, dict[str, Any]] = {}  # per query keyframe, its best pair
            for _, side, (n, j) in sorted(pairs, reverse=True)[:MAX_VERIFY]:
                number, query = sides[side]
                if number in agreed:
                    continue
                other = parts[n].keyframe(j)
                if (found := geometry.verify(query, other)) is not None:
                    agreed[number] = found.evidence(query.t_seconds, other.t_seconds) | {
                        "mirrored": query is not queries[number]
                    }
                    if len(agreed) >= needed:
                        break
            if len(agreed) >= needed:
                out[media_id] = sorted(agreed.values(), key=lambda e: -e["inliers"])
        return out


_indexes: dict[str, FeatureIndex] = {}


def feature_index(session: Session) -> FeatureIndex:
    """This process's index for the session's database: the segment list looked at again
    every `index_refresh_seconds`, and the tail caught up. Rows a file loses when it is
    processed again stay in segments until they are merged: they name the same file, which the
    search leaves out anyway."""
    key = str(session.get_bind().engine.url)
    index = _indexes.get(key)
    if index is None or time.monotonic() - index.checked_at > get_settings().index_refresh_seconds:
        index = _indexes[key] = refresh(session, index)
    index.catch_up(session)
    return index


def refresh(session: Session, index: FeatureIndex | None) -> FeatureIndex:
    """As the frame catalogue's refresh (service.py): the keyframe segments in force, mapped,
    and a tail of the keyframes after them; S3 out of reach, what this process had."""
    try:
        listing = segments.current(family=segments.KEYFRAMES)
    except (BotoCoreError, ClientError) as exc:
        log.warning("keyframe segment list unreadable", extra={"error": str(exc)})
        listing = None
    if listing is None or (index is not None and listing["generation"] == index.generation):
        index = index or FeatureIndex()
        index.checked_at = time.monotonic()
        return index

    def from_database(manifest: dict[str, Any]) -> KeyframePart:
        part = empty_part(manifest["lo"])
        read_rows(session, part, up_to=manifest["hi"])
        return part

    had = {p.segment: p for p in (index.segments if index else []) if p.segment}
    parts = segments.parts_in_force(
        listing, had, family=segments.KEYFRAMES, open_part=open_segment, from_database=from_database
    )
    top = parts[-1].hi if parts else 0
    tail = index.tail if index is not None and index.tail.lo == top else empty_part(top)
    return FeatureIndex(parts, tail, listing["generation"], time.monotonic())
