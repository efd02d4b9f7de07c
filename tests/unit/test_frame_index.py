import numpy as np
import pytest

from mvq.matching.compaction import merge_run, tier
from mvq.matching.index import (
    MAX_RADIUS,
    SCAN_MAX,
    FrameIndex,
    build_tables,
    distances,
    from_hex,
    search,
)


def clustered(rng: np.random.Generator, n: int, flip: float) -> np.ndarray:  # type: ignore[type-arg]
    centres = rng.integers(0, 2**63, size=(max(1, n // 40), 4), dtype=np.uint64)
    codes = centres[rng.integers(0, len(centres), n)]
    noise = np.packbits(rng.random((n, 256)) < flip, axis=1).view(">u8").astype(np.uint64)
    return codes ^ noise  # type: ignore[no-any-return]


def brute(codes: np.ndarray, query: np.ndarray, radius: int) -> set[int]:  # type: ignore[type-arg]
    return set(np.flatnonzero(distances(codes, query) <= radius).tolist())


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
        assert (dists == distances(codes[positions], query)).all()


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


def test_compaction_keeps_one_small_segment_and_merges_tiers() -> None:
    """Segment sizes after each 16,384 new rows, as the compaction job's policy leaves them."""
    sizes: list[int] = []
    history = []
    for _ in range(70):
        sizes.append(16_384)
        while count := merge_run(sizes, small=1_048_576, fanin=4):
            sizes[-count:] = [sum(sizes[-count:])]
        history.append(list(sizes))
    assert history[0] == [16_384] and history[1] == [32_768]
    assert history[63] == [1_048_576]  # 64 x 16,384: grown to the first big tier
    assert history[64] == [1_048_576, 16_384]
    assert all(sum(h) == 16_384 * (n + 1) for n, h in enumerate(history))
    assert all(sum(tier(r, 1_048_576, 4) == 0 for r in h) <= 1 for h in history)
