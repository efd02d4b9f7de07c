"""Helpers shared by test modules: threads that must all finish, rate-limit windows, and
review items and reviewers made at the service level."""

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from mvq.auth import service as auth
from mvq.auth.models import Role
from mvq.auth.principal import Principal
from mvq.db import session_factory
from mvq.flows import intake
from mvq.review.models import ReviewItem
from mvq.submissions.models import Submission, SubmissionStatus


def run_threads(targets: list[Callable[[], None]], *, timeout: float = 120) -> None:
    """Run each target in its own thread and wait for all: a thread that raised, or that is
    still running at the timeout, fails the test (a thread's exception is otherwise only
    printed, and the test would judge half the work)."""
    errors: list[BaseException] = []
    lock = threading.Lock()

    def guarded(target: Callable[[], None]) -> None:
        try:
            target()
        except BaseException as exc:
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(t,)) for t in targets]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(timeout=max(0.0, deadline - time.monotonic()))
    assert not any(t.is_alive() for t in threads), f"threads still running after {timeout}s"
    if errors:
        raise errors[0]


def in_one_window(window_seconds: int, *, needed: float) -> float:
    """Rate limits count in fixed windows (mvq.ratelimit: epoch seconds // window) that start
    afresh at each boundary, so a burst that crossed one would see its count reset. Waits for
    the next window unless `needed` seconds are left in this one; returns the burst's start,
    for `assert_one_window` afterwards."""
    left = window_seconds - time.time() % window_seconds
    if left < needed:
        time.sleep(left + 0.05)
    return time.time()


def assert_one_window(window_seconds: int, started: float) -> None:
    """The burst since `started` stayed inside one window (else `needed` was too small)."""
    assert started // window_seconds == time.time() // window_seconds, "the burst crossed a window"


NOW = datetime.now(UTC)


def reviewer(role: Role = Role.reviewer, unit_id: str | None = None) -> Principal:

    with session_factory()() as session:
        user, _ = auth.create_user(
            session,
            email=f"r{id(object())}{datetime.now().timestamp()}@t.mvq",
            role=role,
            unit_id=unit_id,
            actor="test",
        )
        session.commit()
    return Principal(kind="staff", id=user.id, role=role, unit_id=unit_id)


def queued_item(session: Session, unit_id: str, target_type: str = "tank") -> ReviewItem:
    submission = Submission(
        unit_id=unit_id,
        status=SubmissionStatus.in_queue,
        target_type=target_type,
        outcome="destroyed",
        occurred_at=NOW - timedelta(hours=1),
    )
    session.add(submission)
    session.flush()
    item = intake.queue_for_review(session, submission=submission)
    session.commit()
    return item
