"""Media processing states: uploaded → processing → processed | failed (uploads.py comes first).

What a settled file means for its claim is `mvq.flows.intake`'s business."""

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from mvq import storage
from mvq.audit import service as audit
from mvq.errors import Conflict
from mvq.media import flags
from mvq.media.ingest.pipeline import Analysis
from mvq.media.models import Frame, Media, MediaStatus
from mvq.settings import get_settings
from mvq.submissions import service as submissions
from mvq.submissions.models import Flag, Submission

M = MediaStatus
# A file's own small life cycle: each status and the statuses it may be reached from.
MEDIA_MOVES: dict[MediaStatus, frozenset[MediaStatus]] = {
    M.uploaded: frozenset({M.awaiting_upload}),
    M.processed: frozenset({M.processing}),
    M.failed: frozenset({M.awaiting_upload, M.uploaded, M.processing}),
}


def set_status(session: Session, media: Media, *, to: MediaStatus) -> None:
    """Conditional on the status the caller saw, so two runs racing on one file cannot both
    settle it. (`processing` is entered by `start_processing`'s own conditional claim.)"""
    source = media.status
    if source not in MEDIA_MOVES[to]:
        raise Conflict(f"a file that is {source} cannot become {to}", code="illegal_transition")
    result = session.execute(
        update(Media)
        .where(Media.id == media.id, Media.status == source)
        .values(status=to)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("the file changed meanwhile; try again", code="media_moved")
    set_committed_value(media, "status", to)


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
            reason="retries_exhausted",
            detail=f"processing did not finish in {max_attempts} attempts",
        )
        return None
    # Custody: the original is about to be read by a worker.
    audit.record(session, actor="worker", action="media.processing", object_type="media",
                 object_id=media.id, data={"attempt": media.attempts})  # fmt: skip
    return media


def record_sealed(session: Session, *, media_id: str, source: str, stored: dict[str, Any]) -> None:
    """Custody: the upload was copied to the original that every reader uses from now on."""
    sealed = session.get_one(Media, media_id).s3_key
    data = {"from": source, "to": sealed, "size": int(stored["ContentLength"]),
            "etag": stored.get("ETag")}  # fmt: skip
    audit.record(session, actor="worker", action="media.sealed", object_type="media",
                 object_id=media_id, data=data)  # fmt: skip


@dataclass(frozen=True)
class Derived:
    """What the worker made of one file and stored: the analysis, thumbnail and contact sheet.
    Each still is stored under `storage.frame_key(media, still.index)`."""

    analysis: Analysis
    thumbnail_key: str | None
    contact_sheet_key: str | None


def jsonable(facts: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(facts, default=lambda v: v.isoformat()))  # type: ignore[no-any-return]


def mark_processed(session: Session, *, media: Media, derived: Derived, now: datetime) -> bool:
    """Stores what the worker made; False when another run of the same job finished first."""
    if media.status != MediaStatus.processing:
        return False
    analysis = derived.analysis
    facts = analysis.facts
    session.execute(delete(Frame).where(Frame.media_id == media.id))
    session.add_all(
        Frame(media_id=media.id, index=f.index, t_seconds=f.t_seconds,
              s3_key=storage.frame_key(media.id, f.index), width=f.width, height=f.height,
              pdq=f.hashes.pdq, pdq_quality=f.hashes.quality, pdq_center=f.hashes.center,
              pdq_mirror=f.hashes.mirror, pdq_upper=f.hashes.upper,
              pdq_9x16=f.hashes.vertical_9x16, pdq_4x5=f.hashes.vertical_4x5)
        for f in analysis.stills
    )  # fmt: skip
    media.sha256, media.size = analysis.sha256, analysis.size
    media.kind, media.container = facts.get("kind"), facts.get("container")
    media.duration_seconds = facts.get("duration_seconds")
    media.width, media.height = facts.get("width"), facts.get("height")
    media.captured_at = facts.get("captured_at")
    media.gps_lat, media.gps_lon = facts.get("lat"), facts.get("lon")
    media.device_make = (facts.get("device_make") or "")[:100] or None
    media.device_model = (facts.get("device_model") or "")[:100] or None
    media.encoder = (facts.get("encoder") or "")[:100] or None
    media.video_codec, media.fps, media.bit_rate = (
        facts.get("video_codec"), facts.get("fps"), facts.get("bit_rate"))  # fmt: skip
    media.c2pa_status = (facts.get("c2pa") or {}).get("status")
    media.probe = jsonable(facts)
    media.thumbnail_key, media.contact_sheet_key = derived.thumbnail_key, derived.contact_sheet_key
    set_status(session, media, to=MediaStatus.processed)
    media.failure_reason = None
    media.processed_at = now
    _store_consistency_flags(session, media=media, facts=facts)
    session.flush()
    audit.record(
        session, actor="worker", action="media.processed", object_type="media",
        object_id=media.id,
        data={"sha256": analysis.sha256, "size": analysis.size, "frames": len(analysis.stills),
              "derivation": media.probe.get("derivation")},
    )  # fmt: skip
    return True


def _store_consistency_flags(session: Session, *, media: Media, facts: dict[str, Any]) -> None:
    settings = get_settings()
    submission = session.get_one(Submission, media.submission_id)
    captured, time_source = flags.capture_time(facts)
    sources = {None: None, "file metadata": "capture_time", "osd": "osd"}
    submissions.take_time_from_footage(
        session, submission=submission, captured=captured,
        source=sources.get(time_source, "telemetry"),
    )  # fmt: skip
    claim = flags.Claim(submission.occurred_at, submission.lat, submission.lon)
    found = flags.consistency_flags(
        facts,
        claim,
        tolerance_minutes=settings.capture_tolerance_minutes,
        tolerance_km=settings.location_tolerance_km,
        osd_rule=flags.OsdRule.of(settings),
    )
    for kind, evidence in found:
        if kind == "osd_mismatch":  # the still the overlay was read from, for the reviewer
            evidence["frame_key"] = storage.frame_key(media.id, evidence["frame_index"])
    session.execute(delete(Flag).where(Flag.media_id == media.id,
                                       Flag.kind.in_(flags.CONSISTENCY_KINDS)))  # fmt: skip
    session.add_all(
        Flag(submission_id=submission.id, media_id=media.id, kind=kind, evidence=jsonable(evidence))
        for kind, evidence in found
    )


def fail(session: Session, *, media: Media, reason: str, detail: str) -> None:
    if media.status in (MediaStatus.processed, MediaStatus.failed):
        return
    set_status(session, media, to=MediaStatus.failed)
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
