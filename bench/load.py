"""End-to-end load: uploads from 10 units as fast as they go, from create to in the review
queue, with 1 and then 2 workers on this machine (Postgres).

    .venv/bin/python -m bench.load [--uploads 120]
"""

import argparse
import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import func, select

from bench.report import percentile, write_section
from mvq.audit.models import AuditEvent
from mvq.db import session_factory, utcnow
from mvq.rules import service as rules
from mvq.submissions.models import Submission
from testkit import footage, harness
from testkit.claims import upload
from testkit.people import units

DAILY_CLAIMS = 2240  # the real scheme's volume, as the other benchmarks quote it
SOURCES = ["astronaut", "coffee", "chelsea", "rocket", "motorcycle_left"]


def run(backing: harness.Backing, workers: int, uploads: int, clips: list[Path]) -> dict:  # type: ignore[type-arg]
    url = harness.fresh_database(backing, "postgres")
    harness.use_env({**backing.env, "MVQ_DATABASE_URL": url})
    with session_factory(url)() as session:
        rules.seed_demo_rules(session, now=utcnow())
        session.commit()
    accounts = units(10)
    stack = harness.start_stack(backing, url, workers=workers, api_workers=1)
    try:
        started = time.monotonic()
        with ThreadPoolExecutor(10) as pool:
            ids = list(
                pool.map(
                    lambda n: upload(stack, accounts[n % 10][1], clips[n % len(clips)]),
                    range(uploads),
                )
            )

        def queued() -> int:
            with session_factory(url)() as session:
                return int(
                    session.scalar(
                        select(func.count()).where(
                            Submission.id.in_(ids), Submission.status == "in_queue"
                        )
                    )
                    or 0
                )

        harness.wait_until(lambda: queued() == uploads, timeout=1800, interval=1, what="queue")
        elapsed = time.monotonic() - started
        with session_factory(url)() as session:
            created = dict(
                session.execute(
                    select(Submission.id, Submission.created_at).where(Submission.id.in_(ids))
                ).all()
            )
            landed = dict(
                session.execute(
                    select(AuditEvent.object_id, AuditEvent.occurred_at).where(
                        AuditEvent.action == "submission.in_queue", AuditEvent.object_id.in_(ids)
                    )
                ).all()
            )
        latency = [(landed[s] - created[s]).total_seconds() for s in ids]
    finally:
        stack.group.stop()
    return {"rate": uploads / elapsed, "elapsed": elapsed, "latency": latency}


def verdict(one: float, two: float) -> str:
    """What the second worker did, said from the measured rates rather than expected."""
    ratio = two / one
    cores = os.cpu_count() or 1
    figure = f"From 1 to 2 workers throughput went from {one:.2f} to {two:.2f} uploads/s"
    if ratio < 1.1:
        return (f"{figure} ({ratio:.2f}x): the second worker added nothing measurable, so the "
                f"workers were not the bottleneck on these {cores} cores.")  # fmt: skip
    if ratio < 1.8:
        return (f"{figure} ({ratio:.2f}x): with {cores} cores shared by the API, Postgres "
                "and the uploaders, the second worker added less than a whole worker.")  # fmt: skip
    return f"{figure} ({ratio:.2f}x): the second worker nearly doubled it (scaled with workers)."


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--uploads", type=int, default=120)
    args = parser.parse_args()
    with harness.temporary_backing("mvq-bench-") as backing:
        clips = [
            footage.clip(n, backing.root / f"{n}.mp4", seconds=10, size="1280x720") for n in SOURCES
        ]
        size_mib = statistics.mean(c.stat().st_size for c in clips) / 1024**2
        results = {n: run(backing, n, args.uploads, clips) for n in (1, 2)}

    def line(n: int) -> str:
        r = results[n]
        p50, p99 = percentile(r["latency"], 50), percentile(r["latency"], 99)
        rate, wall = f"{r['rate']:.2f} uploads/s", f"{r['elapsed']:.0f} s"
        return f"| {n} | {rate} | {p50:.1f} s | {p99:.1f} s | {wall} |"

    body = f"""## End-to-end uploads, create to review queue (Postgres)

Command: `.venv/bin/python -m bench.load --uploads {args.uploads}`. 10 units upload
{args.uploads} clips (10 s of 1280x720 H.264, {size_mib:.1f} MiB each, from real photos) as fast
as they can over HTTP (create, presigned PUT, complete); each clip is probed, sampled at 1 frame/s,
hashed, matched against everything before it and flagged. Latency is from the create request to
the claim entering the review queue (its `submission.in_queue` audit event). One API process,
Postgres, Redis and SeaweedFS share this {os.cpu_count()}-core machine with the workers.

| workers | sustained | latency p50 | latency p99 | wall time |
|---|---|---|---|---|
{line(1)}
{line(2)}

{verdict(results[1]["rate"], results[2]["rate"])}
The real scheme's {DAILY_CLAIMS:,} claims a day are {DAILY_CLAIMS / 86400:.3f} a second, or
{results[1]["rate"] / (DAILY_CLAIMS / 86400):.0f} times less than one worker sustained here.
"""
    write_section("load", body)
    print(body)


if __name__ == "__main__":
    main()
