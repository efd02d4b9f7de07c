"""A footage view is recorded by the item page's POST (with the session's CSRF token) when
the footage is shown, never by the page's GET: a link or an <img> on another site writes no
audit event in a reviewer's name."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from mvq.audit.models import AuditEvent
from mvq.auth.models import Role
from mvq.db import session_factory, utcnow
from mvq.flows import intake
from mvq.submissions.models import Submission, SubmissionStatus
from testkit import harness
from testkit.people import Accounts, Browserless, make_login, web_login

HTML = {"Accept": "text/html"}


@pytest.fixture(scope="module")
def reviewer(stack: harness.Stack) -> Browserless:
    return web_login(stack, *make_login(Role.reviewer))


def queued_item(unit_id: str) -> tuple[str, str]:
    with session_factory()() as session:
        submission = Submission(unit_id=unit_id, status=SubmissionStatus.in_queue,
                                target_type="tank", outcome="destroyed",
                                occurred_at=utcnow() - timedelta(hours=1))  # fmt: skip
        session.add(submission)
        session.flush()
        item = intake.queue_for_review(session, submission=submission)
        session.commit()
        return item.id, submission.id


def views_of(submission_id: str) -> int:
    with session_factory()() as session:
        viewed = AuditEvent.action == "media.viewed", AuditEvent.object_id == submission_id
        return int(session.scalar(select(func.count()).select_from(AuditEvent).where(*viewed)) or 0)


def test_the_item_page_get_records_nothing(accounts: Accounts, reviewer: Browserless) -> None:
    item_id, submission_id = queued_item(accounts.unit_id)
    page = reviewer.client.get(f"/review/{item_id}", headers=HTML)
    assert page.status_code == 200
    assert views_of(submission_id) == 0


def test_the_page_posts_the_view_with_its_csrf_token(
    accounts: Accounts, reviewer: Browserless
) -> None:
    item_id, submission_id = queued_item(accounts.unit_id)
    page = reviewer.client.get(f"/review/{item_id}", headers=HTML)
    url = f"/review/{item_id}/viewed"
    assert f'data-viewed-url="{url}"' in page.text
    before = views_of(submission_id)
    assert reviewer.client.post(url).status_code == 403  # no CSRF token: another site's form
    assert views_of(submission_id) == before
    answer = reviewer.client.post(url, headers={"X-CSRF-Token": reviewer.csrf})
    assert answer.status_code == 204, answer.text
    assert views_of(submission_id) == before + 1
    with session_factory()() as session:
        event = session.scalars(select(AuditEvent).where(
            AuditEvent.action == "media.viewed", AuditEvent.object_id == submission_id
        ).order_by(AuditEvent.seq.desc())).first()  # fmt: skip
        assert event is not None and event.data["review_item_id"] == item_id


def test_a_view_of_a_claim_one_may_not_see_is_refused(
    stack: harness.Stack, accounts: Accounts
) -> None:
    # Staff linked to the unit never see its claims: nor may they record a view of one.
    linked = web_login(stack, *make_login(Role.reviewer, unit_id=accounts.unit_id))
    item_id, submission_id = queued_item(accounts.unit_id)
    answer = linked.client.post(f"/review/{item_id}/viewed", headers={"X-CSRF-Token": linked.csrf})
    assert answer.status_code == 404
    assert views_of(submission_id) == 0
