"""Repairs what Redis may have lost. The database is the truth: anything uploaded but not
processed is enqueued again (job ids make that idempotent), and expired leases go back to
the queue. Wiping Redis therefore loses no work. Staged chunks (mvq.media.chunks) of uploads
that are over, or were abandoned, are removed. Each sweep also anchors the audit log (a
checkpoint of its Merkle tree, cosigned by the witnesses, goes to S3 whenever it grew), turns
new audit events into webhook deliveries, enqueueing every endpoint with one due, and asks for
a compaction of the shared frame index (which writes segments only when there is enough new)."""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from mvq import queue
from mvq.audit import checkpoint, witnesses
from mvq.flows import intake
from mvq.media import chunks
from mvq.media.models import Media, MediaStatus
from mvq.review import leases
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
    anchored = _anchor(session)
    return SweepReport(
        requeued_media=len(stuck),
        released_leases=released,
        aborted_uploads=aborted,
        checkpoints_written=anchored,
        # Last: an audit event the dispatcher cannot map stops webhooks, not the anchoring.
        webhook_endpoints_enqueued=webhooks.sweep(session, now=now, tell=tell),
        staged_chunks_removed=staged,
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
