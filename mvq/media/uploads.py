"""Uploads: register a file → presigned single PUT or multipart → complete → enqueue.

Registering the same file again (same claim, same SHA-256) returns the same media with fresh
URLs and the parts S3 already holds, so an interrupted client resumes instead of restarting.
The full SHA-256 is checked by the worker before anything else: hashing gigabytes inside an
API request would tie the API up for minutes.

Write-once: every presigned URL names the staging `upload_key`. A single PUT's URL is signed with
the declared SHA-256, so S3 refuses other bytes; a multipart upload's part URLs die with its
upload ID at `complete`. The worker then seals the staging object by a server-side copy to
`s3_key`, which no URL names, and hashes that copy: what is reviewed, exported and bundled is
what was hashed, whatever a unit does with a URL it still holds.
"""

import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mvq import queue, ratelimit, storage
from mvq.audit import service as audit
from mvq.auth import policy
from mvq.auth.principal import Principal
from mvq.errors import Conflict, Invalid, NotFound, TooLarge
from mvq.media import chunks
from mvq.media import service as processing
from mvq.media.models import Media, MediaStatus
from mvq.settings import get_settings
from mvq.submissions import lifecycle
from mvq.submissions import service as submissions
from mvq.submissions.models import Submission, SubmissionStatus

SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
ALLOWED_TYPE_PREFIXES = ("video/", "image/")
MAX_PARTS = 10000  # S3's limit


@dataclass(frozen=True)
class UploadPlan:
    media: Media
    mode: str
    part_size: int
    urls: list[str]
    headers: dict[str, str] = field(default_factory=dict)
    uploaded_parts: list[dict[str, Any]] = field(default_factory=list)


def part_size_for(size: int, asked: int | None = None) -> int:
    """`asked`: the client's choice from the link it measured (a slow link wants S3's smallest
    parts, so a dropped part costs little); the server's default otherwise."""
    base = asked if asked is not None else get_settings().part_size_bytes
    return max(base, math.ceil(size / MAX_PARTS))


def _validate(*, size: int, sha256: str, content_type: str) -> tuple[str, str]:
    content_type = content_type.strip().lower()
    if not content_type.startswith(ALLOWED_TYPE_PREFIXES):
        raise Invalid("content_type must be video/* or image/*", code="unsupported_content_type")
    max_bytes = get_settings().max_upload_bytes
    if size <= 0 or size > max_bytes:
        raise Invalid(f"size must be between 1 and {max_bytes} bytes", code="bad_size")
    sha256 = sha256.strip().lower()
    if not SHA256_HEX.match(sha256):
        raise Invalid("sha256 must be 64 hex digits", code="bad_sha256")
    return sha256, content_type


def register(
    session: Session,
    *,
    principal: Principal,
    submission_id: str,
    filename: str,
    size: int,
    sha256: str,
    content_type: str,
    part_size: int | None = None,
    for_appeal: bool = False,
) -> UploadPlan:
    """`for_appeal`: the caller found the claim's appeal pending, so the rejected claim takes
    another file; the claim stays rejected while it is processed (flows.intake.settle leaves a
    decided claim alone)."""
    if not policy.acts_for_unit(principal):
        raise NotFound("no such submission")
    submission = submissions.get_visible(session, principal=principal, submission_id=submission_id)
    sha256, content_type = _validate(size=size, sha256=sha256, content_type=content_type)
    existing = session.scalar(
        select(Media).where(Media.submission_id == submission.id, Media.declared_sha256 == sha256)
    )
    if existing is not None:
        if existing.declared_size != size:
            raise Conflict("this file was registered with another size", code="size_conflict")
        return _plan(existing)
    if submission.status != SubmissionStatus.awaiting_upload and not for_appeal:
        raise Conflict("media can only be added before processing starts, or to an appeal",
                       code="bad_state")  # fmt: skip
    _within_bounds(session, submission=submission, size=size, unit_id=principal.unit_id)
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
    try:
        # Added inside the savepoint: begin_nested() flushes what is pending before it starts,
        # and a duplicate must roll back only the savepoint, not the whole transaction.
        with session.begin_nested():
            session.add(media)
            session.flush()
    except IntegrityError:  # a concurrent retry registered it first
        return register(
            session,
            principal=principal,
            submission_id=submission_id,
            filename=filename,
            size=size,
            sha256=sha256,
            content_type=content_type,
            part_size=part_size,
            for_appeal=for_appeal,
        )
    media.s3_key = storage.original_key(submission.id, media.id)
    media.upload_key = storage.upload_key(submission.id, media.id)
    if size > get_settings().multipart_threshold_bytes:
        media.part_size = part_size_for(size, part_size)
        media.upload_id = storage.create_multipart(media.upload_key, content_type=content_type)
    audit.record(
        session,
        actor=principal.actor,
        action="media.registered",
        object_type="media",
        object_id=media.id,
        data={"submission_id": submission.id, "size": size, "sha256": sha256,
              "filename": filename, "multipart": media.upload_id is not None},
    )  # fmt: skip
    return _plan(media, fresh=True)


def _within_bounds(session: Session, *, submission: Submission, size: int,
                   unit_id: str | None) -> None:  # fmt: skip
    """A new file stays within the claim's files and declared bytes, and the unit's new
    registrations a minute (settings). The claim's row is locked (Postgres) while its files are
    counted, so registrations racing on one claim cannot all pass the same count; a refused
    file is not counted against the unit's rate."""
    settings = get_settings()
    session.execute(select(Submission.id).where(Submission.id == submission.id).with_for_update())
    files, declared = session.execute(
        select(func.count(), func.coalesce(func.sum(Media.declared_size), 0)).where(
            Media.submission_id == submission.id
        )
    ).one()
    if files >= settings.max_files_per_claim:
        raise Conflict(f"a claim has at most {settings.max_files_per_claim} files",
                       code="too_many_files")  # fmt: skip
    if declared + size > settings.max_claim_bytes:
        raise TooLarge(f"a claim's files add up to at most {settings.max_claim_bytes} bytes; "
                       f"{declared} are declared already", code="claim_too_large")  # fmt: skip
    ratelimit.check(bucket="register", subject=str(unit_id),
                    per_minute=settings.register_rate_per_minute)  # fmt: skip


def target_key(media: Media) -> str:
    """The key the client writes: staging, or the original itself for media registered before
    write-once."""
    return media.upload_key or media.s3_key


def _plan(media: Media, *, fresh: bool = False) -> UploadPlan:
    """`fresh`: the upload was created just now, so S3 holds no parts to ask about."""
    if media.status != MediaStatus.awaiting_upload:
        return UploadPlan(
            media,
            "multipart" if media.upload_id else "single",
            media.part_size or media.declared_size,
            [],
        )
    key = target_key(media)
    if media.upload_id is None:
        url, headers = storage.presign_put(
            key, content_type=media.content_type, sha256=media.declared_sha256
        )
        return UploadPlan(media, "single", media.declared_size, [url], headers)
    assert media.part_size is not None
    count = math.ceil(media.declared_size / media.part_size)
    urls = [
        storage.presign_part(key, upload_id=media.upload_id, part_number=n)
        for n in range(1, count + 1)
    ]
    stored = [] if fresh else storage.list_parts(key, upload_id=media.upload_id)
    uploaded = [
        {"part_number": p["PartNumber"], "etag": p["ETag"], "size": p["Size"]} for p in stored
    ]
    # Part URLs sign no header: a bare PUT of the part's bytes is all S3 needs.
    return UploadPlan(media, "multipart", media.part_size, urls, {}, uploaded)


def get_for_unit(session: Session, *, principal: Principal, media_id: str) -> Media:
    media = session.get(Media, media_id)
    if media is None:
        raise NotFound("no such media")
    submission = session.get(Submission, media.submission_id)
    if (
        not policy.acts_for_unit(principal)
        or submission is None
        or submission.unit_id != principal.unit_id
    ):
        raise NotFound("no such media")
    return media


def _assemble(media: Media, client_parts: list[dict[str, Any]] | None) -> None:
    """Completes a multipart upload from what S3 holds, which is the truth about the parts."""
    assert media.upload_id is not None and media.part_size is not None
    key = target_key(media)
    stored = storage.list_parts(key, upload_id=media.upload_id)
    expected = math.ceil(media.declared_size / media.part_size)
    missing = sorted(set(range(1, expected + 1)) - {p["PartNumber"] for p in stored})
    if missing:  # sent as small chunks on a slow link: stitched into parts here
        missing = chunks.stitch(media, key=key, missing=missing)
        if missing:
            raise Conflict(f"parts still missing: {missing[:20]}", code="parts_missing")
        stored = storage.list_parts(key, upload_id=media.upload_id)
    if client_parts is not None:
        etags = {p["PartNumber"]: p["ETag"].strip('"') for p in stored}
        for part in client_parts:
            if etags.get(part["part_number"]) != part["etag"].strip('"'):
                raise Conflict(
                    f"part {part['part_number']} differs from what was stored", code="etag_mismatch"
                )
    storage.complete_multipart(key, upload_id=media.upload_id, parts=stored)
    chunks.discard(media.id)  # one left behind by a crash here goes with the next sweep


def stage_chunks(
    session: Session, *, principal: Principal, media_id: str, wanted: list[chunks.Chunk]
) -> chunks.ChunkPlan:
    """URLs for a slow link's small chunks of the member's own file (mvq.media.chunks)."""
    media = get_for_unit(session, principal=principal, media_id=media_id)
    return chunks.plan(media, key=target_key(media), chunks=wanted)


def complete(
    session: Session,
    *,
    principal: Principal,
    media_id: str,
    parts: list[dict[str, Any]] | None,
    now: datetime,
) -> Media:
    media = get_for_unit(session, principal=principal, media_id=media_id)
    if media.status != MediaStatus.awaiting_upload:
        return media  # a retried complete: already accepted
    stored = storage.head(target_key(media))
    if stored is None and media.upload_id is not None:
        _assemble(media, parts)
        stored = storage.head(target_key(media))
    if stored is None:
        raise Conflict("nothing has been uploaded for this media yet", code="not_uploaded")
    if int(stored["ContentLength"]) != media.declared_size:
        processing.fail(
            session,
            media=media,
            reason="checksum_mismatch",
            detail=f"stored {stored['ContentLength']} bytes, declared {media.declared_size}",
        )
        return media
    processing.set_status(session, media, to=MediaStatus.uploaded)
    media.uploaded_at = now
    submission = session.get_one(Submission, media.submission_id)
    if submission.status == SubmissionStatus.awaiting_upload:
        lifecycle.move(session, submission, to=SubmissionStatus.processing,
                       cause="media.uploaded", actor=principal.actor,
                       data={"media_id": media.id})  # fmt: skip
    audit.record(
        session,
        actor=principal.actor,
        action="media.uploaded",
        object_type="media",
        object_id=media.id,
        data={
            "size": media.declared_size,
            "declared_sha256": media.declared_sha256,
            "mode": "multipart" if media.upload_id else "single",
        },
    )
    queue.enqueue_after_commit(session, queue.process_media_job(media.id))
    return media


def abort_abandoned(session: Session, *, now: datetime) -> list[Media]:
    """Aborts multipart uploads nobody finished, so S3 does not keep orphaned parts forever.
    Returns the media it failed."""
    cutoff = now - timedelta(hours=get_settings().abandoned_upload_hours)
    stale = session.scalars(
        select(Media).where(
            Media.status == MediaStatus.awaiting_upload,
            Media.upload_id.is_not(None),
            Media.created_at < cutoff,
        )
    ).all()
    for media in stale:
        assert media.upload_id is not None
        storage.abort_multipart(target_key(media), upload_id=media.upload_id)
        chunks.discard(media.id)
        processing.fail(
            session,
            media=media,
            reason="abandoned",
            detail=f"upload not completed within {cutoff.isoformat()}",
        )
    return list(stale)
