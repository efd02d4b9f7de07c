"""Transparency-log benchmark: inclusion and consistency proofs, tile reads and a witness's
cosign round trip, with trees of 1M and 10M audit events (SQLite), each against a baseline
measured in the same run.

    .venv/bin/python -m bench.tlog [--sizes 1000000,10000000] [--samples 1000]

The tree is filled directly (leaf hashes of synthetic events, every complete subtree as
`mvq.audit.tree.integrate` stores it): proofs and hash tiles read only those tables, so the
events themselves, which would take far longer to write, are left out. The witness is the real
`mvq.audit.witness` HTTP server, in a thread of this process, on loopback.
"""

import argparse
import hashlib
import itertools
import os
import random
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from sqlalchemy import text

from bench.report import median, percentile, write_section

CHUNK = 200_000


def _env(root: Path) -> None:
    """Settings for this run only: a data dir and a log key of its own."""
    os.environ["MVQ_DATA_DIR"] = str(root / "data")
    os.environ["MVQ_SIGNING_KEY"] = os.urandom(32).hex()
    os.environ["MVQ_WITNESSES"] = ""


def fill(db_file: Path, size: int) -> float:
    """The tree of `size` leaves, written as the store keeps it; returns seconds taken."""
    from mvq.audit import merkle

    started = time.monotonic()
    conn = sqlite3.connect(db_file)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    compact = merkle.CompactRange()
    leaves: list[tuple[int, int]] = []
    nodes: list[tuple[int, int, bytes]] = []
    for i in range(size):
        leaf = merkle.leaf_hash(b"event %d" % i)
        leaves.append((i, i + 1))
        nodes.extend((level, idx, h) for (level, idx), h in compact.append(leaf))
        if len(leaves) == CHUNK or i == size - 1:
            conn.executemany("INSERT INTO audit_leaves (leaf_index, seq) VALUES (?, ?)", leaves)
            conn.executemany("INSERT INTO audit_tree_nodes (level, idx, hash) VALUES (?, ?, ?)",
                             nodes)  # fmt: skip
            conn.commit()
            leaves, nodes = [], []
    conn.execute("ANALYZE")
    conn.close()
    return time.monotonic() - started


def timed(fn: Callable[[], object], samples: int) -> list[float]:
    out = []
    for _ in range(samples):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def row(name: str, ms: list[float], base: list[float] | None = None) -> str:
    p50, p99 = median(ms), percentile(ms, 99)
    ratio = f"{p50 / median(base):.1f}x" if base else ""
    return f"| {name} | {p50:.2f} ms | {p99:.2f} ms | {len(ms)} | {ratio} |"


def measure(url: str, size: int, samples: int) -> list[str]:
    from mvq.audit import checkpoint, merkle, signing, tree
    from mvq.audit.witness import Witness, serve
    from mvq.auth.models import Role
    from mvq.auth.principal import Principal
    from mvq.db import session_factory
    from mvq.exports import tiles

    rng = random.Random(size)
    auditor = Principal(kind="staff", id="bench", role=Role.auditor)
    lines = []
    with session_factory(url)() as session:
        root = tree.root(session, size)
        baseline = timed(lambda: session.execute(text("SELECT 1")).scalar(), samples)

        def inclusion() -> None:
            index = rng.randrange(size)
            proof = tree.inclusion_proof(session, index=index, tree_size=size)
            leaf = merkle.leaf_hash(b"event %d" % index)
            merkle.verify_inclusion(index=index, size=size, leaf=leaf, proof=proof,
                                    root_hash=root)  # fmt: skip

        def consistency() -> None:
            first = rng.randrange(1, size)
            tree.consistency_proof(session, first=first, second=size)

        def tile(level: int) -> Callable[[], None]:
            full = (size >> (8 * level)) // 256

            def read() -> None:
                data = tiles.hashes(session, reader=auditor, level=level,
                                    index=rng.randrange(full), width=256)  # fmt: skip
                assert len(data) == 256 * 32

            return read

        lines.append(row("baseline `SELECT 1`", baseline))
        lines.append(row("inclusion proof + check", timed(inclusion, samples), baseline))
        lines.append(row("consistency proof", timed(consistency, samples), baseline))
        lines.append(row("hash tile, level 0", timed(tile(0), samples), baseline))
        lines.append(row("hash tile, level 1", timed(tile(1), samples), baseline))

        # A witness over HTTP: checkpoints of sizes growing one by one up to `size`.
        store = Path(tempfile.mkdtemp(prefix="mvq-bench-witness-"))
        server = serve(Witness(store, [signing.public_key_hex()]), host="127.0.0.1", port=0)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base_url = f"http://127.0.0.1:{server.server_address[1]}"
        rounds = min(samples, 200)
        sizes = list(range(size - rounds, size + 1))
        notes = {}
        for s in sizes:
            notes[s] = checkpoint.sign(checkpoint.Checkpoint(checkpoint.origin(), s,
                                                             tree.root(session, s)))  # fmt: skip
        with httpx.Client(base_url=base_url) as client:
            first = client.post("/add-checkpoint", content=f"old 0\n\n{notes[sizes[0]]}")
            assert first.status_code == 200, first.text
            ping = timed(lambda: client.get("/latest", params={"origin": "none"}), rounds)
            cosign = []
            for old, new in itertools.pairwise(sizes):
                t = time.perf_counter()
                proof = tree.consistency_proof(session, first=old, second=new)
                body = "\n".join([f"old {old}", *(_b64(p) for p in proof)]) + "\n\n" + notes[new]
                answer = client.post("/add-checkpoint", content=body)
                cosign.append((time.perf_counter() - t) * 1000)
                assert answer.status_code == 200, answer.text
        server.shutdown()
        lines.append(row("baseline witness HTTP GET", ping))
        lines.append(row("witness cosign round trip (proof + POST)", cosign, ping))
    return lines


def _b64(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--samples", type=int, default=1000)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="mvq-bench-tlog-"))
    _env(root)
    from mvq.bootstrap import migrate

    sections = []
    for size in (int(s) for s in args.sizes.split(",")):
        db_file = root / f"tlog-{size}.sqlite"
        url = f"sqlite:///{db_file}"
        migrate(url)
        seconds = fill(db_file, size)
        mib = db_file.stat().st_size / 2**20
        rows = measure(url, size, args.samples)
        sections.append(
            f"**{size:,} events** (tree written in {seconds:.0f} s, {mib:,.0f} MiB)\n\n"
            "| operation | p50 | p99 | samples | p50 vs baseline |\n|---|---|---|---|---|\n"
            + "\n".join(rows)
        )
        db_file.unlink()
        print(sections[-1], flush=True)
    digest = hashlib.sha256(b"".join(s.encode() for s in sections)).hexdigest()[:8]
    body = (
        "## Transparency log: proofs, tiles and witness round trips (SQLite)\n\n"
        f"Command: `.venv/bin/python -m bench.tlog --sizes {args.sizes} "
        f"--samples {args.samples}`. The tree (leaves and every complete subtree, as "
        "`mvq.audit.tree` stores them) is written straight into a fresh SQLite database; "
        "proofs are built from it as `GET /api/v1/ledger/{id}/receipt` and the witness "
        "protocol build them (one query for all the subtrees a proof needs), tiles as "
        "`GET /api/v1/audit/log/tile/...` reads them. The witness is the real HTTP server in "
        "a thread of the same process. Baselines: a bare `SELECT 1` through the same session, "
        "and a GET to the same witness that does no cryptography. Target: inclusion proof p99 "
        f"≤ 10 ms. (run {digest})\n\n" + "\n\n".join(sections)
    )
    write_section("tlog", body)


if __name__ == "__main__":
    main()
