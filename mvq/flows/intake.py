"""From an upload to the review queue: a file registered and uploaded, a worker's run on it,
and what a settled file means for its claim."""

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mvq.auth.principal import Principal
from mvq.matching import duplicates
from mvq.matching import service as matching
from mvq.media import service as processing
from mvq.media import uploads
from mvq.media.models import Media, MediaStatus
from mvq.review import appeals, leases
from mvq.review.models import ReviewItem
from mvq.scoring.disputes import detection
from mvq.submissions import lifecycle
from mvq.submissions import service as submissions
from mvq.submissions.models import Submission, SubmissionStatus

SETTLED = {MediaStatus.processed, MediaStatus.failed}


def register_media(
    session: Session,
    *,
    principal: Principal,
    submission_id: str,
    filename: str,
    size: int,
    sha256: str,
    content_type: str,
    part_size: int | None = None,
) -> uploads.UploadPlan:
    """A file for a claim: before processing starts, or for the claim's pending appeal."""
    submission = submissions.get_visible(session, principal=principal, submission_id=submission_id)
    return uploads.register(
        session,
        principal=principal,
        submission_id=submission_id,
        filename=filename,
        size=size,
        sha256=sha256,
        content_type=content_type,
        part_size=part_size,
        for_appeal=appeals.accepts_evidence(session, submission=submission),
    )


def complete_upload(
    session: Session,
    *,
    principal: Principal,
    media_id: str,
    parts: list[dict[str, Any]] | None,
    now: datetime,
) -> Media:
    media = uploads.complete(session, principal=principal, media_id=media_id, parts=parts, now=now)
    # A size mismatch fails the file at once; that may settle the claim.
    settle(session, submission_id=media.submission_id)
    return media


def start_processing(session: Session, *, media_id: str, max_attempts: int) -> Media | None:
    """The worker's claim on a file; None when there is nothing (left) to do. A file out of
    attempts fails here, which may settle its claim."""
    media = processing.start_processing(session, media_id=media_id, max_attempts=max_attempts)
    if media is None:
        submission_id = session.scalar(select(Media.submission_id).where(Media.id == media_id))
        if submission_id is not None:
            settle(session, submission_id=submission_id)
    return media


def media_processed(
    session: Session, *, media: Media, derived: processing.Derived, now: datetime
) -> None:
    if media.status != MediaStatus.processing:
        return  # another run of the same job finished first
    matching.unindex(session, media_id=media.id)
    processing.mark_processed(session, media=media, derived=derived, now=now)
    duplicates.flag_and_index(
        session, media=media, probes=derived.analysis.probes, keyframes=derived.analysis.keyframes
    )
    settle(session, submission_id=media.submission_id)


def media_failed(session: Session, *, media: Media, reason: str, detail: str) -> None:
    processing.fail(session, media=media, reason=reason, detail=detail)
    settle(session, submission_id=media.submission_id)


def abort_abandoned(session: Session, *, now: datetime) -> int:
    failed = uploads.abort_abandoned(session, now=now)
    for submission_id in {m.submission_id for m in failed}:
        settle(session, submission_id=submission_id)
    return len(failed)


def settle(session: Session, *, submission_id: str) -> None:
    """Once every file of the claim is settled: into the review queue (and any dispute it
    joins) if one was processed, else failed. Safe to call at any time and more than once."""
    submission = session.get_one(Submission, submission_id, populate_existing=True)
    if submission.status not in (SubmissionStatus.processing, SubmissionStatus.awaiting_upload):
        return
    statuses = set(
        session.scalars(select(Media.status).where(Media.submission_id == submission_id))
    )
    if not statuses or statuses - SETTLED:
        return
    if MediaStatus.processed not in statuses:
        lifecycle.move(session, submission, to=SubmissionStatus.failed,
                       cause="media.settled", actor="worker")  # fmt: skip
        return
    lifecycle.move(session, submission, to=SubmissionStatus.in_queue,
                   cause="media.settled", actor="worker")  # fmt: skip
    queue_for_review(session, submission=submission)


def queue_for_review(session: Session, *, submission: Submission) -> ReviewItem:
    """A claim now in the queue: flagged first if an approved claim already covers its target
    (so the flag counts in its place in the queue), then its review item, then it joins or
    opens the dispute about its target with other units' look-alikes."""
    alikes = detection.look_alikes(session, submission=submission)
    detection.flag_already_credited(session, submission=submission, alikes=alikes)
    item = leases.enqueue(session, submission=submission)
    detection.detect(session, submission=submission, alikes=alikes)
    return item
