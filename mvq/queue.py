"""RQ queues, and enqueue-after-commit.

Jobs are buffered on the SQLAlchemy session and sent only once its transaction commits, so a
worker never picks up a job whose rows it cannot see yet. Redis only carries work the sweeper
can derive again from the database, so a lost enqueue (crash between commit and send) is
repaired by the next sweep.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Retry, Worker
from rq.job import Job
from rq.utils import utcparse
from sqlalchemy import event
from sqlalchemy.orm import Session

from mvq import logs
from mvq.settings import get_settings

log = logging.getLogger(__name__)
MEDIA_QUEUE = "media"
# Webhook deliveries take seconds and must not wait behind an ffmpeg job of many minutes: they
# have a queue of their own, served by workers on it alone (deploy/dev.py, the manifests) and
# first by every other worker, as RQ takes a job from the first of its queues that has one.
WEBHOOKS_QUEUE = "webhooks"
# The frame index's compaction (mvq.matching.compaction): minutes at most, and only when no
# file is waiting, as it comes last.
INDEX_QUEUE = "index"
# What `mvq worker` listens to when no queue is named, in that order.
WORKER_QUEUES = (WEBHOOKS_QUEUE, MEDIA_QUEUE, INDEX_QUEUE)
# Workers beat every WORKER_MONITOR_SECONDS while busy (and about every 15 s idle), so a beat
# older than this means the worker is gone and its job will never finish.
WORKER_TTL_SECONDS = 30
WORKER_MONITOR_SECONDS = 10
WORKER_STALE_SECONDS = 45
_PENDING = "mvq_pending_jobs"


@dataclass(frozen=True)
class PendingJob:
    queue: str
    func: str
    args: tuple[Any, ...]
    job_id: str
    timeout: int
    # The API request that caused the job, so its logs can be followed into the worker.
    request_id: str | None = None


@lru_cache
def redis_conn() -> Redis:
    return Redis.from_url(get_settings().redis_url, socket_timeout=10, socket_connect_timeout=5)


def queue(name: str) -> Queue:
    return Queue(name, connection=redis_conn())


def send(job: PendingJob) -> None:
    """Enqueue unless a job with this id is already waiting, or running on a live worker."""
    q = queue(job.queue)
    existing = Job.fetch(job.job_id, connection=q.connection) if _exists(q, job.job_id) else None
    if existing is not None:
        status = existing.get_status(refresh=True)
        if status in {"queued", "deferred", "scheduled"}:
            return
        if status == "started" and _worker_alive(q.connection, existing.worker_name):
            return
        existing.delete()
    q.enqueue(
        job.func,
        *job.args,
        job_id=job.job_id,
        job_timeout=job.timeout,
        meta={"request_id": job.request_id},
        result_ttl=3600,
        failure_ttl=7 * 86400,
        # Transient failures (S3 or the database away for a while) retry with backoff;
        # rejections of bad media are results, not exceptions, so they never retry.
        retry=Retry(max=3, interval=[15, 60, 180]),
    )


def _worker_alive(connection: Redis, name: str | None) -> bool:
    """A worker killed with -9 keeps its Redis key for a while; its heartbeat tells."""
    if not name:
        return False
    beat = connection.hget(Worker.redis_worker_namespace_prefix + name, "last_heartbeat")
    if not beat:
        return False
    age = (
        datetime.now(UTC)
        - utcparse(beat.decode() if isinstance(beat, bytes) else beat).replace(tzinfo=UTC)
    ).total_seconds()
    return age < WORKER_STALE_SECONDS


def _exists(q: Queue, job_id: str) -> bool:
    return bool(q.connection.exists(Job.key_for(job_id)))


def enqueue_after_commit(session: Session, job: PendingJob) -> None:
    session.info.setdefault(_PENDING, []).append(job)


@event.listens_for(Session, "after_commit")
def _send_pending(session: Session) -> None:
    for job in session.info.pop(_PENDING, []):
        try:
            send(job)
        except RedisError:
            # The rows are committed; the sweeper finds them and enqueues again.
            log.warning("enqueue failed, left to the sweeper", extra={"job_id": job.job_id})


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)


def process_media_job(media_id: str) -> PendingJob:
    return PendingJob(
        queue=MEDIA_QUEUE,
        func="workers.jobs.process_media",
        args=(media_id,),
        job_id=f"process-media-{media_id}",
        timeout=get_settings().media_job_timeout_seconds,
        request_id=logs.request_id.get(),
    )


def compact_index_job() -> PendingJob:
    # One id: while one waits or runs, the sweeper's next request is the same job.
    return PendingJob(queue=INDEX_QUEUE, func="workers.jobs.compact_index", args=(),
                      job_id="compact-index", timeout=6 * 3600)  # fmt: skip


def rehash_index_job() -> PendingJob:
    """A stretch of the re-hash of old index rows (mvq.matching.rehash); one at a time."""
    seconds = get_settings().index_rehash_job_seconds
    return PendingJob(queue=INDEX_QUEUE, func="workers.jobs.rehash_index", args=(),
                      job_id="rehash-index", timeout=int(seconds) + 600)  # fmt: skip
