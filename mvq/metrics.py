"""What /metrics reports about the whole system, read at scrape time from the database and
Redis, so every API replica gives the same answer. Job durations come from the workers, which
count them into Redis (one histogram for all of them)."""

from collections.abc import Iterator
from datetime import timedelta

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from redis.exceptions import RedisError
from sqlalchemy import func, select

from mvq import queue
from mvq.db import session_scope, utcnow
from mvq.media.models import Media, MediaStatus
from mvq.review.models import Decision, ItemState, ReviewItem

JOB_BUCKETS = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)
_JOBS_KEY = "mvq:metrics:job_seconds"


def observe_job(seconds: float, outcome: str) -> None:
    """Counts one finished job into the shared histogram; metrics never fail a job."""
    try:
        pipe = queue.redis_conn().pipeline()
        for le in (*JOB_BUCKETS, float("inf")):
            if seconds <= le:
                pipe.hincrby(_JOBS_KEY, f"{outcome}|{le}", 1)
        pipe.hincrbyfloat(_JOBS_KEY, f"{outcome}|sum", seconds)
        pipe.execute()
    except RedisError:
        pass


def _job_histogram() -> HistogramMetricFamily:
    family = HistogramMetricFamily(
        "mvq_job_duration_seconds", "Media job run time, by outcome", labels=["outcome"]
    )
    raw = {k.decode(): v.decode() for k, v in queue.redis_conn().hgetall(_JOBS_KEY).items()}  # type: ignore[union-attr]
    for outcome in sorted({k.split("|")[0] for k in raw}):
        buckets = [
            ("+Inf" if le == float("inf") else str(le), float(raw.get(f"{outcome}|{le}", 0)))
            for le in (*JOB_BUCKETS, float("inf"))
        ]
        family.add_metric([outcome], buckets, float(raw.get(f"{outcome}|sum", 0)))
    return family


class SystemCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily("mvq_queue_depth", "Jobs waiting, by queue", labels=["queue"])
        for name in queue.WORKER_QUEUES:
            depth.add_metric([name], queue.queue(name).count)
        yield depth
        yield _job_histogram()
        now = utcnow()
        with session_scope() as session:
            failures = CounterMetricFamily(
                "mvq_media_failures", "Media that ended failed, by reason", labels=["reason"]
            )
            for reason, count in session.execute(
                select(Media.failure_reason, func.count())
                .where(Media.status == MediaStatus.failed)
                .group_by(Media.failure_reason)
            ):
                failures.add_metric([reason or "unknown"], count)
            yield failures
            uploaded = session.scalar(
                select(func.coalesce(func.sum(Media.size), 0)).where(Media.size.is_not(None))
            )
            yield CounterMetricFamily(
                "mvq_upload_bytes", "Bytes of media received", value=float(uploaded or 0)
            )
            waiting = (ItemState.pending, ItemState.escalated)
            count, oldest = session.execute(
                select(func.count(), func.min(ReviewItem.created_at)).where(
                    ReviewItem.state.in_(waiting)
                )
            ).one()
            yield GaugeMetricFamily("mvq_review_waiting", "Items waiting for review", value=count)
            yield GaugeMetricFamily(
                "mvq_review_backlog_age_seconds",
                "How long the oldest waiting item has waited",
                value=(now - oldest).total_seconds() if oldest else 0.0,
            )
            decided = session.scalar(
                select(func.count()).where(Decision.created_at >= now - timedelta(hours=1))
            )
            yield GaugeMetricFamily(
                "mvq_review_decisions_last_hour", "Decisions in the last hour", value=decided or 0
            )
