"""Jobs are idempotent, enqueued only after commit, and recoverable from the database alone."""

import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rq import Queue
from sqlalchemy import func, select

from mvq import queue, storage
from mvq.audit.models import AuditEvent
from mvq.auth.principal import Principal
from mvq.db import session_factory, utcnow
from mvq.media import service as media_service
from mvq.media import uploads
from mvq.media.models import Frame, Media
from mvq.settings import get_settings
from mvq.submissions import service as submissions
from testkit import harness
from testkit.claims import sha256_of
from testkit.people import Accounts
from workers.jobs import process_media


def uploaded_media(accounts: Accounts, clip: Path) -> str:
    """A media file uploaded and completed, its job sent to Redis but not yet run."""
    unit = Principal(kind="unit", id=accounts.unit_id, unit_id=accounts.unit_id)
    with session_factory()() as session:
        submission, _ = submissions.create(
            session,
            principal=unit,
            target_type="tank",
            outcome="destroyed",
            occurred_at=datetime.now(UTC) - timedelta(hours=1),
            lat=None,
            lon=None,
            note=None,
            idempotency_key=uuid.uuid4().hex,
            now=utcnow(),
        )
        plan = uploads.register(
            session,
            principal=unit,
            submission_id=submission.id,
            filename=clip.name,
            size=clip.stat().st_size,
            sha256=sha256_of(clip),
            content_type="video/mp4",
        )
        session.commit()
        # What a client's presigned PUT does: write the staging key.
        key = uploads.target_key(plan.media)
        storage.put_bytes(key, clip.read_bytes(), content_type="video/mp4")
        uploads.complete(session, principal=unit, media_id=plan.media.id, parts=None, now=utcnow())
        session.commit()
        return plan.media.id


def counts(media_id: str) -> tuple[int, int]:
    with session_factory()() as session:
        frames = session.scalar(
            select(func.count()).select_from(Frame).where(Frame.media_id == media_id)
        )
        events = session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.object_id == media_id)
        )
    return frames or 0, events or 0


def test_job_is_enqueued_after_commit_and_not_on_rollback(
    accounts: Accounts, tank_clip: Path
) -> None:
    media_queue = Queue(queue.MEDIA_QUEUE, connection=queue.redis_conn())
    media_id = uploaded_media(accounts, tank_clip)
    assert f"process-media-{media_id}" in media_queue.job_ids
    with session_factory()() as session:
        queue.enqueue_after_commit(session, queue.process_media_job("never-committed"))
        session.rollback()
    assert "process-media-never-committed" not in media_queue.job_ids


def test_running_a_job_twice_changes_nothing_the_second_time(
    accounts: Accounts, tank_clip: Path
) -> None:
    media_id = uploaded_media(accounts, tank_clip)
    assert process_media(media_id) == "processed"
    first = counts(media_id)
    assert first[0] >= 3
    assert process_media(media_id) == "nothing to do"
    assert counts(media_id) == first


def test_a_job_killed_midway_is_finished_by_the_rerun_without_duplicates(
    accounts: Accounts, tank_clip: Path
) -> None:
    media_id = uploaded_media(accounts, tank_clip)
    with session_factory()() as session:  # the first run got this far, then its worker died
        media_service.start_processing(session, media_id=media_id, max_attempts=3)
        session.commit()
    assert process_media(media_id) == "processed"
    with session_factory()() as session:
        media = session.get_one(Media, media_id)
        assert (media.status, media.attempts) == ("processed", 2)
    frames, _ = counts(media_id)
    assert frames == 4  # a 4 s clip at 1 frame a second


def test_a_file_that_keeps_killing_workers_is_failed_not_retried_forever(
    accounts: Accounts, tank_clip: Path
) -> None:
    media_id = uploaded_media(accounts, tank_clip)
    with session_factory()() as session:
        for _ in range(get_settings().max_processing_attempts):
            media_service.start_processing(session, media_id=media_id, max_attempts=100)
        session.commit()
    assert process_media(media_id) == "nothing to do"
    with session_factory()() as session:
        media = session.get_one(Media, media_id)
    assert (media.status, media.failure_reason) == ("failed", "retries_exhausted")


def test_wiping_redis_loses_nothing(
    backing: harness.Backing, database: str, accounts: Accounts, tank_clip: Path
) -> None:
    media_id = uploaded_media(accounts, tank_clip)
    queue.redis_conn().flushall()
    stack = harness.start_stack(backing, database)
    try:
        time.sleep(3)  # longer than MVQ_STUCK_AFTER_SECONDS in the tests
        with session_factory()() as session:
            assert session.get_one(Media, media_id).status == "uploaded"  # nothing ran it
        swept = harness.run_cli(["sweep"], stack.env)
        assert swept.returncode == 0, swept.stderr
        assert '"requeued_media": ' in swept.stdout

        def processed() -> bool:
            with session_factory()() as session:
                return session.get_one(Media, media_id).status == "processed"

        harness.wait_until(processed, timeout=90, what="media processed after the sweep")
    finally:
        stack.group.stop()
