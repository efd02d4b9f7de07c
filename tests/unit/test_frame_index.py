"""The frame index against answers it does not compute itself: Hamming distances counted bit
by bit, and the compaction job's own loop run on fake segments."""

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from mvq.matching import compaction, segments
from mvq.matching.compaction import merge_run, tier
from mvq.matching.index import (
    MAX_RADIUS,
    PACKED_ROWS,
    SCAN_MAX,
    FrameIndex,
    build_tables,
    from_hex,
    pack,
    search,
)


def clustered(rng: np.random.Generator, n: int, flip: float) -> np.ndarray:  # type: ignore[type-arg]
    centres = rng.integers(0, 2**63, size=(max(1, n // 40), 4), dtype=np.uint64)
    codes = centres[rng.integers(0, len(centres), n)]
    noise = np.packbits(rng.random((n, 256)) < flip, axis=1).view(">u8").astype(np.uint64)
    return codes ^ noise  # type: ignore[no-any-return]


def bits(codes: np.ndarray) -> np.ndarray:  # type: ignore[type-arg]
    """Each code as its 256 bits, most significant first: four big-endian words unpacked."""
    rows = np.ascontiguousarray(codes.astype(">u8")).view(np.uint8).reshape(len(codes), 32)
    return np.unpackbits(rows, axis=1)


def hamming(codes: np.ndarray, query: np.ndarray) -> np.ndarray:  # type: ignore[type-arg]
    """Bits that differ, counted one by one: not the product's `distances()`."""
    return (bits(codes) != bits(query.reshape(1, 4))).sum(axis=1)  # type: ignore[no-any-return]


def brute(codes: np.ndarray, query: np.ndarray, radius: int) -> set[int]:  # type: ignore[type-arg]
    return set(np.flatnonzero(hamming(codes, query) <= radius).tolist())


def test_the_brute_force_counts_bits() -> None:
    one = from_hex(["80" + "00" * 30 + "01", "00" * 32, "ff" * 32])
    assert hamming(one, one[1]).tolist() == [2, 0, 256]


@pytest.mark.parametrize("radius", [0, 10, 31, MAX_RADIUS])
def test_search_finds_exactly_what_brute_force_finds(radius: int) -> None:
    rng = np.random.default_rng(radius)
    codes = clustered(rng, SCAN_MAX + 5000, 0.06)  # sorted tables and an unsorted tail
    index = FrameIndex()
    index.add(codes[:SCAN_MAX])
    index.add(codes[SCAN_MAX:])
    assert 0 < index.indexed < len(index)
    queries = codes[rng.integers(0, len(codes), 40)]
    queries ^= np.packbits(rng.random((40, 256)) < 0.05, axis=1).view(">u8").astype(np.uint64)
    for query, (positions, dists) in zip(queries, index.search(queries, radius), strict=True):
        assert set(positions.tolist()) == brute(codes, query, radius)
        assert dists.tolist() == hamming(codes[positions], query).tolist()


@pytest.mark.parametrize("bits", [8, 16, 23])
def test_every_directory_size_finds_what_brute_force_finds(bits: int) -> None:
    """A coarse directory (small tables) and a one-key-a-bucket one (big tables) are exact."""
    rng = np.random.default_rng(bits)
    codes = clustered(rng, 6000, 0.06)
    tables = build_tables(codes, bits)
    assert tables.bits == bits
    queries = codes[rng.integers(0, len(codes), 30)]
    queries ^= np.packbits(rng.random((30, 256)) < 0.05, axis=1).view(">u8").astype(np.uint64)
    for query, (positions, _) in zip(queries, search(codes, tables, queries, 31), strict=True):
        assert set(positions.tolist()) == brute(codes, query, 31)


def test_radius_beyond_the_exact_bound_is_refused() -> None:
    with pytest.raises(ValueError, match="exact"):
        FrameIndex().search(np.zeros((1, 4), np.uint64), MAX_RADIUS + 1)


def test_hex_round_trip_keeps_bit_order() -> None:
    codes = from_hex(["80" + "00" * 30 + "01"])
    assert codes.shape == (1, 4)
    assert int(codes[0, 0]) == 1 << 63 and int(codes[0, 3]) == 1


@contextmanager
def _rows_waiting(top: list[int], batch: int) -> Iterator[Any]:
    """The database as `_compact` asks it: `batch` rows after the newest segment."""
    answer = SimpleNamespace(one=lambda: (top[0] + batch, batch))
    yield SimpleNamespace(execute=lambda _statement: answer)


def test_compaction_keeps_one_small_segment_and_merges_tiers(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Segment sizes after each 16,384 new rows, as the compaction job itself leaves them: its
    own run (`_compact`), with the segments in S3 and the rows in the database faked."""
    listing: dict[str, Any] = {"segments": [], "retired": []}
    top = [0]
    ids = itertools.count()

    def manifest(lo: int, hi: int) -> dict[str, Any]:
        return {"id": f"s{next(ids)}", "lo": lo, "hi": hi, "rows": hi - lo}

    def publish(new: dict[str, Any]) -> None:
        listing.update(new)
        top[0] = new["segments"][-1]["hi"]

    fake_segments = SimpleNamespace(
        current=lambda **_: listing, reported_corrupt=lambda **_: set(),
        publish=lambda new, **_: publish(new), remove=lambda _m, **_: None,
        clear_corrupt=lambda _s, **_: None, host_dir=lambda _family: tmp_path,
    )  # fmt: skip
    monkeypatch.setattr(compaction, "segments", fake_segments)
    monkeypatch.setattr(compaction, "_from_database", lambda _family, lo, hi: (lo, hi))
    monkeypatch.setattr(compaction, "_store", lambda _family, part, _dir: manifest(*part))
    monkeypatch.setattr(compaction, "_merge",
                        lambda _fam, run, _dir: manifest(run[0]["lo"], run[-1]["hi"]))  # fmt: skip
    monkeypatch.setattr(compaction, "session_scope", lambda: _rows_waiting(top, 16_384))
    # No re-hash of old rows under way (its own tests: test_index_rehash.py).
    monkeypatch.setattr(compaction.rehash, "stale_segments", lambda _s, _m, since: ([], since))
    monkeypatch.setattr(compaction, "get_settings", lambda: SimpleNamespace(
        index_dir=tmp_path, index_segment_rows=16_384, index_small_rows=1_048_576,
        index_merge_fanin=4, index_retired_keep_seconds=3600,
        index_max_segment_rows=1 << 24))  # fmt: skip
    history = []
    for _ in range(70):
        compaction._compact()
        history.append([m["rows"] for m in listing["segments"]])
    assert history[0] == [16_384] and history[1] == [32_768]
    assert history[63] == [1_048_576]  # 64 x 16,384: grown to the first big tier
    assert history[64] == [1_048_576, 16_384]
    assert all(sum(h) == 16_384 * (n + 1) for n, h in enumerate(history))
    assert all(sum(tier(r, 1_048_576, 4) == 0 for r in h) <= 1 for h in history)
    # The segments still cover the rows without a gap.
    assert all(a["hi"] == b["lo"] for a, b in itertools.pairwise(listing["segments"]))


@pytest.mark.parametrize("bits", [8, 13, 23])
def test_packed_tables_find_what_brute_force_finds(bits: int) -> None:
    """A segment's packed tables (3-byte positions, a uint16 directory) answer as the plain
    ones do, at every directory size."""
    rng = np.random.default_rng(100 + bits)
    codes = clustered(rng, 9000, 0.06)
    packed = pack(build_tables(codes, bits))
    assert packed.bits == bits and packed.rows == len(codes)
    assert packed.order_lo.dtype == np.uint16 and packed.order_hi.dtype == np.uint8
    assert packed.offset.dtype == np.uint16
    queries = codes[rng.integers(0, len(codes), 30)]
    queries ^= np.packbits(rng.random((30, 256)) < 0.05, axis=1).view(">u8").astype(np.uint64)
    for query, (positions, _) in zip(queries, search(codes, packed, queries, 31), strict=True):
        assert set(positions.tolist()) == brute(codes, query, 31)


def test_packed_positions_past_16_bits_and_a_crowded_directory() -> None:
    """Positions over 65,535 need the high plane; one picture repeated 70,000 times fills one
    block of buckets past what a uint16 offset holds, so that directory is uint32."""
    rng = np.random.default_rng(7)
    same = np.repeat(clustered(rng, 1, 0.0), 70_000, axis=0)
    codes = np.concatenate([clustered(rng, 30_000, 0.06), same])
    plain = build_tables(codes, 16)
    packed = pack(plain)
    assert packed.offset.dtype == np.uint32
    at = np.arange(len(codes), dtype=np.int64)
    for k in (0, 5, 10):
        assert packed.positions(k, at).tolist() == plain.order[k].tolist()
    found = search(codes, packed, codes[[0, 40_000]], 0)
    assert set(found[1][0].tolist()) == set(range(30_000, 100_000))
    assert 0 in set(found[0][0].tolist())


def test_packing_refuses_more_rows_than_24_bits_hold() -> None:
    big = build_tables(np.zeros((1, 4), np.uint64), 8)._replace(  # a shape, not memory
        order=np.broadcast_to(np.int32(0), (11, PACKED_ROWS + 1))
    )
    with pytest.raises(ValueError, match="at most"):
        pack(big)


def test_no_merge_makes_a_segment_past_the_limit() -> None:
    policy = {"small": 1_048_576, "fanin": 4}
    four = [4_194_304] * 4
    assert merge_run(four, **policy, max_rows=1 << 24) == 4
    assert merge_run([1 << 24] * 4, **policy, max_rows=1 << 24) == 0
    assert merge_run(four, **policy, max_rows=4_194_304 * 3) == 0


def test_segments_are_read_ahead_only_while_they_fit_in_memory(tmp_path: Path) -> None:
    """Past four fifths of the host's RAM, reading every segment ahead would evict the ones
    read before: pages then come as searches need them."""
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       1000 kB\nMemFree:         500 kB\n")
    listing = {"segments": [{"files": {"codes_full": {"size": 400 * 1024},
                                       "t": {"size": 300 * 1024}}}]}  # fmt: skip
    assert segments.fits_in_memory(listing, meminfo)
    listing["segments"].append({"files": {"codes_full": {"size": 200 * 1024}}})
    assert not segments.fits_in_memory(listing, meminfo)
    assert segments.fits_in_memory(listing, tmp_path / "absent")  # not Linux: read ahead
