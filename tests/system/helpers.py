"""What the system scenarios share: workers paused, media ids, and the product's own count of
job runs and retries."""

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager

from rq.job import Job
from sqlalchemy import func, select

from mvq.audit.models import AuditEvent
from mvq.db import session_factory
from mvq.media.models import Media
from mvq.queue import process_media_job, redis_conn
from testkit import harness


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
