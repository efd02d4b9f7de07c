"""The Merkle tree of RFC 9162 §2.1 (unchanged from RFC 6962): hashes, proofs and their checks.

Pure functions over 32-byte hashes, so the database store (mvq.audit.tree), the witness and an
offline receipt check share one implementation. Proof generation is written against a map of
the complete subtrees it needs ({(level, index): hash}, a node at level L covering leaves
index·2^L … (index+1)·2^L - 1), so a store can fetch them all in one query:
`inclusion_ranges` / `consistency_ranges` say which ranges, `nodes_for` which subtrees, and
`combine` folds them into the proof. A subtree that is not complete (the tree's right edge)
is, by the RFC's own definition of MTH, the fold of the complete subtrees that make it up, so
complete subtrees are all a store ever keeps.
"""

import hashlib
from collections.abc import Iterable, Mapping, Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()
Node = tuple[int, int]  # (level, index)


class ProofError(ValueError):
    """A proof that does not verify, or one asked for sizes it cannot exist for."""


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1): where MTH splits D[n]."""
    return 1 << ((n - 1).bit_length() - 1)


def subtrees(start: int, end: int) -> list[Node]:
    """The complete subtrees, left to right, whose fold is MTH(D[start:end]); `start` is
    aligned to a power of two at least end - start, as every range in the RFC's recursion is."""
    found: list[Node] = []
    while end > start:
        size = end - start
        piece = size if size & (size - 1) == 0 else _split(size)
        level = piece.bit_length() - 1
        found.append((level, start >> level))
        start += piece
    return found


def fold(hashes: Sequence[bytes]) -> bytes:
    """MTH of a range from its complete subtrees (as `subtrees` lists them)."""
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


def _ranges_inclusion(index: int, start: int, end: int) -> list[tuple[int, int]]:
    # PATH(m, D[n]) of §2.1.3.1, as the ranges whose MTH it lists, leaf first.
    path: list[tuple[int, int]] = []
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            path.append((start + k, end))
            end = start + k
        else:
            path.append((start, start + k))
            start += k
    return list(reversed(path))


def _ranges_consistency(m: int, start: int, end: int) -> list[tuple[int, int]]:
    # SUBPROOF(m, D[n], true) of §2.1.4.1, iteratively; m counts from `start`.
    proof: list[tuple[int, int]] = []
    complete = True
    while True:
        n = end - start
        if m == n:
            if not complete:
                proof.append((start, end))
            break
        k = _split(n)
        if m <= k:
            proof.append((start + k, end))
            end = start + k
        else:
            proof.append((start, start + k))
            start += k
            m -= k
            complete = False
    return list(reversed(proof))


def _check_sizes(first: int, second: int) -> None:
    if not 0 <= first <= second:
        raise ProofError(f"no proof from size {first} to size {second}")


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of {size}")
    return _ranges_inclusion(index, 0, size)


def consistency_ranges(first: int, second: int) -> list[tuple[int, int]]:
    _check_sizes(first, second)
    if first == 0 or first == second:
        return []
    return _ranges_consistency(first, 0, second)


def nodes_for(ranges: Iterable[tuple[int, int]]) -> set[Node]:
    return {node for start, end in ranges for node in subtrees(start, end)}


def combine(ranges: Iterable[tuple[int, int]], nodes: Mapping[Node, bytes]) -> list[bytes]:
    """The proof's hashes from the complete subtrees `nodes_for(ranges)` named."""
    return [fold([nodes[n] for n in subtrees(start, end)]) for start, end in ranges]


def root(size: int, nodes: Mapping[Node, bytes]) -> bytes:
    return EMPTY_ROOT if size == 0 else fold([nodes[n] for n in subtrees(0, size)])


def verify_inclusion(
    *, index: int, size: int, leaf: bytes, proof: Sequence[bytes], root_hash: bytes
) -> None:
    """RFC 9162 §2.1.3.2; `leaf` is the leaf's hash. Raises ProofError."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of {size}")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof shorter than the tree is deep")
    if r != root_hash:
        raise ProofError("inclusion proof does not lead to the root")


def verify_consistency(
    *, first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> None:
    """RFC 9162 §2.1.4.2: the tree of `second` leaves extends the one of `first`. Raises
    ProofError."""
    _check_sizes(first, second)
    if first == second:
        if proof or first_root != second_root:
            raise ProofError("same size, another root: the log forked")
        return
    if first == 0:
        if proof:
            raise ProofError("a proof from the empty tree must be empty")
        return
    if not proof:
        raise ProofError("empty consistency proof")
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof too short")
    if fr != first_root:
        raise ProofError("the older tree's root is not what the log had: history was rewritten")
    if sr != second_root:
        raise ProofError("consistency proof does not lead to the newer root")


class CompactRange:
    """The roots of the complete subtrees of a growing prefix (at most one per level): a whole
    log's root, and those of its prefixes, in one pass with O(log n) memory."""

    def __init__(self, size: int = 0, frontier: Sequence[bytes] = ()) -> None:
        """Empty, or resumed at `size` from the hashes of `subtrees(0, size)`."""
        self.size = size
        nodes = subtrees(0, size)
        if len(nodes) != len(frontier):
            raise ValueError(f"a tree of {size} has {len(nodes)} frontier subtrees")
        # (level, hash), levels decreasing
        self._stack: list[tuple[int, bytes]] = [
            (level, h) for (level, _), h in zip(nodes, frontier, strict=True)
        ]

    def append(self, leaf: bytes) -> list[tuple[Node, bytes]]:
        """Adds one leaf hash; returns every complete subtree it closes, the leaf first."""
        closed = [((0, self.size), leaf)]
        level, h = 0, leaf
        while self._stack and self._stack[-1][0] == level:
            _, left = self._stack.pop()
            h = node_hash(left, h)
            level += 1
            closed.append(((level, self.size >> level), h))
        self._stack.append((level, h))
        self.size += 1
        return closed

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        return fold([h for _, h in self._stack])
