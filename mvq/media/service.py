"""Media processing states: uploaded → processing → processed | failed (uploads.py comes first)."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from mvq.audit import service as audit
from mvq.media.models import Frame, Media, MediaStatus
from mvq.review import service as review
from mvq.submissions.models import Submission, SubmissionStatus


def start_processing(session: Session, *, media_id: str, max_attempts: int) -> Media | None:
    """Claims the media for this job run. None when there is nothing (left) to do.

    `processing` is accepted too: a worker killed mid-job leaves it there, and the rerun
    must finish the work rather than strand it.
    """
    result = session.execute(
        update(Media)
        .where(
            Media.id == media_id, Media.status.in_([MediaStatus.uploaded, MediaStatus.processing])
        )
        .values(status=MediaStatus.processing, attempts=Media.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        return None
    media = session.get_one(Media, media_id, populate_existing=True)
    if media.attempts > max_attempts:
        fail(
            session,
            media=media,
            reason="worker_crashed",
            detail=f"processing did not finish in {max_attempts} attempts",
        )
        return None
    return media


@dataclass(frozen=True)
class FrameRecord:
    index: int
    t_seconds: float
    s3_key: str
    width: int
    height: int


def mark_processed(
    session: Session,
    *,
    media: Media,
    sha256: str,
    size: int,
    facts: dict[str, Any],
    frames: list[FrameRecord],
    thumbnail_key: str | None,
    now: datetime,
) -> None:
    if media.status != MediaStatus.processing:
        return  # another run of the same job finished first
    session.execute(delete(Frame).where(Frame.media_id == media.id))
    session.add_all(
        Frame(
            media_id=media.id,
            index=f.index,
            t_seconds=f.t_seconds,
            s3_key=f.s3_key,
            width=f.width,
            height=f.height,
        )
        for f in frames
    )
    media.sha256 = sha256
    media.size = size
    media.kind = facts.get("kind")
    media.container = facts.get("container")
    media.duration_seconds = facts.get("duration_seconds")
    media.width = facts.get("width")
    media.height = facts.get("height")
    media.probe = facts
    media.thumbnail_key = thumbnail_key
    media.status = MediaStatus.processed
    media.failure_reason = None
    media.processed_at = now
    audit.record(
        session,
        actor="worker",
        action="media.processed",
        object_type="media",
        object_id=media.id,
        data={"sha256": sha256, "size": size, "frames": len(frames)},
    )
    _settle_submission(session, submission_id=media.submission_id)


def fail(session: Session, *, media: Media, reason: str, detail: str) -> None:
    if media.status in (MediaStatus.processed, MediaStatus.failed):
        return
    media.status = MediaStatus.failed
    media.failure_reason = reason
    media.failure_detail = detail[:500]
    audit.record(
        session,
        actor="worker",
        action="media.failed",
        object_type="media",
        object_id=media.id,
        data={"reason": reason, "detail": detail[:500]},
    )
    _settle_submission(session, submission_id=media.submission_id)


def _settle_submission(session: Session, *, submission_id: str) -> None:
    """Once every media file is done: into the queue if any processed, else failed."""
    submission = session.get_one(Submission, submission_id)
    if submission.status not in (SubmissionStatus.processing, SubmissionStatus.awaiting_upload):
        return
    statuses = set(
        session.scalars(select(Media.status).where(Media.submission_id == submission_id))
    )
    if statuses - {MediaStatus.processed, MediaStatus.failed}:
        return
    if MediaStatus.processed in statuses:
        submission.status = SubmissionStatus.in_queue
        review.enqueue(session, submission=submission)
    else:
        submission.status = SubmissionStatus.failed
    audit.record(
        session,
        actor="worker",
        action=f"submission.{submission.status}",
        object_type="submission",
        object_id=submission.id,
        data={},
    )
