"""The whole system under faults: each module gets servers of its own (so stopping S3 or
flushing Redis touches nobody else), Postgres, two workers and a sweeper."""

import os
import signal
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from rq.job import Job
from sqlalchemy import func, select

from mvq.audit.models import AuditEvent
from mvq.auth import service as auth
from mvq.auth.models import Role
from mvq.db import session_factory, utcnow
from mvq.media.models import Media
from mvq.queue import process_media_job, redis_conn
from mvq.rules import service as rules
from tests import harness
from tests.integration.conftest import claim_body, sha256_of


@pytest.fixture(scope="module")
def system(backing: harness.Backing) -> Iterator[harness.Backing]:
    """Redis and SeaweedFS of this module's own; Postgres from the session's cluster."""
    with harness.temporary_backing("mvq-system-") as own:
        own.pg_url = backing.pg_url
        yield own


@pytest.fixture(scope="module")
def database(system: harness.Backing, backing: harness.Backing) -> str:
    url = harness.fresh_database(backing, "postgres")
    harness.use_env({**system.env, "MVQ_DATABASE_URL": url})
    with session_factory(url)() as session:
        rules.seed_demo_rules(session, now=utcnow())
        session.commit()
    return url


@pytest.fixture(scope="module")
def stack(system: harness.Backing, database: str) -> Iterator[harness.Stack]:
    stack = harness.start_stack(system, database, workers=2, sweep_every=2)
    try:
        yield stack
    finally:
        stack.group.stop()


def units(count: int) -> list[tuple[str, str]]:
    with session_factory()() as session:
        made = [
            auth.create_unit(session, name=f"sys-{uuid.uuid4().hex[:8]}", actor="test")
            for _ in range(count)
        ]
        session.commit()
    return [(unit.id, token) for unit, token in made]


def staff_token(role: Role) -> str:
    with session_factory()() as session:
        user, _ = auth.create_user(
            session,
            email=f"{role}-{uuid.uuid4().hex[:8]}@sys.mvq",
            role=role,
            unit_id=None,
            actor="test",
        )
        token = auth.issue_staff_token(session, user=user, now=utcnow(), second_factor=True)
        session.commit()
    return token


class Refused(Exception):
    """The API turned the upload down with a 4xx: a verdict, not an outage to retry."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(response.text)
        self.response = response


def _check(response: httpx.Response) -> None:
    if response.status_code >= 500:
        raise httpx.HTTPError(response.text)
    if response.status_code >= 400:
        raise Refused(response)


def upload(stack: harness.Stack, token: str, path: Path, attempts: int = 40) -> str:
    """A unit's upload that retries while the system is degraded, as the CLI does."""
    key = uuid.uuid4().hex
    body = claim_body()
    for _ in range(attempts):
        try:
            with stack.client(token) as api:
                created = api.post(
                    "/api/v1/submissions", json=body, headers={"Idempotency-Key": key}
                )
                _check(created)
                sid = created.json()["id"]
                plan = api.post(
                    f"/api/v1/submissions/{sid}/media",
                    json={
                        "filename": path.name,
                        "size": path.stat().st_size,
                        "sha256": sha256_of(path),
                        "content_type": "video/mp4",
                    },
                )
                _check(plan)
                info = plan.json()
                if info["upload"]["urls"]:
                    httpx.put(
                        info["upload"]["urls"][0],
                        content=path.read_bytes(),
                        headers={"Content-Type": "video/mp4"},
                    ).raise_for_status()
                done = api.post(f"/api/v1/media/{info['media_id']}/complete", json={})
                if done.status_code in (202, 409):
                    return str(sid)
                raise httpx.HTTPError(done.text)
        except httpx.HTTPError:
            threading.Event().wait(1.0)
    raise AssertionError(f"upload of {path} never went through")


@contextmanager
def workers_paused(stack: harness.Stack) -> Iterator[None]:
    """Every worker (its whole process group) stopped with SIGSTOP, then let go: jobs sent
    meanwhile wait in Redis, so a fault started before the release meets them in flight
    instead of racing them."""
    groups = [p.popen.pid for p in stack.group.procs if p.name.startswith("worker-")]
    assert groups
    for pgid in groups:
        os.killpg(pgid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pgid in groups:
            os.killpg(pgid, signal.SIGCONT)


def media_ids(submission_ids: list[str]) -> list[str]:
    with session_factory()() as session:
        found = list(
            session.scalars(select(Media.id).where(Media.submission_id.in_(submission_ids)))
        )
    assert len(found) == len(submission_ids)
    return found


def attempts(ids: list[str]) -> dict[str, int]:
    """Job runs the product recorded per media: `Media.attempts` and the `media.processing`
    custody events (one per run that got as far as claiming the file), which must agree."""
    with session_factory()() as session:
        stmt = select(Media.id, Media.attempts).where(Media.id.in_(ids))
        runs = {media_id: count for media_id, count in session.execute(stmt)}
        events = dict(
            session.execute(
                select(AuditEvent.object_id, func.count())
                .where(AuditEvent.action == "media.processing", AuditEvent.object_id.in_(ids))
                .group_by(AuditEvent.object_id)
            ).all()
        )
    assert runs == {m: events.get(m, 0) for m in runs}, (runs, events)
    return runs


def retries_left(media_id: str) -> int:
    """RQ's count of re-runs still allowed for this media's job: it drops by one each time the
    job raises and is scheduled again, and is kept with the finished job (result_ttl)."""
    job = Job.fetch(process_media_job(media_id).job_id, connection=redis_conn())
    assert job.retries_left is not None, "the media job has no Retry"
    return job.retries_left
