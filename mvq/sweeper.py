"""Repairs what Redis may have lost. The database is the truth: anything uploaded but not
processed is enqueued again (job ids make that idempotent), and expired leases go back to
the queue. Wiping Redis therefore loses no work."""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from mvq import queue
from mvq.flows import intake
from mvq.media.models import Media, MediaStatus
from mvq.review import service as review

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SweepReport:
    requeued_media: int
    released_leases: int
    aborted_uploads: int


def sweep(session: Session, *, now: datetime, stuck_after: timedelta) -> SweepReport:
    stuck = list(
        session.scalars(
            select(Media.id).where(
                Media.status.in_([MediaStatus.uploaded, MediaStatus.processing]),
                Media.uploaded_at < now - stuck_after,
            )
        )
    )
    released = review.release_expired(session, now=now)
    aborted = intake.abort_abandoned(session, now=now)
    session.commit()
    # `send` skips ids already queued or running, so a healthy job is never doubled.
    for media_id in stuck:
        queue.send(queue.process_media_job(media_id))
    return SweepReport(requeued_media=len(stuck), released_leases=released, aborted_uploads=aborted)
