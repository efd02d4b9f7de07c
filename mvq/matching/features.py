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

Memory: about 9 KB a keyframe (at most 16 a clip), all held by every worker, as the PDQ tail
is; segments for them (as segments.py does for PDQ) are not built yet.
"""

from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import select
from sqlalchemy.orm import Session

from mvq.matching import geometry
from mvq.matching.index import Codes, FrameIndex, scan
from mvq.matching.models import IndexedKeyframe
from mvq.media.ingest.keyframes import Keyframe

RADIUS, FLIPS = 21, 1  # exact with one flip a chunk: an eleventh of radius 32's lookups
CANDIDATE_HITS = 5  # measured: unrelated keyframes share none, copies 15 and more
MAX_VERIFY = 6  # keyframe pairs verified per candidate clip, most shared descriptors first
MIN_VERIFIED = 2  # query keyframes that must verify (fewer when the query has fewer)
# Memory: every query descriptor is compared with every unsorted newest descriptor, and with
# every member of the buckets it looks up. A keyframe has hundreds of descriptors, not one
# hash, so the unsorted tail stays short, queries go in batches, and a bucket crowded with
# descriptors (flat corners, black bars: the "stop words" of a visual vocabulary) is skipped,
# which costs nothing a candidate needs (measured: a 22 GB search without these limits).
SCAN_MAX, BATCH, MAX_BUCKET = 8192, 256, 64

# (query variant, indexed keyframe) -> descriptors of that variant within RADIUS of it
Hits = Counter[tuple[int, int]]


def as_codes(descriptors: npt.NDArray[np.uint8]) -> Codes:
    return (
        np.frombuffer(np.ascontiguousarray(descriptors).tobytes(), ">u8")
        .astype(np.uint64)
        .reshape(-1, 4)
    )


def variants(queries: Sequence[Keyframe]) -> list[tuple[int, Keyframe]]:
    """Each query keyframe as it is and mirrored, with the keyframe's number."""
    out = []
    for n, kf in enumerate(queries):
        out.append((n, kf))
        if kf.mirrored is not None:
            out.append((n, kf.mirrored))
    return out


class FeatureIndex:
    def __init__(self) -> None:
        self.index = FrameIndex(scan_max=SCAN_MAX)
        self.owner = np.empty(0, np.int32)  # per descriptor: the keyframe's number
        self.keyframes: list[tuple[str, Keyframe]] = []
        self.seq = 0  # the last IndexedKeyframe row held

    def __len__(self) -> int:
        return len(self.index)

    def add(self, media_id: str, keyframes: Sequence[Keyframe]) -> None:
        codes, owners = [], []
        for kf in keyframes:
            if len(kf):
                owners.append(np.full(len(kf), len(self.keyframes), np.int32))
                codes.append(as_codes(kf.descriptors))
                self.keyframes.append((media_id, kf))
        if codes:
            self.index.add(np.concatenate(codes))
            self.owner = np.concatenate([self.owner, *owners])

    def catch_up(self, session: Session) -> None:
        rows = session.scalars(select(IndexedKeyframe).where(IndexedKeyframe.seq > self.seq)
                               .order_by(IndexedKeyframe.seq))  # fmt: skip
        for row in rows:
            kf = Keyframe.from_bytes(row.t_seconds, row.width, row.height, row.points,
                                     row.descriptors)  # fmt: skip
            self.add(row.media_id, [kf])
            self.seq = row.seq

    def hits(self, queries: Sequence[Keyframe], *, since: int | None = None) -> Hits:
        """Shared descriptors per (query variant, indexed keyframe); `since`: only the
        descriptors from that position on, compared directly (those added since a search)."""
        found: Hits = Counter()
        sides = variants(queries)
        if not sides or not len(self.index) or (since is not None and since >= len(self.index)):
            return found
        sizes = [len(kf) for _, kf in sides]
        if not sum(sizes):
            return found
        codes = np.concatenate([as_codes(kf.descriptors) for _, kf in sides])
        result = []
        for at in range(0, len(codes), BATCH):
            batch = codes[at : at + BATCH]
            if since is None:
                result += self.index.search(batch, RADIUS, flips=FLIPS, max_bucket=MAX_BUCKET)
            else:
                result += scan(self.index.codes, batch, RADIUS, since)
        side_of = np.repeat(np.arange(len(sides)), sizes)
        for q, (positions, _) in enumerate(result):
            # One query descriptor counts once per indexed keyframe it meets.
            for keyframe in set(self.owner[positions].tolist()):
                found[(int(side_of[q]), keyframe)] += 1
        return found

    def verified(
        self, queries: Sequence[Keyframe], hits: Hits, *, exclude_media: str | None
    ) -> dict[str, list[dict[str, Any]]]:
        """Per indexed clip, the keyframe pairs whose geometry agrees, best first."""
        sides = variants(queries)
        by_media: dict[str, list[tuple[int, int, int]]] = defaultdict(list)
        for (side, keyframe), count in hits.items():
            media_id = self.keyframes[keyframe][0]
            if count >= CANDIDATE_HITS and media_id != exclude_media:
                by_media[media_id].append((count, side, keyframe))
        out: dict[str, list[dict[str, Any]]] = {}
        for media_id, pairs in by_media.items():
            needed = min(MIN_VERIFIED, len(queries))
            agreed: dict[int, dict[str, Any]] = {}  # per query keyframe, its best pair
            for _, side, keyframe in sorted(pairs, reverse=True)[:MAX_VERIFY]:
                number, query = sides[side]
                if number in agreed:
                    continue
                other = self.keyframes[keyframe][1]
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
    """This process's index for the session's database, caught up. Rows a file loses when it
    is processed again stay in memory until the worker restarts: they name the same file, which
    the search leaves out anyway."""
    key = str(session.get_bind().engine.url)
    index = _indexes.setdefault(key, FeatureIndex())
    index.catch_up(session)
    return index
