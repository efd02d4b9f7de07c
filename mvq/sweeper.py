"""Repairs what Redis may have lost. The database is the truth: anything uploaded but not
processed is enqueued again (job ids make that idempotent), and expired leases go back to
the queue. Wiping Redis therefore loses no work. Staged chunks (mvq.media.chunks) of uploads
that are over, or were abandoned, are removed. Each sweep also anchors the audit log (a
checkpoint of its Merkle tree, cosigned by the witnesses, goes to S3 whenever it grew), turns
new audit events into webhook deliveries, enqueueing every endpoint with one due, and asks for
a compaction of the shared frame index (which writes segments only when there is enough new)
and, while rows indexed before the current matching scheme are left, their re-hash (a stretch
each sweep), and prunes what is kept only for a while (mvq.pruning), a bounded number of
batches a sweep."""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from mvq import pruning, queue
from mvq.audit import checkpoint, witnesses
from mvq.flows import intake
from mvq.matching import rehash
from mvq.media import chunks
from mvq.media.models import Media, MediaStatus
from mvq.review import leases
from mvq.settings import get_settings
from mvq.webhooks import dispatch as webhooks
from mvq.webhooks.events import Tell

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SweepReport:
    requeued_media: int
    released_leases: int
    aborted_uploads: int
    checkpoints_written: int
    webhook_endpoints_enqueued: int
    staged_chunks_removed: int = 0
    pruned_webhook_attempts: int = 0
    pruned_webhook_deliveries: int = 0
    pruned_webhook_events: int = 0
    pruned_sessions: int = 0
    pruned_recovery_codes: int = 0


def sweep(session: Session, *, now: datetime, stuck_after: timedelta, tell: Tell) -> SweepReport:
    """`tell`: the adapter's words for the claims' outcomes the webhooks carry."""
    stuck = list(
        session.scalars(
            select(Media.id).where(
                Media.status.in_([MediaStatus.uploaded, MediaStatus.processing]),
                Media.uploaded_at < now - stuck_after,
            )
        )
    )
    released = leases.release_expired(session, now=now)
    aborted = intake.abort_abandoned(session, now=now)
    session.commit()
    # After the aborts: an abandoned upload's chunks go with it.
    staged = chunks.sweep(session)
    # `send` skips ids already queued or running, so a healthy job is never doubled.
    for media_id in stuck:
        queue.send(queue.process_media_job(media_id))
    # The job itself decides whether the frame index needs a new segment or a merge.
    queue.send(queue.compact_index_job())
    # Rows indexed before the current matching scheme: a stretch of their re-hash each sweep.
    if rehash.backlog(session):
        queue.send(queue.rehash_index_job())
    anchored = _anchor(session)
    # After the anchoring: an audit event the dispatcher cannot map stops webhooks, not it.
    enqueued = webhooks.sweep(session, now=now, tell=tell)
    pruned = _prune(session, now=now)
    return SweepReport(
        requeued_media=len(stuck),
        released_leases=released,
        aborted_uploads=aborted,
        checkpoints_written=anchored,
        webhook_endpoints_enqueued=enqueued,
        staged_chunks_removed=staged,
        pruned_webhook_attempts=pruned.webhook_attempts,
        pruned_webhook_deliveries=pruned.webhook_deliveries,
        pruned_webhook_events=pruned.webhook_events,
        pruned_sessions=pruned.sessions,
        pruned_recovery_codes=pruned.recovery_codes,
    )


def _anchor(session: Session) -> int:
    """1 when a new checkpoint was signed. A database that contradicts the last checkpoint is
    not signed again: the tampering stays visible to `mvq audit verify`."""
    try:
        anchored = witnesses.anchor(session)
    except checkpoint.CheckpointInvalid as exc:
        log.error("audit log not anchored: %s", exc)
        return 0
    finally:
        session.rollback()  # end the read transaction; the tree was committed
    return int(anchored is not None)


def _prune(session: Session, *, now: datetime) -> pruning.PruneReport:
    """What went this sweep. A batch the database refuses (a row its triggers keep) is logged
    and leaves the rest of the sweep's report standing; the next sweep tries again."""
    try:
        return pruning.prune(session, now=now,
                             max_batches=get_settings().prune_batches_per_sweep)  # fmt: skip
    except DBAPIError as exc:
        session.rollback()
        log.error("pruning stopped: %s", exc)
        return pruning.PruneReport()
