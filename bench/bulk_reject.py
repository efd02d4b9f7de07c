"""A senior's bulk rejection of 200 items through `POST /api/v1/review/bulk`, on Postgres, against
the same 200 rejections made one at a time through the existing routes (claim the item, then
decide), in the same run on the same server. Issue 32 asks ≤ 5 s for the bulk one.

    .venv/bin/python -m bench.bulk_reject [--items 200] [--runs 5]
"""

import argparse
import time
import uuid
from datetime import timedelta

import httpx
from sqlalchemy import insert

from bench.report import median, write_section
from mvq.auth import service as auth
from mvq.auth.models import Role
from mvq.db import session_factory, utcnow
from mvq.review.leases import priority_of
from mvq.review.models import ItemState, ReviewItem
from mvq.rules import service as rules
from mvq.submissions.models import Submission, SubmissionStatus
from testkit import harness

LIMIT_SECONDS = 5.0


def queue(url: str, unit_id: str, count: int) -> list[str]:
    """`count` claims waiting for review, inserted as intake leaves them; their item ids."""
    now = utcnow()
    subs, items = [], []
    for n in range(count):
        sid, created = str(uuid.uuid4()), now - timedelta(seconds=count - n)
        subs.append({"id": sid, "unit_id": unit_id, "status": SubmissionStatus.in_queue,
                     "target_type": "tank", "outcome": "destroyed",
                     "occurred_at": created - timedelta(hours=1), "created_at": created,
                     "updated_at": created})  # fmt: skip
        items.append({"id": str(uuid.uuid4()), "submission_id": sid, "state": ItemState.pending,
                      "points": 40, "flagged": False, "created_at": created,
                      "priority": priority_of(points=40, flagged=False)})  # fmt: skip
    with session_factory(url)() as session:
        session.execute(insert(Submission), subs)
        session.execute(insert(ReviewItem), items)
        session.commit()
    return [i["id"] for i in items]


def bulk(api: httpx.Client, ids: list[str]) -> float:
    started = time.perf_counter()
    answer = api.post("/api/v1/review/bulk", json={
        "item_ids": ids, "action": "reject", "reason_code": "not_visible",
        "comment": "bench: blank footage"})  # fmt: skip
    took = time.perf_counter() - started
    answer.raise_for_status()
    assert answer.json()["done"] == len(ids), answer.text[:500]
    return took


def one_by_one(api: httpx.Client, ids: list[str]) -> float:
    started = time.perf_counter()
    for item_id in ids:
        lease = api.post(f"/api/v1/review/{item_id}/claim")
        lease.raise_for_status()
        decided = api.post(f"/api/v1/review/{item_id}/decision", json={
            "lease_token": lease.json()["lease_token"], "decision": "reject",
            "reason_code": "not_visible", "comment": "bench: blank footage",
            "override": True})  # fmt: skip
        decided.raise_for_status()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    bulk_s: list[float] = []
    single_s: list[float] = []
    with harness.temporary_backing("mvq-bench-") as backing:
        url = harness.fresh_database(backing, "postgres")
        harness.use_env({**backing.env, "MVQ_DATABASE_URL": url})
        with session_factory(url)() as session:
            rules.seed_demo_rules(session, now=utcnow())
            unit, _ = auth.create_unit(session, name="bench-unit", actor="bench")
            senior, _ = auth.create_user(session, email="senior@bench.mvq", role=Role.senior,
                                         unit_id=None, actor="bench")  # fmt: skip
            token = auth.issue_staff_token(session, user=senior, now=utcnow(), second_factor=True)
            unit_id = unit.id
            session.commit()
        # As deployed: the too-fast check on, so each verdict at machine speed records its
        # warning and override (review.warnings), in bulk and one at a time alike.
        stack = harness.start_stack(backing, url, workers=0,
                                    extra_env={"MVQ_FAST_DECISION_WARNINGS": "true"})  # fmt: skip
        try:
            with httpx.Client(base_url=stack.url, timeout=300,
                              headers={"Authorization": f"Bearer {token}"}) as api:  # fmt: skip
                bulk(api, queue(url, unit_id, 5))  # warm-up: imports, caches, connections
                one_by_one(api, queue(url, unit_id, 5))
                for _ in range(args.runs):
                    bulk_s.append(bulk(api, queue(url, unit_id, args.items)))
                    single_s.append(one_by_one(api, queue(url, unit_id, args.items)))
        finally:
            stack.group.stop()
    b, s = median(bulk_s), median(single_s)
    runs = ", ".join(f"{v:.2f}" for v in bulk_s)
    base = ", ".join(f"{v:.2f}" for v in single_s)
    verdict = "within" if b <= LIMIT_SECONDS else "over"
    body = f"""## A senior rejects {args.items} items at once (Postgres)

Command: `.venv/bin/python -m bench.bulk_reject --items {args.items} --runs {args.runs}`.
One uvicorn process, Postgres, Redis and the client on this machine. Each run queues
{args.items} fresh claims, then one `POST /api/v1/review/bulk` rejects them all with one reason
(each item claimed and decided through the single-item path: its own lease, Decision row and
audit events, in a savepoint of its own). The baseline, in the same run on the same server:
{args.items} other fresh claims rejected one at a time through the existing routes
(`POST /api/v1/review/{{id}}/claim`, then `POST /api/v1/review/{{id}}/decision` with
`override`). The too-fast check is on, as deployed: every verdict at machine speed records its
warning and override, in bulk and one at a time alike.

| | median | runs (s) |
|---|---|---|
| bulk, one request | **{b:.2f} s** | {runs} |
| one at a time, {2 * args.items} requests (baseline) | {s:.2f} s | {base} |

The bulk rejection is {verdict} the issue's limit of {LIMIT_SECONDS:.0f} s; it takes
{b / s:.2f} of the time the same rejections take one by one."""
    write_section("bulk-reject", body)
    print(body)


if __name__ == "__main__":
    main()
