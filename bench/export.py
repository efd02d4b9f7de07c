"""Export benchmark: `mvq export` of 1,000,000 ledger rows plus a valid chain of audit events
(Postgres), rows per second and peak memory, against a raw COPY of the same rows.

    .venv/bin/python -m bench.export [--entries 1000000] [--events 200000] [--format csv]
"""

import argparse
import os
import random
import subprocess
import time
import uuid
from datetime import timedelta

import psycopg
from sqlalchemy import insert

from bench.report import write_section
from deploy import servers
from mvq.audit.models import AuditEvent
from mvq.audit.service import GENESIS, hash_fields
from mvq.db import session_factory, utcnow
from mvq.scoring import ledger
from mvq.scoring.models import LedgerEntry
from mvq.units.models import Unit
from testkit import harness

CHUNK = 20_000


def fill(url: str, entries: int, events: int) -> None:
    rng = random.Random(3)
    start = utcnow() - timedelta(days=365)
    with session_factory(url)() as session:
        units = [str(uuid.uuid4()) for _ in range(500)]
        session.execute(insert(Unit), [{"id": u, "name": f"unit-{n}"} for n, u in enumerate(units)])
        for first in range(0, entries, CHUNK):
            session.execute(insert(LedgerEntry), [
                {"id": str(uuid.uuid4()), "unit_id": rng.choice(units), "entry_type": "award",
                 "points": rng.choice([6, 20, 40, 50]),
                 "created_at": start + timedelta(seconds=(first + n) * 30)}
                for n in range(min(CHUNK, entries - first))])  # fmt: skip
            session.commit()
        prev = GENESIS
        for first in range(0, events, CHUNK):
            rows = []
            for n in range(first, min(events, first + CHUNK)):
                at = start + timedelta(seconds=n * 150)
                fields = {"prev_hash": prev, "occurred_at": at.isoformat(), "actor": "bench",
                          "action": "ledger.award", "object_type": "ledger_entry",
                          "object_id": str(n), "data": {"n": n}}  # fmt: skip
                prev = hash_fields(fields)
                rows.append({**fields, "occurred_at": at, "hash": prev})
            session.execute(insert(AuditEvent), rows)
            session.commit()
        ledger.rebuild_daily(session)
        session.commit()


def raw_copy(url: str) -> float:
    """Baseline: the database streaming the same ledger rows out as CSV, into nothing."""
    started = time.perf_counter()
    plain = url.replace("postgresql+psycopg", "postgresql")
    with (
        psycopg.connect(plain) as conn,
        conn.cursor().copy("COPY ledger_entries TO STDOUT (FORMAT csv)") as copy,
    ):
        for _ in copy:
            pass
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--format", default="csv")
    args = parser.parse_args()
    with harness.temporary_backing("mvq-bench-") as backing:
        url = harness.fresh_database(backing, "postgres")
        harness.use_env({**backing.env, "MVQ_DATABASE_URL": url})
        fill(url, args.entries, args.events)
        copy_seconds = raw_copy(url)
        env = {**os.environ, **backing.env, "MVQ_DATABASE_URL": url}
        out = backing.root / "export"
        started = time.perf_counter()
        # GNU time reports the command's own peak RSS (other children of this process, such as
        # the servers' set-up commands, would blur getrusage's figure).
        done = subprocess.run(
            ["/usr/bin/time", "-f", "%M", *servers.mvq_argv("export", "--out", str(out),
                                                             "--format", args.format)],
            env=env, check=True, capture_output=True, text=True,
        )  # fmt: skip
        seconds = time.perf_counter() - started
        peak_mib = int(done.stderr.strip().splitlines()[-1]) / 1024
        started = time.perf_counter()
        subprocess.run(servers.mvq_argv("verify-export", str(out)), env=env, check=True,
                       capture_output=True)  # fmt: skip
        verify_seconds = time.perf_counter() - started
        size_mib = sum(p.stat().st_size for p in out.iterdir()) / 1024**2
    rows = args.entries + args.events
    verify_rate = rows / verify_seconds
    body = f"""## Export, {args.entries:,} ledger rows + {args.events:,} audit events (Postgres)

Command: `.venv/bin/python -m bench.export --entries {args.entries} --events {args.events}
--format {args.format}`. The whole `mvq export` command (process start, every table, SHA-256 of
each file, signed manifest) into {size_mib:.0f} MiB of {args.format}; memory is the command's peak
RSS. Baseline in the same run: Postgres `COPY ledger_entries TO STDOUT` read and discarded.

| | time | rows/s | peak RSS |
|---|---|---|---|
| `mvq export` | {seconds:.1f} s | {rows / seconds:,.0f} | {peak_mib:.0f} MiB |
| baseline: raw `COPY` of the ledger | {copy_seconds:.1f} s | {args.entries / copy_seconds:,.0f} | |
| `mvq verify-export` (hashes, signature, chain) | {verify_seconds:.1f} s | {verify_rate:,.0f} | |
"""
    write_section("export", body)
    print(body)


if __name__ == "__main__":
    main()
