"""Warnings before the mistake, enforced by the server: a verdict before the footage was shown
or sooner than its floor is refused without the explicit override (the API and the form), each
warning and override is a row and an audit event, and a long stretch without a break is
suggested once. `warnings.summary` counts them per reviewer.

The stack here runs with the warnings on (the test harness turns them off for everything
else) and a floor of 1 s for a claim without footage, so "waiting out the floor" is short."""

import re
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from mvq.audit.models import AuditEvent
from mvq.auth.models import Role, StaffUser
from mvq.db import session_factory, utcnow
from mvq.media.models import Media, MediaStatus
from mvq.review import warnings
from mvq.review.models import Decision, ReviewItem, ReviewWarning
from testkit import harness
from testkit.people import Accounts, make_login, web_login
from tests.helpers import queued_item

ON = {"MVQ_FAST_DECISION_WARNINGS": "true", "MVQ_DECISION_FLOOR_MIN_SECONDS": "1"}


@pytest.fixture(scope="module")
def warned(backing: harness.Backing, database: str) -> Iterator[harness.Stack]:
    stack = harness.start_stack(backing, database, extra_env=ON)
    try:
        yield stack
    finally:
        stack.group.stop()


def _with_footage(item: ReviewItem, seconds: float) -> None:
    with session_factory()() as session:
        session.add(Media(submission_id=item.submission_id, status=MediaStatus.processed,
                          filename="clip.mp4", content_type="video/mp4", declared_size=1,
                          declared_sha256="0" * 64, s3_key=f"test/{uuid.uuid4()}",
                          duration_seconds=seconds))  # fmt: skip
        session.commit()


def _rows(reviewer_id: str) -> list[ReviewWarning]:
    with session_factory()() as session:
        return list(session.scalars(select(ReviewWarning)
                                    .where(ReviewWarning.reviewer_id == reviewer_id)
                                    .order_by(ReviewWarning.created_at)))  # fmt: skip


def _events(object_ids: list[str]) -> list[str]:
    with session_factory()() as session:
        return list(session.scalars(select(AuditEvent.action)
                                    .where(AuditEvent.object_id.in_(object_ids))
                                    .order_by(AuditEvent.seq)))  # fmt: skip


def _user_id(email: str) -> str:
    with session_factory()() as session:
        found = session.scalar(select(StaffUser.id).where(StaffUser.email == email))
    assert found
    return found


def _summary(reviewer_id: str) -> list[warnings.WarningCounts]:
    with session_factory()() as session:
        return warnings.summary(session, reviewer_id)


def _person(stack: harness.Stack) -> tuple[str, str]:
    """(the id, an API token) of a fresh reviewer."""
    email, password = make_login(Role.reviewer)
    login = {"email": email, "password": password}
    token = stack.client().post("/api/v1/auth/token", json=login).json()["token"]
    return _user_id(email), token


def test_a_too_fast_verdict_is_refused_until_overridden(
    warned: harness.Stack, accounts: Accounts, empty_queue: None
) -> None:
    with session_factory()() as session:
        item = queued_item(session, accounts.unit_id)
    _with_footage(item, 60)  # a floor of 30 s, and footage to be shown first
    reviewer_id, token = _person(warned)
    with warned.client(token) as api:
        lease = api.post("/api/v1/review/claim").json()
        assert lease["item_id"] == item.id
        body = {"lease_token": lease["lease_token"], "decision": "approve"}
        refused = api.post(f"/api/v1/review/{item.id}/decision", json=body)
        assert refused.status_code == 409, refused.text
        error = refused.json()["error"]
        assert error["code"] == "too_fast"
        assert "never shown" in error["message"] and "floor of 30 s" in error["message"]
        again = api.post(f"/api/v1/review/{item.id}/decision", json=body)
        assert again.status_code == 409  # still held, still too fast: one warning per lease
        # Escalating is never slowed down; but first the override, the second key.
        done = api.post(f"/api/v1/review/{item.id}/decision", json={**body, "override": True})
        assert done.status_code == 200, done.text
        assert done.json()["status"] == "approved"
    shown, overridden = _rows(reviewer_id)
    assert (shown.event, shown.kind, shown.review_item_id) == ("shown", "too_fast", item.id)
    assert shown.reasons == ["not_viewed", "too_fast"] and shown.floor_seconds == 30
    assert (overridden.event, overridden.answers_id, overridden.decision) == (
        "overridden", shown.id, "approve")  # fmt: skip
    assert _events([shown.id, overridden.id]) == ["review.warning_shown",
                                                  "review.warning_overridden"]  # fmt: skip
    (counts,) = _summary(reviewer_id)
    assert (counts.kind, counts.shown, counts.overridden, counts.heeded) == ("too_fast", 1, 1, 0)


def test_waiting_out_the_floor_heeds_the_warning_and_escalating_is_never_slowed(
    warned: harness.Stack, accounts: Accounts, empty_queue: None
) -> None:
    with session_factory()() as session:
        stills = queued_item(session, accounts.unit_id)  # no footage: the 1 s minimum floor
        other = queued_item(session, accounts.unit_id)
    reviewer_id, token = _person(warned)
    with warned.client(token) as api:
        lease = api.post(f"/api/v1/review/{stills.id}/claim").json()
        body = {"lease_token": lease["lease_token"], "decision": "reject",
                "reason_code": "not_visible"}  # fmt: skip
        refused = api.post(f"/api/v1/review/{stills.id}/decision", json=body)
        assert refused.json()["error"]["code"] == "too_fast"
        assert "never shown" not in refused.json()["error"]["message"]  # nothing to show
        time.sleep(1.2)
        done = api.post(f"/api/v1/review/{stills.id}/decision", json=body)
        assert done.status_code == 200 and done.json()["status"] == "rejected", done.text
        lease = api.post(f"/api/v1/review/{other.id}/claim").json()
        escalate = {"lease_token": lease["lease_token"], "decision": "escalate"}
        up = api.post(f"/api/v1/review/{other.id}/decision", json=escalate)
        assert up.status_code == 200, up.text
    (shown,) = _rows(reviewer_id)
    assert shown.reasons == ["too_fast"]
    (counts,) = _summary(reviewer_id)
    assert (counts.shown, counts.overridden, counts.heeded) == (1, 0, 1)


def test_the_page_records_the_warning_it_showed_and_the_form_needs_the_second_key(
    warned: harness.Stack, accounts: Accounts, empty_queue: None
) -> None:
    email, password = make_login(Role.reviewer)
    web = web_login(warned, email, password)
    with session_factory()() as session:
        item = queued_item(session, accounts.unit_id)
    _with_footage(item, 20)
    claimed = web.client.post(f"/review/{item.id}/claim", data={"csrf_token": web.csrf})
    assert claimed.status_code == 303
    page = web.client.get(f"/review/{item.id}").text
    assert 'id="pace-warning"' in page and 'data-pace-floor="10.0"' in page
    with session_factory()() as session:
        token = session.get_one(ReviewItem, item.id).lease_token
    headers = {"X-CSRF-Token": web.csrf}
    for _ in range(2):  # the page may ask twice: one warning
        told = web.client.post(f"/review/{item.id}/too-fast", headers=headers,
                               json={"lease_token": token, "decision": "approve"})  # fmt: skip
        assert told.json() == {"warned": True, "reasons": ["not_viewed", "too_fast"]}
    form = {"csrf_token": web.csrf, "lease_token": token, "decision": "approve"}
    refused = web.client.post(f"/review/{item.id}/decision", data=form)
    assert refused.status_code == 303 and "too+fast" in refused.headers["location"]
    done = web.client.post(f"/review/{item.id}/decision", data={**form, "override": "1"})
    assert done.status_code == 303 and "too+fast" not in done.headers["location"]
    with session_factory()() as session:
        kinds = [(w.event, w.answers_id is not None) for w in session.scalars(
            select(ReviewWarning).where(ReviewWarning.review_item_id == item.id)
            .order_by(ReviewWarning.created_at))]  # fmt: skip
    assert kinds == [("shown", False), ("overridden", True)]
    # The calibration page shows the reviewer their own: one shown, one overridden, none heeded.
    mine = web.client.get("/qa?lang=en").text
    row = re.search(r'<table class="warned">.*?</table>', mine, re.S)
    assert row and re.search(r"<td>decided too fast</td><td>1</td><td>1</td><td>0</td>", row[0])
    assert email not in row[0]  # their own table names no reviewer


def test_a_long_stretch_without_a_break_suggests_one_once(
    warned: harness.Stack, accounts: Accounts, empty_queue: None
) -> None:
    email, password = make_login(Role.reviewer)
    web = web_login(warned, email, password)
    reviewer_id = _user_id(email)
    assert "break-hint" not in web.client.get("/review").text
    with session_factory()() as session:
        item = queued_item(session, accounts.unit_id)
        # 95 minutes of decisions, 5 minutes apart: never a pause of 10.
        for minutes in range(95, 0, -5):
            session.add(Decision(review_item_id=item.id, submission_id=item.submission_id,
                                 reviewer_id=reviewer_id, decision="escalate", target_type="tank",
                                 outcome="destroyed",
                                 created_at=utcnow() - timedelta(minutes=minutes)))  # fmt: skip
        session.commit()
    page = web.client.get("/review").text
    assert 'id="break-hint"' in page and "without a break" in page
    for _ in range(2):
        told = web.client.post("/review/break-suggested", headers={"X-CSRF-Token": web.csrf})
        assert told.status_code == 204
    (suggested,) = _rows(reviewer_id)
    assert (suggested.kind, suggested.event) == ("take_break", "shown")
    assert _events([suggested.id]) == ["review.warning_shown"]
    (counts,) = _summary(reviewer_id)
    assert (counts.kind, counts.shown, counts.heeded) == ("take_break", 1, 1)
