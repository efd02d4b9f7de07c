"""RQ entry points: load the row, run the pipeline, store the result. Safe to run twice."""

import logging
import multiprocessing
import shutil
import signal
import tempfile
import time
from pathlib import Path

from rq import get_current_job

from mvq import logs, metrics, storage
from mvq.db import session_scope, utcnow
from mvq.flows import intake
from mvq.matching import compaction, rehash
from mvq.media import service as media_service
from mvq.media.ingest import frames, pipeline
from mvq.media.models import Media
from mvq.settings import get_settings

log = logging.getLogger(__name__)
SCRATCH_PREFIX = "mvq-media-"


def _as_child() -> None:
    """A forked child drops RQ's signal handlers (they would stop the parent's scheduler) and
    makes its own S3 connections (the database engine and Redis pool are per process already):
    a socket shared with the parent would carry both's requests."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    storage.client.cache_clear()


def scratch_dir(media_id: str) -> Path:
    """One fixed place per media: a rerun after a kill -9 clears what the dead run left."""
    return Path(tempfile.gettempdir()) / f"{SCRATCH_PREFIX}{media_id}"


def clean_stale_scratch() -> None:
    """Scratch left by jobs killed on this machine and never re-run here."""
    cutoff = time.time() - get_settings().media_job_timeout_seconds
    for leftover in Path(tempfile.gettempdir()).glob(f"{SCRATCH_PREFIX}*"):
        if leftover.stat().st_mtime < cutoff:
            shutil.rmtree(leftover, ignore_errors=True)


def process_media(media_id: str) -> str:
    job = get_current_job()
    # Logs of this run carry the id of the API request that caused it.
    logs.request_id.set(job.meta.get("request_id") if job else None)
    started = time.monotonic()
    outcome = "error"
    try:
        outcome = _process(media_id)
        return outcome
    finally:
        metrics.observe_job(time.monotonic() - started, outcome)
        log.info("media job done", extra={"media_id": media_id, "outcome": outcome})


def _process(media_id: str) -> str:
    with session_scope() as session:
        media = intake.start_processing(
            session, media_id=media_id, max_attempts=get_settings().max_processing_attempts
        )
        if media is None:
            return "nothing to do"
        key, upload_key, declared_sha256 = media.s3_key, media.upload_key, media.declared_sha256
    if upload_key is not None:
        _seal(media_id, upload_key, key)
    scratch = scratch_dir(media_id)
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(mode=0o700)
    try:
        local = scratch / "original"
        storage.download(key, local)
        try:
            analysis = pipeline.analyse(local, declared_sha256=declared_sha256)
        except pipeline.Rejected as exc:
            log.info("media rejected", extra={"media_id": media_id, "reason": exc.reason})
            with session_scope() as session:
                intake.media_failed(session, media=session.get_one(Media, media_id),
                                   reason=exc.reason, detail=exc.detail)  # fmt: skip
            return exc.reason
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    derived = _store_derived(media_id, analysis)
    with session_scope() as session:
        intake.media_processed(
            session, media=session.get_one(Media, media_id), derived=derived, now=utcnow()
        )
    return "processed"


def _seal(media_id: str, upload_key: str, key: str) -> None:
    """Copies the upload to the key no presigned URL names, then drops the staging object.
    A rerun never copies over a sealed original; a URL still alive could at most write the same
    bytes again (single PUT, checksum-bound) or nothing (multipart, its upload ID completed)."""
    staged = storage.head(upload_key)
    if staged is None:
        return  # sealed by an earlier run (or lost: the download below fails the job)
    if storage.head(key) is None:
        storage.copy(upload_key, key)
    with session_scope() as session:
        media_service.record_sealed(session, media_id=media_id, source=upload_key, stored=staged)
    storage.delete(upload_key)


def _store_derived(media_id: str, analysis: pipeline.Analysis) -> media_service.Derived:
    for still in analysis.stills:
        storage.put_bytes(storage.frame_key(media_id, still.index), still.jpeg,
                          content_type="image/jpeg")  # fmt: skip
    thumb_key = storage.derived_key(media_id, "thumb.jpg")
    storage.put_bytes(
        thumb_key, frames.thumbnail(analysis.stills[0].jpeg), content_type="image/jpeg"
    )
    sheet_key = None
    if analysis.contact_sheet is not None:
        sheet_key = storage.derived_key(media_id, "contact-sheet.jpg")
        storage.put_bytes(sheet_key, analysis.contact_sheet, content_type="image/jpeg")
    return media_service.Derived(analysis, thumb_key, sheet_key)


def compact_index() -> str:
    """In a child forked for the run: a merge holds a whole segment and builds its tables (tens
    of MB at the small tier's top), and the allocator would keep the worker's heap at that
    high-water mark for good; the child's memory leaves with it."""
    pool = multiprocessing.get_context("fork").Pool(1, initializer=_as_child)
    try:
        report = pool.apply(compaction.compact)
    finally:
        pool.close()  # not terminate(): the child ends by itself, no signal sent
        pool.join()
    return "busy" if report.busy else f"{len(report.written)} written, {len(report.merged)} merged"


def rehash_index() -> str:
    """A stretch of the re-hash of old index rows, `index_rehash_job_seconds` long at most; the
    sweeper enqueues the next while old rows are left."""
    settings = get_settings()
    try:
        progress = rehash.run_locked(batch=settings.index_rehash_batch,
                                     seconds=settings.index_rehash_job_seconds)  # fmt: skip
    except rehash.Busy:
        return "busy"
    return progress.line()
