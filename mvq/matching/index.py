"""Exact Hamming range search over PDQ hashes: multi-index hashing on sorted arrays.

Why not FAISS's IndexBinaryMultiHash: measured here at 10M hashes, its hash maps of small
vectors take several GB, while sorted numpy arrays take 4 bytes a hash a table (bench/index.py),
and plain arrays can be written to a file and memory-mapped by every worker (segments.py).

How: the first 253 bits of each 256-bit hash are cut into 11 chunks of 23 bits. Two hashes
within 32 bits differ by at most 2 bits in some chunk (11 chunks x 3 > 32, pigeonhole), so
looking up every key within 2 flips of each query chunk finds every hash within the radius:
an exact search, never an approximation. Candidates are then checked on all 256 bits.

Each table is the positions sorted by chunk key and a directory of where each bucket's run
starts. A bucket is the top `bits` bits of the key: 23 (one key a bucket) for big tables, fewer
for small ones, so a table's directory is never much bigger than the table itself. A coarser
bucket only adds candidates, which the distance check drops: the search stays exact.
"""

import itertools
import math
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

CHUNKS, CHUNK_BITS, FLIPS = 11, 23, 2
MAX_RADIUS = CHUNKS * (FLIPS + 1) - 1  # 32: the largest radius the search is exact for
# A growing index (the tail) scans its newest hashes directly until they are 1/SCAN_SHARE of the
# sorted ones (at least SCAN_MIN, at most SCAN_MAX), then sorts all again: building stays
# proportional to the size, and no search scans much.
SCAN_MIN, SCAN_MAX, SCAN_SHARE = 1_024, 65_536, 8


def _masks(flips: int) -> npt.NDArray[np.uint32]:
    return np.array(
        [0] + [sum(1 << b for b in bits) for n in range(1, flips + 1)
               for bits in itertools.combinations(range(CHUNK_BITS), n)], dtype=np.uint32,
    )  # fmt: skip


# One flip a chunk is exact up to 21 bits for an eleventh of the lookups: what the ORB
# descriptor index (features.py) searches with.
_MASKS = {flips: _masks(flips) for flips in (1, FLIPS)}


def max_radius(flips: int) -> int:
    return CHUNKS * (flips + 1) - 1


Codes = npt.NDArray[np.uint64]  # (n, 4): a 256-bit hash as four words
Found = list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]]  # per query: positions, dists


def from_hex(hexes: list[str]) -> Codes:
    raw = bytes.fromhex("".join(hexes))
    return np.frombuffer(raw, dtype=">u8").astype(np.uint64).reshape(-1, 4)


def chunk_keys(codes: Codes) -> npt.NDArray[np.uint32]:
    """(n, CHUNKS) keys: chunk k is bits 23k..23k+22 of the hash, first bit highest, cut
    straight out of the four words (no bit-unpacking: that would take 1 KiB a hash)."""
    keys = np.empty((len(codes), CHUNKS), np.uint32)
    mask = np.uint64((1 << CHUNK_BITS) - 1)
    for k in range(CHUNKS):
        word, offset = divmod(k * CHUNK_BITS, 64)
        if offset + CHUNK_BITS <= 64:
            value = codes[:, word] >> np.uint64(64 - offset - CHUNK_BITS)
        else:  # the chunk runs over into the next word
            spill = offset + CHUNK_BITS - 64
            value = (codes[:, word] << np.uint64(spill)) | (
                codes[:, word + 1] >> np.uint64(64 - spill)
            )
        keys[:, k] = value & mask
    return keys


def distances(codes: Codes, query: Codes) -> npt.NDArray[np.int16]:
    # Four columns added by hand: numpy's sum along an axis of four is twice as slow here, and
    # this is most of a search's time.
    bits = np.bitwise_count(codes ^ query)
    return bits[..., 0].astype(np.int16) + bits[..., 1] + bits[..., 2] + bits[..., 3]  # type: ignore[no-any-return]


class Tables(NamedTuple):
    """A growing index's tables, in memory: plain int32 arrays, rebuilt as it grows."""

    order: npt.NDArray[np.int32]  # (CHUNKS, rows): positions sorted by bucket
    starts: npt.NDArray[np.int32]  # (CHUNKS, 2**bits + 1): where each bucket's run starts

    @property
    def rows(self) -> int:
        return int(self.order.shape[1])

    @property
    def bits(self) -> int:
        return int(self.starts.shape[1] - 1).bit_length() - 1

    def runs(
        self, k: int, buckets: npt.NDArray[np.uint32]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Where each bucket's run of table k starts and ends."""
        starts = self.starts[k]
        return starts[buckets].astype(np.int64), starts[buckets + 1].astype(np.int64)

    def positions(self, k: int, at: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        return self.order[k][at].astype(np.int64)  # type: ignore[no-any-return]


# A segment's tables, written once and mapped by every worker, are packed (`pack`): a position
# is 3 bytes (a uint16 and a uint8 plane: numpy has no 24-bit integer, and a segment holds at
# most PACKED_ROWS rows, `index_max_segment_rows`; two planes gathered measured faster than
# 3-byte records), and the directory keeps one uint32 a block of DIRECTORY_BLOCK buckets plus
# a uint16 offset a bucket: 3 bytes an entry and 2 a bucket, where memory's tables take 4 and
# 4. Positions and directories are most of a frame's bytes, five kinds of eleven tables.
# Why not fewer tables: eleven 23-bit chunks with two flips is the fewest that stays exact at
# radius 31 for a few hundred lookups a chunk (eight 32-bit chunks need three flips: seven
# times the lookups). Why not fewer buckets: half as many made a search a third slower
# (bench/index.py), for 2 bytes a row a table less.
PACKED_ROWS = 1 << 24
DIRECTORY_BLOCK = 256


class PackedTables(NamedTuple):
    order_lo: npt.NDArray[np.uint16]  # (CHUNKS, rows): each position's low 16 bits
    order_hi: npt.NDArray[np.uint8]  # (CHUNKS, rows): its high 8 bits
    base: npt.NDArray[np.uint32]  # (CHUNKS, blocks): where each block of buckets starts
    offset: npt.NDArray[np.uint16 | np.uint32]  # (CHUNKS, 2**bits + 1): from its block's base

    @property
    def rows(self) -> int:
        return int(self.order_lo.shape[1])

    @property
    def bits(self) -> int:
        return int(self.offset.shape[1] - 1).bit_length() - 1

    def _start(self, k: int, buckets: npt.NDArray[np.uint32]) -> npt.NDArray[np.int64]:
        block = buckets // DIRECTORY_BLOCK
        start: npt.NDArray[np.int64] = (
            self.base[k][block].astype(np.int64) + self.offset[k][buckets]
        )
        return start

    def runs(
        self, k: int, buckets: npt.NDArray[np.uint32]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        return self._start(k, buckets), self._start(k, buckets + 1)

    def positions(self, k: int, at: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        low, high = self.order_lo[k][at].astype(np.int64), self.order_hi[k][at].astype(np.int64)
        position: npt.NDArray[np.int64] = low | (high << 16)
        return position


AnyTables = Tables | PackedTables


def directory_bits(rows: int) -> int:
    """About a row a bucket, and never more buckets than the 23-bit keys have. Measured on a
    4M-row segment (bench/index.py): one bit more than a row a bucket cuts a search by a
    third, for 4 bytes a row a table more, which in memory is worth it."""
    return min(CHUNK_BITS, max(8, math.floor(math.log2(max(rows, 1))) + 1))


def build_tables(codes: Codes, bits: int | None = None) -> Tables:
    bits = directory_bits(len(codes)) if bits is None else bits
    buckets = chunk_keys(codes) >> np.uint32(CHUNK_BITS - bits)
    order = np.empty((CHUNKS, len(codes)), np.int32)  # int32: half the memory of int64
    starts = np.zeros((CHUNKS, (1 << bits) + 1), np.int32)
    for k in range(CHUNKS):
        order[k] = np.argsort(buckets[:, k], kind="stable")
        np.cumsum(np.bincount(buckets[:, k], minlength=1 << bits), out=starts[k, 1:])
    return Tables(order, starts)


def pack(tables: Tables) -> PackedTables:
    """Tables as a segment stores them. The offsets are uint16 unless some block of buckets
    holds 65,536 rows or more (one picture repeated that often), then uint32."""
    if tables.rows > PACKED_ROWS:
        raise ValueError(f"a packed table holds at most {PACKED_ROWS} rows")
    order = tables.order.astype(np.uint32)
    base = tables.starts[:, ::DIRECTORY_BLOCK].astype(np.uint32)
    blocks = np.arange(tables.starts.shape[1]) // DIRECTORY_BLOCK
    offset = tables.starts - base[:, blocks].astype(np.int32)
    narrow = int(offset.max(initial=0)) <= np.iinfo(np.uint16).max
    return PackedTables(
        (order & 0xFFFF).astype(np.uint16), (order >> 16).astype(np.uint8), base,
        offset.astype(np.uint16 if narrow else np.uint32),
    )  # fmt: skip


def probe_keys(queries: Codes, flips: int = FLIPS) -> npt.NDArray[np.uint32]:
    """(queries, CHUNKS, probes): every key within `flips` of each query's chunk keys. The
    same for every table, so a search over many segments computes them once."""
    return chunk_keys(queries)[:, :, None] ^ _MASKS[flips]


def search(
    codes: Codes, tables: AnyTables | None, queries: Codes, radius: int,
    keys: npt.NDArray[np.uint32] | None = None, flips: int = FLIPS,
    max_bucket: int | None = None,
) -> Found:  # fmt: skip
    """For each query: (positions, distances) of every hash in `codes` within `radius`.
    `tables` cover the first `tables.rows` hashes; any after them are compared directly.
    `keys`: the queries' `probe_keys` with `flips`, if already at hand."""
    if radius > max_radius(flips):
        raise ValueError(f"exact only up to radius {max_radius(flips)}")
    n_queries, indexed = len(queries), tables.rows if tables is not None else 0
    newest = np.arange(indexed, len(codes))
    # Candidate (query, position) pairs: every newest hash, plus every table hit.
    query_ids = [np.repeat(np.arange(n_queries), len(newest))]
    positions = [np.tile(newest, n_queries)]
    if tables is not None and indexed:
        shift = np.uint32(CHUNK_BITS - tables.bits)
        probes = (probe_keys(queries, flips) if keys is None else keys) >> shift
        for k in range(CHUNKS):
            buckets = probes[:, k]
            if shift:  # flips below the bucket's bits land in one bucket: look it up once
                buckets = np.sort(buckets, axis=1)
                fresh = np.ones(buckets.shape, bool)
                fresh[:, 1:] = buckets[:, 1:] != buckets[:, :-1]
                owner = np.nonzero(fresh)[0]
                buckets = buckets[fresh]
            else:
                owner = np.repeat(np.arange(n_queries), buckets.shape[1])
                buckets = buckets.ravel()
            lo, hi = tables.runs(k, buckets)
            counts = hi - lo
            if max_bucket is not None:  # crowded buckets skipped: no longer exact there
                counts[counts > max_bucket] = 0
            total = int(counts.sum())
            if not total:
                continue
            # Expand every [lo, hi) range into its members without a Python loop.
            starts = np.repeat(lo - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
            positions.append(tables.positions(k, starts + np.arange(total)))
            query_ids.append(np.repeat(owner, counts))
    return _within(codes, queries, radius, np.concatenate(query_ids), np.concatenate(positions))


def scan(codes: Codes, queries: Codes, radius: int, start: int) -> Found:
    """As `search`, comparing every query with every hash from `start` on directly: for the
    few rows committed since the last search."""
    n_queries, rows = len(queries), np.arange(start, len(codes))
    qid, pos = np.repeat(np.arange(n_queries), len(rows)), np.tile(rows, n_queries)
    return _within(codes, queries, radius, qid, pos)


def _within(
    codes: Codes, queries: Codes, radius: int, qid: npt.NDArray[np.int64],
    pos: npt.NDArray[np.int64],
) -> Found:  # fmt: skip
    """The candidate (query, position) pairs within `radius`, once each, per query."""
    n_queries = len(queries)
    # Check distances first and drop duplicates after: few candidates are close.
    dist = distances(np.take(codes, pos, axis=0), np.take(queries, qid, axis=0))
    close = dist <= radius
    size = max(1, len(codes))
    unique, first = np.unique(qid[close] * size + pos[close], return_index=True)
    qid, pos, kept = unique // size, unique % size, dist[close][first].astype(np.int64)
    bounds = np.searchsorted(qid, np.arange(n_queries + 1))
    return [(pos[a:b], kept[a:b]) for a, b in itertools.pairwise(bounds)]


class FrameIndex:
    """A growing index in memory, positions 0..n-1 in insertion order; callers keep what each
    position stands for. Sorted tables over the older hashes, the newest compared directly."""

    def __init__(
        self, codes: Codes | None = None, tables: AnyTables | None = None,
        scan_max: int = SCAN_MAX,
    ) -> None:  # fmt: skip
        self.codes: Codes = np.empty((0, 4), np.uint64) if codes is None else codes
        self.tables = tables
        self.scan_max = scan_max

    def __len__(self) -> int:
        return len(self.codes)

    @property
    def indexed(self) -> int:
        return self.tables.rows if self.tables is not None else 0

    def add(self, codes: Codes) -> None:
        self.codes = np.concatenate([self.codes, codes]) if len(self.codes) else codes.copy()
        scanned = len(self.codes) - self.indexed
        if scanned >= min(self.scan_max, max(SCAN_MIN, self.indexed // SCAN_SHARE)):
            self.tables = build_tables(self.codes)

    def search(
        self, queries: Codes, radius: int, keys: npt.NDArray[np.uint32] | None = None,
        flips: int = FLIPS, max_bucket: int | None = None,
    ) -> Found:  # fmt: skip
        return search(self.codes, self.tables, queries, radius, keys, flips, max_bucket)
