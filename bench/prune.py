"""Pruning a backlog of delivered webhooks (issue 33): rows removed a second and the longest
single transaction (one batch and its commit), on SQLite and Postgres.

The backlog is what a year without pruning leaves: `--events` webhook events, each delivered
to two endpoints with one try a delivery, all delivered before the retention's cutoff; beside
them a tenth as many delivered since (kept), a twentieth pending (kept), and an audit log of
twice as many events as webhook events (the prune looks every candidate up in it). Rows are
inserted in bulk, as the dispatcher and the delivery worker leave them.

    .venv/bin/python -m bench.prune [--events 50000] [--batch 1000] [--backends sqlite postgres]
"""

import argparse
import hashlib
import os
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from bench.report import write_section
from mvq import pruning
from mvq.audit.models import AuditEvent
from mvq.auth import policy
from mvq.auth import service as auth
from mvq.db import session_factory, utcnow
from mvq.settings import get_settings
from mvq.webhooks import retention
from mvq.webhooks import service as webhooks
from mvq.webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEvent
from testkit import harness

CHUNK = 5000


def chunks(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), CHUNK):
        yield rows[start : start + CHUNK]


def fill(url: str, *, events: int, now: datetime, keep_days: float) -> dict[str, int]:
    """The backlog; how many rows of each table are old and delivered."""
    old_at = now - timedelta(days=keep_days + 30)
    new_at = now - timedelta(days=1)
    with session_factory(url)() as session:
        unit, _ = auth.create_unit(session, name="bench-unit", actor="bench")
        endpoints = [
            webhooks.register(session, admin=policy.OPERATOR, url=f"http://127.0.0.1:9/hook{n}",
                              events=["ledger.award"], unit_id=unit.id,
                              allow_private_network=True, now=old_at).endpoint.id
            for n in range(2)
        ]  # fmt: skip
        unit_id = unit.id
        session.commit()
    audit_rows, event_rows, delivery_rows, attempt_rows = [], [], [], []
    kinds = [("old", events, old_at, DeliveryStatus.delivered),
             ("new", events // 10, new_at, DeliveryStatus.delivered),
             ("pending", events // 20, old_at, DeliveryStatus.pending)]  # fmt: skip
    seq = 0
    for _kind, count, at, status in kinds:
        for _ in range(count):
            seq += 1
            event_id = "msg_" + uuid.uuid4().hex
            event_rows.append({"id": event_id, "audit_seq": seq, "part": 0, "type": "ledger.award",
                               "unit_id": unit_id, "payload": {"points": 5}, "occurred_at": at,
                               "created_at": at})  # fmt: skip
            for endpoint in endpoints:
                delivery_id = str(uuid.uuid4())
                delivered = status == DeliveryStatus.delivered
                delivery_rows.append({"id": delivery_id, "endpoint_id": endpoint,
                                      "event_id": event_id, "audit_seq": seq, "status": status,
                                      "failures": 0, "next_attempt_at": at, "version": 1,
                                      "delivered_at": at if delivered else None,
                                      "created_at": at})  # fmt: skip
                if delivered:
                    attempt_rows.append({"id": str(uuid.uuid4()), "delivery_id": delivery_id,
                                         "endpoint_id": endpoint, "attempted_at": at,
                                         "status_code": 204, "error": None,
                                         "duration_ms": 40, "outcome": "delivered",
                                         "next_attempt_at": None})  # fmt: skip
    for n in range(2 * len(event_rows)):
        digest = hashlib.sha256(f"bench {n}".encode()).hexdigest()
        audit_rows.append({"occurred_at": old_at, "actor": "bench", "action": "ledger.award",
                           "object_type": "ledger_entry", "object_id": str(uuid.uuid4()),
                           "data": {"unit_id": unit_id}, "prev_hash": "p" + digest[1:],
                           "hash": digest})  # fmt: skip
    with session_factory(url)() as session:
        tables = ((AuditEvent, audit_rows), (WebhookEvent, event_rows),
                  (WebhookDelivery, delivery_rows), (WebhookAttempt, attempt_rows))  # fmt: skip
        for model, rows in tables:
            for part in chunks(rows):
                session.execute(insert(model), part)
        session.commit()
    return {"events": events, "deliveries": 2 * events, "attempts": 2 * events}


def counts(url: str) -> dict[str, int]:
    with session_factory(url)() as session:
        return {
            model.__tablename__: int(session.scalar(select(func.count()).select_from(model)) or 0)
            for model in (WebhookEvent, WebhookDelivery, WebhookAttempt)
        }


def one_transaction(session: Session, *, now: datetime) -> tuple[int, int, int]:
    """The baseline: the same batches (10,000 deliveries, the most a batch may hold), all in
    one transaction committed at the end, as one big DELETE would hold the tables."""
    cutoff = now - timedelta(days=get_settings().webhook_retention_days)
    total = [0, 0, 0]
    while (pruned := retention.prune_batch(session, cutoff=cutoff, limit=10_000)).deliveries:
        total = [total[0] + pruned.attempts, total[1] + pruned.deliveries,
                 total[2] + pruned.events]  # fmt: skip
    session.commit()
    return total[0], total[1], total[2]


def run(
    backend: str, backing: harness.Backing, *, events: int, batch: int | None
) -> dict[str, Any]:
    """`batch`: the product's prune with that batch size; None, the one-transaction baseline."""
    url = harness.fresh_database(backing, backend)
    os.environ["MVQ_PRUNE_BATCH_ROWS"] = str(batch or 1000)
    harness.use_env({**backing.env, "MVQ_DATABASE_URL": url})
    now = utcnow()
    old = fill(url, events=events, now=now, keep_days=get_settings().webhook_retention_days)
    before = counts(url)
    with session_factory(url)() as session:
        started = time.perf_counter()
        if batch is None:
            got, batches = one_transaction(session, now=now), 1
        else:
            report = pruning.prune(session, now=now)
            got = (report.webhook_attempts, report.webhook_deliveries, report.webhook_events)
            batches = report.batches
        took = time.perf_counter() - started
    after = counts(url)
    expected = (old["attempts"], old["deliveries"], old["events"])
    assert got == expected, (got, expected)
    tables = ("webhook_attempts", "webhook_deliveries", "webhook_events")
    assert [before[t] - after[t] for t in tables] == list(expected)
    longest = took * 1000 if batch is None else report.longest_batch_ms
    return {"backend": backend, "batch": batch, "removed": sum(got), "seconds": took,
            "per_second": sum(got) / took, "batches": batches, "longest_ms": longest,
            "kept": after}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgres"])
    args = parser.parse_args()
    results = []
    with harness.temporary_backing("mvq-bench-") as backing:
        for backend in args.backends:
            # The baseline, on a fresh copy of the same backlog in the same run: the whole
            # backlog in one transaction, as a single DELETE would hold it.
            for batch in (args.batch, None):
                results.append(run(backend, backing, events=args.events, batch=batch))
                print(results[-1], flush=True)
    rows = "\n".join(
        f"| {r['backend']}{'' if r['batch'] else ', one transaction (baseline)'} "
        f"| {r['removed']:,} | {r['seconds']:.1f} s | **{r['per_second']:,.0f}** "
        f"| {r['batches']} | **{r['longest_ms']:.0f} ms** |"
        for r in results
    )
    kept = results[-1]["kept"]
    body = f"""## Pruning delivered webhooks

Command: `.venv/bin/python -m bench.prune --events {args.events} --batch {args.batch}`.
A backlog of {args.events:,} webhook events delivered past the retention, each to two
endpoints with one try a delivery ({2 * args.events:,} deliveries and as many tries), beside
a tenth as many delivered since and a twentieth pending (kept: {kept["webhook_events"]:,}
events, {kept["webhook_deliveries"]:,} deliveries, {kept["webhook_attempts"]:,} tries), and an
audit log of twice as many events. `mvq.pruning.prune` removes the backlog {args.batch}
deliveries (with their tries and events) a transaction, to the end; each batch is timed with
its commit: the longest is the longest transaction the prune held. The baseline removes
the same backlog (a fresh copy, same run) in one transaction.

| database | rows removed | took | rows/s | batches | longest transaction |
|---|---|---|---|---|---|
{rows}"""
    write_section("prune", body)
    print(body)


if __name__ == "__main__":
    main()
