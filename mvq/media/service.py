"""Media life cycle: register → presigned upload → complete → processed | failed."""

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from mvq import queue, storage
from mvq.audit import service as audit
from mvq.auth.service import Principal
from mvq.errors import Conflict, Invalid, NotFound
from mvq.media.models import Frame, Media, MediaStatus
from mvq.review import service as review
from mvq.settings import get_settings
from mvq.submissions import service as submissions
from mvq.submissions.models import Submission, SubmissionStatus

SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
ALLOWED_TYPE_PREFIXES = ("video/", "image/")


@dataclass(frozen=True)
class UploadPlan:
    media: Media
    mode: str
    part_size: int
    urls: list[str]


def register(
    session: Session,
    *,
    principal: Principal,
    submission_id: str,
    filename: str,
    size: int,
    sha256: str,
    content_type: str,
) -> UploadPlan:
    submission = submissions.get_visible(session, principal=principal, submission_id=submission_id)
    if principal.kind != "unit":
        raise NotFound("no such submission")
    if submission.status != SubmissionStatus.awaiting_upload:
        raise Conflict("media can only be added before processing starts", code="bad_state")
    content_type = content_type.strip().lower()
    if not content_type.startswith(ALLOWED_TYPE_PREFIXES):
        raise Invalid("content_type must be video/* or image/*", code="unsupported_content_type")
    max_bytes = get_settings().max_upload_bytes
    if size <= 0 or size > max_bytes:
        raise Invalid(f"size must be between 1 and {max_bytes} bytes", code="bad_size")
    sha256 = sha256.strip().lower()
    if not SHA256_HEX.match(sha256):
        raise Invalid("sha256 must be 64 hex digits", code="bad_sha256")
    media = Media(
        submission_id=submission.id,
        status=MediaStatus.awaiting_upload,
        # The client's name is kept as metadata only; the key is ours.
        filename=filename[-255:],
        content_type=content_type,
        declared_size=size,
        declared_sha256=sha256,
        s3_key="",
    )
    session.add(media)
    session.flush()
    media.s3_key = storage.original_key(submission.id, media.id)
    url = storage.presign_put(media.s3_key, content_type=content_type)
    return UploadPlan(media=media, mode="single", part_size=size, urls=[url])


def get_for_unit(session: Session, *, principal: Principal, media_id: str) -> Media:
    media = session.get(Media, media_id)
    if media is None:
        raise NotFound("no such media")
    submission = session.get(Submission, media.submission_id)
    if principal.kind != "unit" or submission is None or submission.unit_id != principal.unit_id:
        raise NotFound("no such media")
    return media


def complete(session: Session, *, principal: Principal, media_id: str, now: datetime) -> Media:
    media = get_for_unit(session, principal=principal, media_id=media_id)
    if media.status != MediaStatus.awaiting_upload:
        return media  # a retried complete: already accepted
    stored = storage.head(media.s3_key)
    if stored is None:
        raise Conflict("nothing has been uploaded for this media yet", code="not_uploaded")
    if int(stored["ContentLength"]) != media.declared_size:
        fail(
            session,
            media=media,
            reason="checksum_mismatch",
            detail=f"stored {stored['ContentLength']} bytes, declared {media.declared_size}",
        )
        return media
    media.status = MediaStatus.uploaded
    media.uploaded_at = now
    submission = session.get_one(Submission, media.submission_id)
    if submission.status == SubmissionStatus.awaiting_upload:
        submission.status = SubmissionStatus.processing
    audit.record(
        session,
        actor=principal.actor,
        action="media.uploaded",
        object_type="media",
        object_id=media.id,
        data={"size": media.declared_size, "declared_sha256": media.declared_sha256},
    )
    queue.enqueue_after_commit(session, queue.process_media_job(media.id))
    return media


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
