"""Ledger benchmark: balance and leaderboard queries with 1,000,000 entries over 500 units
(Postgres), against summing the raw entries and a bare round trip, in the same run.

    .venv/bin/python -m bench.ledger [--entries 1000000] [--units 500] [--queries 300]
"""

import argparse
import random
import time
import uuid
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from bench.report import percentile, write_section
from mvq.auth.policy import OPERATOR
from mvq.db import session_factory, utcnow
from mvq.scoring import ledger
from mvq.scoring.models import EntryType, LedgerEntry
from mvq.units.models import Unit
from testkit import harness

CHUNK = 20_000


def fill(url: str, entries: int, units: int) -> list[str]:
    now = utcnow()
    rng = random.Random(7)
    with session_factory(url)() as session:
        unit_ids = [str(uuid.uuid4()) for _ in range(units)]
        session.execute(insert(Unit), [{"id": u, "name": f"unit-{n:03d}"}
                                       for n, u in enumerate(unit_ids)])  # fmt: skip
        for start in range(0, entries, CHUNK):
            rows = []
            for _ in range(min(CHUNK, entries - start)):
                kind = rng.choices(["award", "reversal", "debit"], [90, 3, 7])[0]
                points = rng.choice([6, 10, 20, 40, 50])
                age = timedelta(seconds=rng.uniform(0, 365 * 86400))
                rows.append({"id": str(uuid.uuid4()), "unit_id": rng.choice(unit_ids),
                             "entry_type": kind, "points": points if kind == "award" else -points,
                             "created_at": now - age})  # fmt: skip
            session.execute(insert(LedgerEntry), rows)
            session.commit()
        ledger.rebuild_daily(session)
        session.commit()
        session.execute(text("ANALYZE"))
        session.commit()
    return unit_ids


def raw_leaderboard(session: Session, since: object) -> list[tuple[str, int]]:
    """The same ranking summed straight from the entries: what the day totals save."""
    stmt = select(LedgerEntry.unit_id, func.sum(LedgerEntry.points)).where(
        LedgerEntry.entry_type != EntryType.debit
    )
    if since is not None:
        stmt = stmt.where(LedgerEntry.created_at >= since)
    return [(u, int(p)) for u, p in session.execute(stmt.group_by(LedgerEntry.unit_id))]


def timed(session: Session, call: Callable[[], object], queries: int) -> list[float]:
    samples = []
    for _ in range(queries):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
        session.rollback()
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--units", type=int, default=500)
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    with harness.temporary_backing("mvq-bench-") as backing:
        url = harness.fresh_database(backing, "postgres")
        harness.use_env({**backing.env, "MVQ_DATABASE_URL": url})
        started = time.perf_counter()
        unit_ids = fill(url, args.entries, args.units)
        filled = time.perf_counter() - started
        now, q = utcnow(), args.queries
        rng = random.Random(11)
        week, month = now - timedelta(days=7), now - timedelta(days=30)
        with session_factory(url)() as s:
            rows = {
                "balance of one unit": timed(
                    s, lambda: ledger.balance(s, unit_id=rng.choice(unit_ids)), q),
                "leaderboard, last 7 days": timed(
                    s, lambda: ledger.leaderboard(s, viewer=OPERATOR, since=week, until=None), q),
                "leaderboard, last 30 days": timed(
                    s, lambda: ledger.leaderboard(s, viewer=OPERATOR, since=month, until=None), q),
                "leaderboard, all time": timed(
                    s, lambda: ledger.leaderboard(s, viewer=OPERATOR, since=None, until=None), q),
                "baseline: summing raw entries, all time": timed(
                    s, lambda: raw_leaderboard(s, None), max(10, q // 10)),
                "baseline: `SELECT 1` round trip": timed(
                    s, lambda: s.execute(text("SELECT 1")), q),
            }  # fmt: skip
            check = {
                r.unit_id: r.points
                for r in ledger.leaderboard(s, viewer=OPERATOR, since=None, until=None)
            }
            assert check == dict(raw_leaderboard(s, None)), "day totals differ from the ledger"

    def line(name: str, values: list[float]) -> str:
        p50, p99 = percentile(values, 50) * 1000, percentile(values, 99) * 1000
        return f"| {name} | {p50:.2f} ms | {p99:.2f} ms | {len(values)} |"

    table = "\n".join(line(name, values) for name, values in rows.items())
    body = f"""## Ledger queries, {args.entries:,} entries over {args.units} units (Postgres)

Command: `.venv/bin/python -m bench.ledger --entries {args.entries} --units {args.units}`.
Entries spread over a year (90 % awards, 7 % debits, 3 % reversals; filled in {filled:.0f} s,
day totals rebuilt from them). Service calls in process against Postgres on this machine, one
query at a time; the leaderboard is checked equal to summing the raw entries. Baselines in the
same run: the same all-time ranking summed from the raw entries (what `unit_daily_points`
saves), and a bare round trip.

| query | p50 | p99 | samples |
|---|---|---|---|
{table}
"""
    write_section("ledger", body)
    print(body)


if __name__ == "__main__":
    main()
