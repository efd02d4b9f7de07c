"""S3 away for 30 s, Postgres restarted: the API answers 503 with a JSON error, workers retry,
and every upload completes once the service is back, with nothing lost."""

import os
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy import make_url, select

from deploy import servers
from mvq.db import session_factory
from mvq.submissions.models import Submission
from testkit import footage, harness
from testkit.claims import claim_body, sha256_of, upload
from testkit.people import units
from tests.system.helpers import attempts, media_ids, retries_left, workers_paused


def stop_s3(system: harness.Backing) -> servers.Proc:
    proc = next(p for p in system.group.procs if p.name == "seaweedfs")
    servers.stop_process(proc)
    return proc


def start_s3(system: harness.Backing, old: servers.Proc) -> None:
    system.group.procs.remove(old)
    env = servers.weed_env(system.env["MVQ_S3_ACCESS_KEY"], system.env["MVQ_S3_SECRET_KEY"])
    proc = system.group.start(
        "seaweedfs",
        list(old.popen.args),
        env=env,  # type: ignore[arg-type]
        log_dir=system.root / "logs",
    )
    port = int(system.env["MVQ_S3_ENDPOINT_URL"].rsplit(":", 1)[1])
    servers.wait_for_port(port, proc=proc, timeout=90)


def wait_until_accepting_queries(url: str, *, proc: servers.Proc, timeout: float = 60) -> None:
    """Postgres opens its port before it takes queries ("the database system is starting
    up"); pg_isready, from the same bin dir the harness runs Postgres from, says when it does."""
    at = make_url(url)
    ready = [servers.postgres_bin("pg_isready"), "-h", str(at.host), "-p", str(at.port),
             "-U", str(at.username), "-d", str(at.database)]  # fmt: skip
    deadline = time.monotonic() + timeout
    while subprocess.run(ready, capture_output=True, check=False).returncode != 0:
        assert proc.alive(), proc.tail()
        assert time.monotonic() < deadline, f"Postgres not ready in {timeout}s: {proc.tail()}"
        time.sleep(0.2)


def status(submission_id: str) -> str | None:
    with session_factory()() as session:
        return session.scalar(select(Submission.status).where(Submission.id == submission_id))


@pytest.mark.timeout(900)
def test_an_s3_outage_is_503_then_everything_completes(
    system: harness.Backing, stack: harness.Stack, tmp_path: Path
) -> None:
    clips = [
        footage.clip(n, tmp_path / f"{n}.mp4", seconds=3, size="320x180")
        for n in ("coffee", "rocket", "astronaut")
    ]
    ((_, token),) = units(1)
    # One upload whose bytes are in S3 but whose completion will arrive during the outage.
    with stack.client(token) as api:
        sid = api.post(
            "/api/v1/submissions", json=claim_body(), headers={"Idempotency-Key": uuid.uuid4().hex}
        ).json()["id"]
        plan = api.post(
            f"/api/v1/submissions/{sid}/media",
            json={
                "filename": "late.mp4",
                "size": clips[2].stat().st_size,
                "sha256": sha256_of(clips[2]),
                "content_type": "video/mp4",
            },
        ).json()
        httpx.put(
            plan["upload"]["urls"][0],
            content=clips[2].read_bytes(),
            headers={"Content-Type": "video/mp4"},
        ).raise_for_status()
    # The jobs wait (workers paused) until S3 is gone, so the outage meets them in flight.
    with workers_paused(stack):
        in_flight = [upload(stack, token, clip) for clip in clips[:2]]
        waiting = media_ids(in_flight)
        allowed = {m: retries_left(m) for m in waiting}
        old = stop_s3(system)
    stopped = time.monotonic()
    try:
        with stack.client(token) as api:
            ready = api.get("/readyz")
            assert ready.status_code == 503 and ready.json()["checks"]["s3"].startswith("down")
            late = api.post(f"/api/v1/media/{plan['media_id']}/complete", json={})
            assert late.status_code == 503, late.text
            assert late.json()["error"]["code"] in ("unavailable", "storage_error")
        time.sleep(max(0.0, 30 - (time.monotonic() - stopped)))
    finally:
        start_s3(system, old)
    with stack.client(token) as api:
        assert api.post(f"/api/v1/media/{plan['media_id']}/complete", json={}).status_code == 202
        assert api.get("/readyz").status_code == 200
    for submission_id in [*in_flight, sid]:
        harness.wait_until(
            lambda s=submission_id: status(s) == "in_queue",
            timeout=400,
            interval=2,
            what=f"{submission_id} processed after the outage",
        )
    # Each in-flight job met the outage: it claimed its file, failed to read it, and RQ ran it
    # again once S3 was back (the product's own retry, not this test, finished the work).
    runs = attempts(waiting)
    assert all(runs[m] >= 2 for m in waiting), runs
    assert all(retries_left(m) < allowed[m] for m in waiting), allowed


@pytest.mark.timeout(900)
def test_a_postgres_restart_is_503_then_everything_completes(
    backing: harness.Backing, stack: harness.Stack, tmp_path: Path
) -> None:
    clips = [
        footage.clip(n, tmp_path / f"{n}.mp4", seconds=3, size="320x180")
        for n in ("camera", "moon")
    ]
    ((_, token),) = units(1)
    old = next(p for p in backing.group.procs if p.name == "postgres")
    cluster = backing.root / "pg" / "cluster"
    pg_ctl = [servers.postgres_bin("pg_ctl"), "stop", "-D", str(cluster), "-m", "fast"]
    # The jobs wait (workers paused) until Postgres is down, so the restart meets them.
    with workers_paused(stack):
        in_flight = [upload(stack, token, clip) for clip in clips]
        waiting = media_ids(in_flight)
        allowed = {m: retries_left(m) for m in waiting}
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *pg_ctl] if os.geteuid() == 0 else pg_ctl,
            check=True,
            capture_output=True,
        )
        old.popen.wait(timeout=30)
    try:
        with stack.client(token) as api:
            down = api.get("/api/v1/submissions")
            assert down.status_code == 503 and down.json()["error"]["code"] == "unavailable"
            assert api.get("/readyz").status_code == 503
        time.sleep(10)
    finally:
        backing.group.procs.remove(old)
        new = backing.group.start(
            "postgres",
            list(old.popen.args),  # type: ignore[arg-type]
            log_dir=backing.root / "logs",
        )
        assert backing.pg_url
        wait_until_accepting_queries(backing.pg_url, proc=new)
    for submission_id in in_flight:
        harness.wait_until(
            lambda s=submission_id: status(s) == "in_queue",
            timeout=400,
            interval=2,
            what=f"{submission_id} processed after the restart",
        )
    # Each job ran while the database was down, raised, and RQ's retry finished it afterwards.
    assert all(retries_left(m) < allowed[m] for m in waiting), allowed
    after = upload(stack, token, clips[0])
    harness.wait_until(
        lambda: status(after) == "in_queue",
        timeout=200,
        interval=2,
        what="an upload after the restart",
    )
