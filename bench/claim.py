"""Review queue benchmark: claim + decide latency with 50 concurrent reviewers over HTTP, on
Postgres with 100,000 items waiting.

    .venv/bin/python -m bench.claim [--rounds 3] [--items 100000]
"""

import argparse
import asyncio
import os
import random
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

import httpx
from sqlalchemy import Engine, event, insert, text

from bench.report import median, percentile, write_section
from mvq.auth import service as auth
from mvq.auth.models import Role
from mvq.db import session_factory, utcnow
from mvq.review.leases import priority_of
from mvq.review.models import ItemState, ReviewItem
from mvq.rules import service as rules
from mvq.submissions.models import Submission, SubmissionStatus
from testkit import harness

REVIEWERS = 50
CHUNK = 10_000


def fill_queue(url: str, items: int) -> list[str]:
    """`items` claims waiting for review (a tenth flagged), and one token per reviewer."""
    now = utcnow()
    with session_factory(url)() as session:
        rules.seed_demo_rules(session, now=now)
        unit, _ = auth.create_unit(session, name="bench-unit", actor="bench")
        tokens = []
        for n in range(REVIEWERS):
            user, _ = auth.create_user(
                session, email=f"r{n}@bench.mvq", role=Role.reviewer, unit_id=None, actor="bench"
            )
            tokens.append(auth.issue_staff_token(session, user=user, now=now, second_factor=False))
        session.commit()
        for start in range(0, items, CHUNK):
            subs, queue = [], []
            for n in range(start, min(items, start + CHUNK)):
                sid, flagged = str(uuid.uuid4()), n % 10 == 0
                created = now - timedelta(seconds=items - n)
                subs.append({"id": sid, "unit_id": unit.id, "status": SubmissionStatus.in_queue,
                             "target_type": "tank", "outcome": "destroyed",
                             "occurred_at": created - timedelta(hours=1), "created_at": created,
                             "updated_at": created})  # fmt: skip
                queue.append({"id": str(uuid.uuid4()), "submission_id": sid,
                              "state": ItemState.pending, "points": 40, "flagged": flagged,
                              "priority": priority_of(points=40, flagged=flagged),
                              "created_at": created})  # fmt: skip
            session.execute(insert(Submission), subs)
            session.execute(insert(ReviewItem), queue)
            session.commit()
        session.execute(text("ANALYZE"))
        session.commit()
    return tokens


async def review_one(api: httpx.AsyncClient, samples: dict[str, list[float]]) -> None:
    started = time.perf_counter()
    claimed = await api.post("/api/v1/review/claim")
    claimed.raise_for_status()
    middle = time.perf_counter()
    lease = claimed.json()
    decided = await api.post(
        f"/api/v1/review/{lease['item_id']}/decision",
        json={"lease_token": lease["lease_token"], "decision": "approve"},
    )
    decided.raise_for_status()
    done = time.perf_counter()
    samples["claim"].append(middle - started)
    samples["decide"].append(done - middle)
    samples["pair"].append(done - started)


async def health_one(api: httpx.AsyncClient, samples: dict[str, list[float]]) -> None:
    started = time.perf_counter()
    (await api.get("/healthz")).raise_for_status()
    samples["healthz"].append(time.perf_counter() - started)


async def steady(base: str, tokens: list[str], work, seconds: float, gap: float) -> dict:  # type: ignore[no-untyped-def, type-arg]
    """Every reviewer at once, each acting at random (Poisson) intervals averaging `gap`."""
    samples: dict[str, list[float]] = {"claim": [], "decide": [], "pair": [], "healthz": []}
    deadline = time.monotonic() + seconds

    async def reviewer(token: str) -> None:
        async with httpx.AsyncClient(
            base_url=base, timeout=60, headers={"Authorization": f"Bearer {token}"}
        ) as api:
            while True:
                await asyncio.sleep(random.expovariate(1 / gap))
                if time.monotonic() > deadline:
                    return
                await work(api, samples)

    await asyncio.gather(*(reviewer(t) for t in tokens))
    return samples


@dataclass(frozen=True)
class Cost:
    statements: list[int]  # SQL statements sent per call
    seconds: list[float]  # wall time per call


def in_process_costs(tokens: list[str], calls: int) -> dict[str, Cost]:
    """Claim and decide through the API's own app in this process, on an idle database:
    every SQL statement the calls send is counted by a `before_cursor_execute` listener (token
    lookup, lease, decision, award and audit events alike)."""
    from fastapi.testclient import TestClient

    from asgi.app import app

    sent = 0

    def count(*_: object) -> None:
        nonlocal sent
        sent += 1

    costs = {"claim": Cost([], []), "decide": Cost([], [])}
    event.listen(Engine, "before_cursor_execute", count)
    try:
        with TestClient(app) as api:
            api.headers["Authorization"] = f"Bearer {tokens[0]}"
            for n in range(calls + 1):  # the first pair warms caches and is not counted
                sent, started = 0, time.perf_counter()
                claimed = api.post("/api/v1/review/claim")
                claim = Cost([sent], [time.perf_counter() - started])
                assert claimed.status_code == 200, claimed.text
                lease = claimed.json()
                sent, started = 0, time.perf_counter()
                decided = api.post(
                    f"/api/v1/review/{lease['item_id']}/decision",
                    json={"lease_token": lease["lease_token"], "decision": "approve"},
                )
                decide = Cost([sent], [time.perf_counter() - started])
                assert decided.status_code == 200, decided.text
                if n:
                    for name, got in (("claim", claim), ("decide", decide)):
                        costs[name].statements.extend(got.statements)
                        costs[name].seconds.extend(got.seconds)
    finally:
        event.remove(Engine, "before_cursor_execute", count)
    return costs


def statements(cost: Cost) -> str:
    low, high = min(cost.statements), max(cost.statements)
    return f"{low}" if low == high else f"{low} to {high}"


def row(name: str, values: list[float]) -> str:
    p50, p99 = percentile(values, 50) * 1000, percentile(values, 99) * 1000
    return f"| {name} | {p50:.1f} ms | {p99:.1f} ms | {len(values)} |"


def measure(base: str, tokens: list[str], rounds: int, seconds: float, gap: float) -> dict:  # type: ignore[type-arg]
    """Per call: every sample of all rounds, plus each round's p99 of the pair and baseline."""
    runs: dict[str, list[float]] = {"claim": [], "decide": [], "pair": [], "healthz": []}
    p99s: dict[str, list[float]] = {"pair": [], "healthz": []}
    for _ in range(rounds):
        for work in (health_one, review_one):
            got = asyncio.run(steady(base, tokens, work, seconds, gap))
            for key, values in got.items():
                runs[key] += values
                if key in p99s and values:
                    p99s[key].append(percentile(values, 99))
    return {"runs": runs, "p99s": p99s}


def table(result: dict, gap: float, seconds: float) -> str:  # type: ignore[type-arg]
    runs, p99s = result["runs"], result["p99s"]
    return f"""**One claim + decide per reviewer every {gap:.0f} s on average** (about
{REVIEWERS / gap:.1f} pairs a second), {seconds:.0f} s a round:

| call | p50 | p99 | samples |
|---|---|---|---|
{row("claim", runs["claim"])}
{row("decide", runs["decide"])}
{row("claim + decide", runs["pair"])}
{row("baseline `/healthz`", runs["healthz"])}

Median over rounds of each round's p99: claim + decide {median(p99s["pair"]) * 1000:.1f} ms,
`/healthz` {median(p99s["healthz"]) * 1000:.1f} ms.
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--items", type=int, default=100_000)
    args = parser.parse_args()
    # Busy: several times a person's pace. Human: 20 s an item, a fast reviewer's pace.
    paces = [(5.0, 30.0), (20.0, 60.0)]
    with harness.temporary_backing("mvq-bench-") as backing:
        url = harness.fresh_database(backing, "postgres")
        harness.use_env({**backing.env, "MVQ_DATABASE_URL": url})
        started = time.perf_counter()
        tokens = fill_queue(url, args.items)
        fill = time.perf_counter() - started
        costs = in_process_costs(tokens, calls=5)
        stack = harness.start_stack(backing, url, workers=0, api_workers=2)
        try:
            asyncio.run(steady(stack.url, tokens[:5], review_one, 3, 0.5))  # warm-up
            results = [
                (gap, seconds, measure(stack.url, tokens, args.rounds, seconds, gap))
                for gap, seconds in paces
            ]
        finally:
            stack.group.stop()
    title = f"Review claim + decide, {REVIEWERS} concurrent reviewers, {args.items:,} items"
    tables = "\n".join(table(result, gap, seconds) for gap, seconds, result in results)
    body = f"""## {title} (Postgres)

Command: `.venv/bin/python -m bench.claim --rounds {args.rounds} --items {args.items}`.
One uvicorn process with 2 workers, Postgres, Redis and the load generator (httpx, asyncio)
all on this {os.cpu_count()}-core machine. {args.items:,} claims waiting (a tenth flagged, so
the priority order matters; filled in {fill:.0f} s). Each of {REVIEWERS} reviewers, with their
own token, claims (`POST /api/v1/review/claim`) and approves
(`POST /api/v1/review/{{id}}/decision`, which also writes the award and three audit events) at
random (Poisson) intervals, {args.rounds} rounds per pace. The baseline is `GET /healthz`
through the same server and clients at the same rate, same run. In process, on the idle
database, through the same app (statements counted with a `before_cursor_execute` listener,
median time of {len(costs["claim"].seconds)} calls): a claim sends
{statements(costs["claim"])} SQL statements in {median(costs["claim"].seconds) * 1000:.0f} ms,
a decision {statements(costs["decide"])} in {median(costs["decide"].seconds) * 1000:.0f} ms.

{tables}"""
    write_section("review-claim", body)
    print(body)


if __name__ == "__main__":
    main()
