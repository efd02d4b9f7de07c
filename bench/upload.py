"""Upload path benchmark: create + presign latency from 100 units at once, each with its own
token and connection (Postgres),
and `mvq upload` throughput of a 1 GiB file against boto3's upload_file in the same run.

    .venv/bin/python -m bench.upload [--rounds 3] [--size-mib 1024]
"""

import argparse
import asyncio
import os
import random
import subprocess
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from boto3.s3.transfer import TransferConfig

from bench.report import median, percentile, write_section
from deploy import servers
from mvq import storage
from mvq.auth import service as auth
from mvq.db import session_factory, utcnow
from mvq.rules import service as rules
from testkit import harness

CLIENTS = 100  # units, each with its own token and HTTP client
DAILY_CLAIMS = 2240  # the real scheme's volume


CLAIM = {"target_type": "tank", "outcome": "destroyed"}


async def call(api: httpx.AsyncClient, action: str) -> float:
    started = time.perf_counter()
    if action == "healthz":
        (await api.get("/healthz")).raise_for_status()
    else:
        claim = CLAIM | {"occurred_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat()}
        created = await api.post(
            "/api/v1/submissions", json=claim, headers={"Idempotency-Key": uuid.uuid4().hex}
        )
        created.raise_for_status()
        media = await api.post(
            f"/api/v1/submissions/{created.json()['id']}/media",
            json={
                "filename": "clip.mp4",
                "size": 50_000_000,
                "sha256": os.urandom(32).hex(),
                "content_type": "video/mp4",
            },
        )
        media.raise_for_status()
    return time.perf_counter() - started


def client(base: str, token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base, timeout=60, headers={"Authorization": f"Bearer {token}"}
    )


async def steady(
    base: str, tokens: list[str], action: str, seconds: float, mean_gap: float
) -> list[float]:
    """Every unit at once, each on its own connection with its own token, calling at random
    (Poisson) intervals: latency at a load."""
    latencies: list[float] = []
    deadline = time.monotonic() + seconds

    async def unit(token: str) -> None:
        async with client(base, token) as api:
            while True:
                await asyncio.sleep(random.expovariate(1 / mean_gap))
                if time.monotonic() > deadline:
                    return
                latencies.append(await call(api, action))

    await asyncio.gather(*(unit(t) for t in tokens))
    return latencies


async def saturated(base: str, tokens: list[str], action: str, calls: int) -> float:
    """Every unit calling back to back (`calls` in all, spread evenly over the units): the
    most calls per second the stack takes. A dropped connection counts as a call not made."""
    each = max(1, calls // len(tokens))

    async def unit(token: str) -> list[float | BaseException]:
        async with client(base, token) as api:
            return list(
                await asyncio.gather(
                    *(call(api, action) for _ in range(each)), return_exceptions=True
                )
            )

    started = time.perf_counter()
    results = [r for got in await asyncio.gather(*(unit(t) for t in tokens)) for r in got]
    done = sum(1 for r in results if isinstance(r, float))
    return done / (time.perf_counter() - started)


def latency_section(stack: harness.Stack, tokens: list[str], rounds: int) -> str:
    mean_gap, seconds = 10.0, 30.0
    asyncio.run(saturated(stack.url, tokens, "create", CLIENTS))  # warm-up
    create, health, create_rate, health_rate = [], [], [], []
    for _ in range(rounds):
        health += asyncio.run(steady(stack.url, tokens, "healthz", seconds, mean_gap))
        create += asyncio.run(steady(stack.url, tokens, "create", seconds, mean_gap))
        health_rate.append(asyncio.run(saturated(stack.url, tokens, "healthz", CLIENTS * 5)))
        create_rate.append(asyncio.run(saturated(stack.url, tokens, "create", CLIENTS * 5)))
    times_real = (len(tokens) / mean_gap) / (DAILY_CLAIMS / 86400)

    def row(name: str, values: list[float]) -> str:
        p50, p99 = percentile(values, 50), percentile(values, 99)
        return f"| {name} | {p50 * 1000:.1f} ms | {p99 * 1000:.1f} ms | {len(values)} |"

    ratio50 = percentile(create, 50) / percentile(health, 50)
    ratio99 = percentile(create, 99) / percentile(health, 99)
    return f"""## Create + presign latency, {len(tokens)} units at once (Postgres)

Command: `.venv/bin/python -m bench.upload --rounds {rounds}`. One uvicorn process with 2 workers,
Postgres, Redis and SeaweedFS on this machine, the load generator too (httpx, asyncio). A call is
`POST /api/v1/submissions` then `POST /api/v1/submissions/{{id}}/media` (a presigned 50 MB
multipart plan). The baseline is `GET /healthz`, through the same server and clients, same run.

**At load**: {len(tokens)} units at once, each with its own token and connection, calling at
random intervals averaging {mean_gap:.0f} s (about {len(tokens) / mean_gap:.0f} calls/s,
{times_real:.0f} times the real scheme's {DAILY_CLAIMS:,} claims a day), for {seconds:.0f} s per
round, {rounds} rounds.

| calls | p50 | p99 | samples |
|---|---|---|---|
{row("create + presign", create)}
{row("baseline `/healthz`", health)}
| ratio | {ratio50:.1f}x | {ratio99:.1f}x | |

**Saturated**: the {len(tokens)} units back to back, {CLIENTS * 5} calls a round;
median of {rounds} rounds.
On {os.cpu_count()} cores a burst queues: latency there is queue length, so the figure that
matters is capacity.

| calls | capacity |
|---|---|
| create + presign | {median(create_rate):.0f} calls/s |
| baseline `/healthz` | {median(health_rate):.0f} calls/s |
"""


def throughput_section(
    stack: harness.Stack, token: str, size_mib: int, rounds: int, workdir: Path
) -> str:
    big = workdir / "big.mp4"
    with big.open("wb") as fh:
        for _ in range(size_mib):
            fh.write(os.urandom(1024 * 1024))
    size = big.stat().st_size
    env = {**stack.env, "MVQ_URL": stack.url, "MVQ_TOKEN": token}
    cli, boto = [], []
    for n in range(rounds):
        started = time.perf_counter()
        storage.client().upload_file(
            str(big), storage.bucket(), f"bench/boto3-{n}", Config=TransferConfig()
        )
        boto.append(size / (time.perf_counter() - started))
        with big.open("r+b") as fh:  # a new file each round: a new claim, not a replay
            fh.write(os.urandom(32))
        started = time.perf_counter()
        done = subprocess.run(
            servers.mvq_argv("upload", str(big), "--target", "tank", "--outcome", "destroyed"),
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(done.stderr)
        cli.append(size / (time.perf_counter() - started))
    mb = lambda v: f"{v / 1024**2:.0f} MiB/s"  # noqa: E731
    return f"""## Upload throughput of a {size_mib} MiB file

Command: `.venv/bin/python -m bench.upload --rounds {rounds} --size-mib {size_mib}`. `mvq upload`
(whole command: SHA-256 of the file, create, multipart plan, parallel parts, complete) against
boto3's `upload_file` (default TransferConfig: 8 MiB parts, 10 threads, no hashing) to the same
SeaweedFS in the same run, alternating, {rounds} rounds; medians.

| client | median throughput |
|---|---|
| `mvq upload` | {mb(median(cli))} |
| baseline boto3 `upload_file` | {mb(median(boto))} |
| ratio | {median(cli) / median(boto):.0%} |
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--size-mib", type=int, default=1024)
    args = parser.parse_args()
    with harness.temporary_backing("mvq-bench-") as backing:
        url = harness.fresh_database(backing, "postgres")
        harness.use_env({**backing.env, "MVQ_DATABASE_URL": url})
        with session_factory(url)() as session:
            rules.seed_demo_rules(session, now=utcnow())
            tokens = [
                auth.create_unit(session, name=f"bench-{n}", actor="bench")[1]
                for n in range(CLIENTS)
            ]
            session.commit()
        # With a token per unit, each unit stays far below its own create limit (a dozen calls
        # a minute at most), so the limiter runs as configured and is part of what is measured.
        stack = harness.start_stack(backing, url, workers=0, api_workers=2)
        try:
            write_section("upload-latency", latency_section(stack, tokens, args.rounds))
            write_section(
                "upload-throughput",
                throughput_section(stack, tokens[0], args.size_mib, args.rounds, backing.root),
            )
        finally:
            stack.group.stop()


if __name__ == "__main__":
    main()
