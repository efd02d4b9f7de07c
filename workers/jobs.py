"""RQ entry points: load the row, run the pipeline, store the result. Safe to run twice."""

import logging
import tempfile
from pathlib import Path

from mvq import storage
from mvq.db import session_scope, utcnow
from mvq.media import service as media_service
from mvq.media.models import Media
from mvq.settings import get_settings
from workers import pipeline
from workers.ingest import frames

log = logging.getLogger(__name__)


def process_media(media_id: str) -> str:
    with session_scope() as session:
        media = media_service.start_processing(
            session, media_id=media_id, max_attempts=get_settings().max_processing_attempts
        )
        if media is None:
            return "nothing to do"
        key, declared_sha256 = media.s3_key, media.declared_sha256
    with tempfile.TemporaryDirectory(prefix="mvq-") as tmp:
        local = Path(tmp) / "original"
        storage.download(key, local)
        try:
            result = pipeline.analyse(local, declared_sha256=declared_sha256)
        except pipeline.Rejected as exc:
            log.info("media rejected", extra={"media_id": media_id, "reason": exc.reason})
            with session_scope() as session:
                media_service.fail(
                    session,
                    media=session.get_one(Media, media_id),
                    reason=exc.reason,
                    detail=exc.detail,
                )
            return exc.reason
    records = _store_stills(media_id, result.stills)
    thumb_key = f"derived/{media_id}/thumb.jpg"
    storage.put_bytes(thumb_key, frames.thumbnail(result.stills[0].jpeg), content_type="image/jpeg")
    with session_scope() as session:
        media_service.mark_processed(
            session,
            media=session.get_one(Media, media_id),
            sha256=result.sha256,
            size=result.size,
            facts=result.facts,
            frames=records,
            thumbnail_key=thumb_key,
            now=utcnow(),
        )
    return "processed"


def _store_stills(media_id: str, stills: list[pipeline.Still]) -> list[media_service.FrameRecord]:
    records = []
    for still in stills:
        key = f"derived/{media_id}/frames/{still.index:05d}.jpg"
        storage.put_bytes(key, still.jpeg, content_type="image/jpeg")
        width, height = frames.size_of(still.jpeg)
        records.append(media_service.FrameRecord(still.index, still.t_seconds, key, width, height))
    return records
