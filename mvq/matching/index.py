"""Exact Hamming range search over PDQ hashes: multi-index hashing on sorted arrays.

Why not FAISS's IndexBinaryMultiHash: measured here at 10M hashes, its hash maps of small
vectors take several GB, while sorted numpy arrays take 8 bytes a hash a table (bench/index.py).

How: the first 253 bits of each 256-bit hash are cut into 11 chunks of 23 bits. Two hashes
within 32 bits differ by at most 2 bits in some chunk (11 chunks x 3 > 32, pigeonhole), so
looking up every key within 2 flips of each query chunk finds every hash within the radius:
an exact search, never an approximation. Candidates are then checked on all 256 bits.
"""

import itertools

import numpy as np
import numpy.typing as npt

CHUNKS, CHUNK_BITS, FLIPS = 11, 23, 2
MAX_RADIUS = CHUNKS * (FLIPS + 1) - 1  # 32: the largest radius the search is exact for
BUFFER_LIMIT = 65_536  # newest hashes are scanned directly until there are this many
_MASKS = np.array(
    [0] + [sum(1 << b for b in bits) for n in range(1, FLIPS + 1)
           for bits in itertools.combinations(range(CHUNK_BITS), n)], dtype=np.uint32,
)  # fmt: skip

Codes = npt.NDArray[np.uint64]  # (n, 4): a 256-bit hash as four words


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


def distances(codes: Codes, query: Codes) -> npt.NDArray[np.int64]:
    return np.bitwise_count(codes ^ query).sum(axis=-1, dtype=np.int64)  # type: ignore[no-any-return]


class FrameIndex:
    """Positions 0..n-1 in insertion order; callers keep what each position stands for."""

    def __init__(self) -> None:
        self.codes: Codes = np.empty((0, 4), np.uint64)
        self.indexed = 0  # positions below this are in the sorted tables
        # Per table: positions sorted by chunk key, and where each key's run starts (a direct
        # table over all 2**23 keys: one lookup a probe instead of a binary search).
        self.starts: list[npt.NDArray[np.int32]] = []
        self.order: list[npt.NDArray[np.int32]] = []  # int32: half the memory at 10M

    def __len__(self) -> int:
        return len(self.codes)

    def add(self, codes: Codes) -> None:
        self.codes = np.concatenate([self.codes, codes]) if len(self.codes) else codes.copy()
        if len(self.codes) - self.indexed >= BUFFER_LIMIT:
            self._rebuild()

    def _rebuild(self) -> None:
        keys = chunk_keys(self.codes)
        self.order = [np.argsort(keys[:, k], kind="stable").astype(np.int32) for k in range(CHUNKS)]
        self.starts = [
            np.concatenate([[0], np.cumsum(np.bincount(keys[:, k], minlength=1 << CHUNK_BITS))])
            .astype(np.int32) for k in range(CHUNKS)
        ]  # fmt: skip
        self.indexed = len(self.codes)

    def search(
        self, queries: Codes, radius: int
    ) -> list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]]:
        """For each query: (positions, distances) of every stored hash within `radius`."""
        if radius > MAX_RADIUS:
            raise ValueError(f"exact only up to radius {MAX_RADIUS}")
        n_queries, newest = len(queries), np.arange(self.indexed, len(self.codes))
        # Candidate (query, position) pairs: every newest hash, plus every table hit.
        pairs = [np.repeat(np.arange(n_queries), len(newest)), np.tile(newest, n_queries)]
        query_ids, positions = [pairs[0]], [pairs[1]]
        if self.indexed:
            probes = chunk_keys(queries)[:, :, None] ^ _MASKS  # (queries, chunks, probes)
            for k in range(CHUNKS):
                keys = probes[:, k].ravel()
                lo, hi = self.starts[k][keys], self.starts[k][keys + 1]
                counts = hi - lo
                total = int(counts.sum())
                if not total:
                    continue
                # Expand every [lo, hi) range into its members without a Python loop.
                starts = np.repeat(lo - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
                members = starts + np.arange(total)
                positions.append(self.order[k][members].astype(np.int64))
                query_ids.append(np.repeat(np.arange(len(counts)) // len(_MASKS), counts))
        qid, pos = np.concatenate(query_ids), np.concatenate(positions)
        # Check distances first and drop duplicates after: few candidates are close.
        dist = distances(self.codes[pos], queries[qid])
        close = dist <= radius
        size = max(1, len(self.codes))
        unique, first = np.unique(qid[close] * size + pos[close], return_index=True)
        qid, pos, dist = unique // size, unique % size, dist[close][first]
        bounds = np.searchsorted(qid, np.arange(n_queries + 1))
        return [(pos[a:b], dist[a:b]) for a, b in itertools.pairwise(bounds)]
