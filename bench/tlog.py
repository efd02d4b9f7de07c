"""Transparency-log benchmark: inclusion and consistency proofs, tile reads and a witness's
cosign round trip, with trees of 1M and 10M audit events (SQLite), each against a baseline
measured in the same run.

    .venv/bin/python -m bench.tlog [--sizes 1000000,10000000] [--samples 1000] [--store DIR]

The tree is filled directly (leaf hashes of synthetic events, every complete subtree as
`mvq.audit.tree.integrate` stores it): proofs and hash tiles read only those tables. Entry
bundles read the events themselves, which take far longer to write, so real event rows (of an
award's size) are written for the first `--events` leaves only (1M by default), and bundles are
read from that range; their bytes are not the synthetic leaves the tree hashes, which a read
does not check. With `--store DIR` the databases are kept there and a later run reuses a tree
of the same size instead of writing it again (10M leaves take minutes).
"""

import argparse
import hashlib
import itertools
import json
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
from sqlalchemy.orm import Session

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


def fill_events(db_file: Path, count: int) -> float:
    """Event rows for leaves 0 … count-1 (`seq` = leaf + 1, as `fill` numbers them), shaped as
    a ledger award's event; returns seconds taken."""
    started = time.monotonic()
    conn = sqlite3.connect(db_file)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    rows = []
    prev = "0" * 64
    for i in range(count):
        this = hashlib.sha256(b"chain %d" % i).hexdigest()
        data = {"unit_id": _uuid(i, 1), "points": 10, "submission_id": _uuid(i, 2),
                "decision_id": _uuid(i, 3), "rule_version_id": _uuid(0, 4), "dispute_id": None,
                "row_digest": hashlib.sha256(b"row %d" % i).hexdigest()}  # fmt: skip
        rows.append((i + 1, "2026-12-07 04:30:00.000000", "worker", "ledger.award",
                     "ledger_entry", _uuid(i, 5), json.dumps(data), prev, this))  # fmt: skip
        prev = this
        if len(rows) == CHUNK or i == count - 1:
            conn.executemany(
                "INSERT INTO audit_events (seq, occurred_at, actor, action, object_type, "
                "object_id, data, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            conn.commit()
            rows = []
    conn.execute("ANALYZE")
    conn.close()
    return time.monotonic() - started


def _uuid(i: int, kind: int) -> str:
    h = hashlib.sha256(b"%d/%d" % (kind, i)).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


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


def measure(url: str, size: int, samples: int, events: int) -> list[str]:
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

        def inclusion_orm() -> None:
            index = rng.randrange(size)
            ranges = merkle.inclusion_ranges(index, size)
            proof = merkle.combine(ranges, _nodes_orm(session, merkle.nodes_for(ranges)))
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
        # The two ways of reading a proof's subtrees in turns, so load hits both alike.
        now, before, on_cpu = [], [], []
        for _ in range(samples):
            cpu = time.thread_time()
            now += timed(inclusion, 1)
            on_cpu.append((time.thread_time() - cpu) * 1000)
            before += timed(inclusion_orm, 1)
        lines.append(row("inclusion proof + check", now, baseline))
        # The same calls' CPU time: what a tail above it spent waiting (for a core, or I/O).
        lines.append(row("the same, on-CPU time only", on_cpu, baseline))
        lines.append(row("the same, query built as SQLAlchemy expressions (before)", before,
                         baseline))  # fmt: skip
        lines.append(row("consistency proof", timed(consistency, samples), baseline))
        lines.append(row("hash tile, level 0", timed(tile(0), samples), baseline))
        lines.append(row("hash tile, level 1", timed(tile(1), samples), baseline))

        def bundle() -> None:
            data = tiles.entries(session, reader=auditor, index=rng.randrange(events // 256),
                                 width=256)  # fmt: skip
            assert len(data) > 256 * 200

        lines.append(row("entry bundle (256 events)", timed(bundle, samples), baseline))

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


def _nodes_orm(session: Session, wanted: set[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    """How `mvq.audit.tree.nodes` read a proof's subtrees until 2026-12-07: the same query,
    built from SQLAlchemy expressions on every call (kept here as the before figure)."""
    from sqlalchemy import and_, or_, select

    from mvq.audit.models import AuditTreeNode

    by_level: dict[int, list[int]] = {}
    for level, idx in wanted:
        by_level.setdefault(level, []).append(idx)
    terms = [and_(AuditTreeNode.level == level, AuditTreeNode.idx.in_(sorted(idxs)))
             for level, idxs in sorted(by_level.items())]  # fmt: skip
    rows = session.execute(
        select(AuditTreeNode.level, AuditTreeNode.idx, AuditTreeNode.hash).where(or_(*terms))
    )
    return {(r.level, r.idx): bytes(r.hash) for r in rows}


def _b64(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode()


def prepare(store: Path, size: int, events: int) -> tuple[Path, dict[str, object]]:
    """The database of a tree of `size` leaves and `events` event rows: kept from an earlier
    run in `store` when one is there, else written now."""
    from mvq.bootstrap import migrate

    db_file = store / f"tlog-{size}.sqlite"
    meta_file = store / f"tlog-{size}.json"
    if db_file.exists() and meta_file.exists():
        meta = json.loads(meta_file.read_text())
        if meta.get("size") == size and meta.get("events") == events:
            return db_file, {**meta, "reused": True}
    db_file.unlink(missing_ok=True)
    migrate(f"sqlite:///{db_file}")
    meta = {"size": size, "events": events, "tree_seconds": fill(db_file, size),
            "events_seconds": fill_events(db_file, events)}  # fmt: skip
    meta_file.write_text(json.dumps(meta))
    return db_file, {**meta, "reused": False}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--store", type=Path, default=None)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="mvq-bench-tlog-"))
    _env(root)
    store = args.store or root
    store.mkdir(parents=True, exist_ok=True)
    # The log's key is part of nothing stored here (no checkpoint is kept), so a kept tree is
    # reusable under a new key.
    sections = []
    for size in (int(s) for s in args.sizes.split(",")):
        db_file, built = prepare(store, size, min(size, args.events))
        mib = db_file.stat().st_size / 2**20
        rows = measure(f"sqlite:///{db_file}", size, args.samples, min(size, args.events))
        how = ("reused, " if built["reused"] else "") + (
            f"tree written in {built['tree_seconds']:.0f} s, {built['events']:,} events in "
            f"{built['events_seconds']:.0f} s, {mib:,.0f} MiB"
        )
        sections.append(
            f"**{size:,} leaves** ({how})\n\n"
            "| operation | p50 | p99 | samples | p50 vs baseline |\n|---|---|---|---|---|\n"
            + "\n".join(rows)
        )
        if args.store is None:
            db_file.unlink()
        print(sections[-1], flush=True)
    digest = hashlib.sha256(b"".join(s.encode() for s in sections)).hexdigest()[:8]
    body = (
        "## Transparency log: proofs, tiles and witness round trips (SQLite)\n\n"
        f"Command: `.venv/bin/python -m bench.tlog --sizes {args.sizes} "
        f"--samples {args.samples} --events {args.events}"
        f"{' --store DIR' if args.store else ''}`. The tree (leaves and every complete "
        "subtree, as `mvq.audit.tree` stores them) is written straight into a SQLite database, "
        "with real event rows for the first leaves (the module's docstring says why); proofs "
        "are built from it as `GET /api/v1/ledger/{id}/receipt` and the witness protocol build "
        "them (one query for all the subtrees a proof needs), hash tiles and entry bundles as "
        "`GET /api/v1/audit/log/tile/...` reads them. The witness is the real HTTP server in "
        "a thread of the same process. Baselines: a bare `SELECT 1` through the same session, "
        "and a GET to the same witness that does no cryptography. Target: inclusion proof p99 "
        f"≤ 10 ms. (run {digest})\n\n" + "\n\n".join(sections)
    )
    write_section("tlog", body)


if __name__ == "__main__":
    main()
