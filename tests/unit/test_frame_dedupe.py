"""Consecutive near-identical stills are indexed once, standing for the time they cover, and a
copy of any moment in that time still counts as a whole copy."""

import numpy as np

from mvq.matching.catalogue import Catalogue, IndexRow
from mvq.matching.service import DEDUPE_DISTANCE, ClipRule, dedupe, near_matches
from mvq.media.ingest.frames import Probe
from mvq.media.ingest.hashing import FrameHashes

RNG = np.random.default_rng(7)


def random_hash() -> str:
    return RNG.integers(0, 256, 32, dtype=np.uint8).tobytes().hex()


def flipped(h: str, bits: int) -> str:
    value = int(h, 16)
    for bit in RNG.choice(256, bits, replace=False):
        value ^= 1 << int(bit)
    return f"{value:064x}"


def row(t: float, h: str, upper: str | None = None) -> IndexRow:
    return IndexRow("clip", t, h, h, upper or h, h, h)


def probe(t: float, h: str) -> Probe:
    return Probe(t, FrameHashes(dihedral=(h,) * 8, quality=100, upper=h, center=h,
                                vertical_9x16=h, vertical_4x5=h))  # fmt: skip


def test_a_hover_is_one_row_over_its_seconds_and_changes_are_kept() -> None:
    hover, after = random_hash(), random_hash()
    rows = [row(0, hover), *(row(t, flipped(hover, DEDUPE_DISTANCE)) for t in (1, 2, 3)),
            row(4, after), row(5, after, upper=random_hash())]  # fmt: skip
    kept = dedupe(rows)
    # The hover's four seconds are its first still, until 3 s; a new picture is kept; so is
    # one whose caption (upper part) changed though the whole picture did not.
    assert [(r.t_seconds, r.t_until) for r in kept] == [(0, 3), (4, None), (5, None)]
    assert len(dedupe([row(0, hover), row(1, flipped(hover, DEDUPE_DISTANCE + 1))])) == 2


def test_a_copy_of_two_seconds_inside_a_hover_is_a_whole_copy() -> None:
    hover = random_hash()
    stills = [row(0, hover), *(row(t, flipped(hover, 2)) for t in range(1, 30))]
    stills += [row(30 + t, random_hash()) for t in range(10)]
    cat = Catalogue()
    cat.add(dedupe(stills))
    assert len(cat) == 11  # 30 seconds of hover as one row, then ten different stills
    copy = [probe(t / 10, flipped(hover, 12)) for t in range(20)]  # 2 s cut from the hover
    [match] = near_matches(cat, copy, exclude_media=None, threshold=31, rule=ClipRule(0.3, 2))
    # The one indexed row stands for every second the copy could have come from.
    assert (match.frames_other, match.share_other, match.share_this) == (1, 1.0, 1.0)
