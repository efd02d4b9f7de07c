"""A worker killed with -9 in the middle of a job: the media is still processed, exactly once,
within about a minute, by another worker."""

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from deploy import servers
from mvq.audit.models import AuditEvent
from mvq.db import session_factory
from mvq.media.models import Frame, Media
from testkit import footage, harness
from testkit.claims import upload_claim
from testkit.people import Accounts


@pytest.fixture(scope="module")
def stack(backing: harness.Backing, database: str) -> Iterator[harness.Stack]:
    stack = harness.start_stack(backing, database, workers=1, sweep_every=2)
    try:
        yield stack
    finally:
        stack.group.stop()


@pytest.fixture(scope="session")
def long_clip(clips: Path) -> Path:
    return footage.clip("rocket", clips / "rocket-90s.mp4", seconds=90, size="1280x720")


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def test_killed_worker_job_is_finished_once_by_another(
    stack: harness.Stack, accounts: Accounts, long_clip: Path
) -> None:
    worker = next(p for p in stack.group.procs if p.name == "worker-0")
    submission_id = upload_claim(stack, accounts.unit_token, long_clip)

    def processing() -> Media | None:
        with session_factory(stack.database_url)() as session:
            media = session.scalar(select(Media).where(Media.submission_id == submission_id))
        return media if media is not None and media.status == "processing" else None

    media = harness.wait_until(processing, timeout=60, interval=0.02, what="job started")
    # As a machine crash would: the worker and its work-horse (RQ forks it into a session of
    # its own, so the process group alone would miss it), mid-job.
    for pid in [worker.popen.pid, *children_of(worker.popen.pid)]:
        os.kill(pid, signal.SIGKILL)
    worker.popen.wait()
    killed_at = time.monotonic()
    with session_factory(stack.database_url)() as session:
        assert session.get_one(Media, media.id).status == "processing"  # it died mid-job

    stack.group.start("worker-1", servers.mvq_argv("worker"), env=stack.env,
                      log_dir=stack.logs, cwd=harness.ROOT)  # fmt: skip

    def processed() -> bool:
        with session_factory(stack.database_url)() as session:
            return session.get_one(Media, media.id).status == "processed"

    harness.wait_until(processed, timeout=120, interval=0.5, what="media processed again")
    recovered_in = time.monotonic() - killed_at
    assert recovered_in < 75, f"took {recovered_in:.0f} s"
    with session_factory(stack.database_url)() as session:
        final = session.get_one(Media, media.id)
        frames = session.scalar(select(func.count()).select_from(Frame).where(
            Frame.media_id == media.id))  # fmt: skip
        processed_events = session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.object_id == media.id, AuditEvent.action == "media.processed"))  # fmt: skip
    assert frames == 90 and processed_events == 1
    assert final.attempts == 2
