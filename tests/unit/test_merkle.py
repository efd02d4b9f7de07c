"""RFC 9162 Merkle proofs against an independent brute-force tree and the RFC 6962 vectors."""

import hashlib
import random

import pytest

from mvq.audit import merkle


def mth(leaves: list[bytes]) -> bytes:
    """MTH of §2.1.1, written straight from its recursive definition."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:])).digest()


def path(m: int, leaves: list[bytes]) -> list[bytes]:
    n = len(leaves)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return [*path(m, leaves[:k]), mth(leaves[k:])]
    return [*path(m - k, leaves[k:]), mth(leaves[:k])]


def subproof(m: int, leaves: list[bytes], b: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if b else [mth(leaves)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return [*subproof(m, leaves[:k], b), mth(leaves[k:])]
    return [*subproof(m - k, leaves[k:], False), mth(leaves[:k])]


def full_nodes(leaves: list[bytes]) -> dict[merkle.Node, bytes]:
    rng = merkle.CompactRange()
    nodes: dict[merkle.Node, bytes] = {}
    for leaf in leaves:
        nodes.update(rng.append(merkle.leaf_hash(leaf)))
    return nodes


# RFC 6962's test leaves, as Certificate Transparency's and transparency-dev's tests use them.
VECTOR_LEAVES = [
    b"", b"\x00", b"\x10", b"\x20\x21", b"\x30\x31", b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
]  # fmt: skip
VECTOR_ROOTS = {
    1: "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    8: "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}


def test_known_roots() -> None:
    assert merkle.EMPTY_ROOT.hex() == hashlib.sha256(b"").hexdigest()
    for size, expected in VECTOR_ROOTS.items():
        assert mth(VECTOR_LEAVES[:size]).hex() == expected
        rng = merkle.CompactRange()
        for leaf in VECTOR_LEAVES[:size]:
            rng.append(merkle.leaf_hash(leaf))
        assert rng.root().hex() == expected
        assert merkle.root(size, full_nodes(VECTOR_LEAVES[:size])).hex() == expected


@pytest.mark.parametrize("size", [*range(1, 40), 64, 65, 100, 127, 128, 129])
def test_proofs_match_the_rfc_definitions_and_verify(size: int) -> None:
    leaves = [f"leaf {i}".encode() for i in range(size)]
    nodes = full_nodes(leaves)
    top = mth(leaves)
    assert merkle.root(size, nodes) == top
    for index in range(size):
        ranges = merkle.inclusion_ranges(index, size)
        proof = merkle.combine(ranges, nodes)
        assert proof == path(index, leaves)
        merkle.verify_inclusion(
            index=index, size=size, leaf=merkle.leaf_hash(leaves[index]), proof=proof,
            root_hash=top,
        )  # fmt: skip
    for first in range(1, size + 1):
        proof = merkle.combine(merkle.consistency_ranges(first, size), nodes)
        expected = [] if first == size else subproof(first, leaves, True)
        assert proof == expected
        merkle.verify_consistency(
            first=first, second=size, first_root=mth(leaves[:first]), second_root=top, proof=proof
        )


def test_tampered_proofs_fail() -> None:
    rnd = random.Random(7)
    leaves = [bytes([i]) * 3 for i in range(50)]
    nodes = full_nodes(leaves)
    top = mth(leaves)
    for _ in range(200):
        index = rnd.randrange(50)
        proof = merkle.combine(merkle.inclusion_ranges(index, 50), nodes)
        bad = list(proof)
        bad[rnd.randrange(len(bad))] = b"\x00" * 32
        with pytest.raises(merkle.ProofError):
            merkle.verify_inclusion(
                index=index, size=50, leaf=merkle.leaf_hash(leaves[index]), proof=bad,
                root_hash=top,
            )  # fmt: skip
        with pytest.raises(merkle.ProofError):
            merkle.verify_inclusion(
                index=index, size=50, leaf=merkle.leaf_hash(b"forged"), proof=proof,
                root_hash=top,
            )  # fmt: skip
        first = rnd.randrange(1, 50)
        cproof = merkle.combine(merkle.consistency_ranges(first, 50), nodes)
        with pytest.raises(merkle.ProofError):
            forged = [*leaves[: first - 1], b"forged"]
            merkle.verify_consistency(
                first=first, second=50, first_root=mth(forged), second_root=top, proof=cproof
            )
        with pytest.raises(merkle.ProofError):
            merkle.verify_consistency(
                first=first, second=50, first_root=mth(leaves[:first]), second_root=top,
                proof=cproof[:-1],
            )  # fmt: skip


def test_a_rewritten_prefix_has_no_consistency_proof() -> None:
    """A log whose 3rd leaf was replaced cannot prove it extends its old checkpoint."""
    old = [f"e{i}".encode() for i in range(10)]
    new = [*old[:2], b"forged", *old[3:], b"e10", b"e11"]
    nodes = full_nodes(new)
    proof = merkle.combine(merkle.consistency_ranges(10, 12), nodes)
    with pytest.raises(merkle.ProofError, match="rewritten"):
        merkle.verify_consistency(
            first=10, second=12, first_root=mth(old), second_root=mth(new), proof=proof
        )
    with pytest.raises(merkle.ProofError, match="forked"):
        merkle.verify_consistency(first=10, second=10, first_root=mth(old),
                                  second_root=mth(new[:10]), proof=[])  # fmt: skip
