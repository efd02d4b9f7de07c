"""Four-eyes fully blind: a reviewer who is not the first approver cannot tell an item that
waits for its second approval from one that waits for its first look. Not by the queue's rows
or counts, the item page, or the JSON of the queue and the claim. Only the ids differ.

Both items are alike on purpose (same unit, target, outcome, times), so any difference left
is what the first decision leaked."""

import re
from datetime import timedelta

from sqlalchemy import update

from mvq.auth.models import Role
from mvq.db import session_factory, utcnow
from mvq.flows import decisions, intake
from mvq.review import leases
from mvq.review.models import ReviewItem
from mvq.submissions.models import Submission, SubmissionStatus
from testkit import harness
from testkit.people import Accounts, make_login, web_login
from tests.helpers import reviewer

WORTH_TWO = ("mlrs", "destroyed")  # 50 points: at or above the four-eyes threshold


def _claim(session, unit_id: str) -> Submission:  # type: ignore[no-untyped-def]
    s = Submission(unit_id=unit_id, status=SubmissionStatus.in_queue, target_type=WORTH_TWO[0],
                   outcome=WORTH_TWO[1], occurred_at=utcnow() - timedelta(hours=2))  # fmt: skip
    session.add(s)
    session.flush()
    intake.queue_for_review(session, submission=s)
    session.commit()
    return s


def _pair(unit_id: str) -> tuple[Submission, Submission]:
    """(a claim waiting for its first look, one a first reviewer approved), made alike."""
    first = reviewer()
    with session_factory()() as session:
        second_look = _claim(session, unit_id)
        leased = leases.claim_next(session, reviewer=first, now=utcnow(), lease_seconds=60)
        assert leased is not None and leased[1].id == second_look.id
        decisions.decide(session, reviewer=first, item_id=leased[0].id,
                         lease_token=leased[0].lease_token or "", decision="approve",
                         target_type=None, outcome=None, reason_code=None,
                         comment="launcher burning", now=utcnow())  # fmt: skip
        session.commit()
        first_look = _claim(session, unit_id)
        at = utcnow() - timedelta(minutes=30)
        ids = [first_look.id, second_look.id]
        session.execute(update(Submission).where(Submission.id.in_(ids))
                        .values(created_at=at, occurred_at=at - timedelta(hours=1)))  # fmt: skip
        session.execute(
            update(ReviewItem).where(ReviewItem.submission_id.in_(ids)).values(created_at=at)
        )
        session.commit()
        return first_look, second_look


def _item_id(submission_id: str) -> str:
    with session_factory()() as session:
        item = session.query(ReviewItem).filter_by(submission_id=submission_id).one()
        return item.id


def _without(text: str, *ids: str) -> str:
    """The text with the ids (and their short forms) and the clock's seconds taken out."""
    for one in ids:
        text = text.replace(one, "ID").replace(one[:8], "ID")
    text = re.sub(r"\d{4}-\d\d-\d\dT[\d:.+]+", "TIME", text)
    return re.sub(r'"waiting_seconds":\s*[\d.]+', '"waiting_seconds": 0', text)


def _row(html: str, item_id: str) -> str:
    found = re.search(rf'<tr[^>]*data-item="{item_id}".*?</tr>', html, re.S)
    assert found, html
    return found[0]


def test_a_second_look_shows_a_reviewer_nothing_of_the_first_verdict(
    stack: harness.Stack, accounts: Accounts, empty_queue: None
) -> None:
    first_look, second_look = _pair(accounts.unit_id)
    items = {s.id: _item_id(s.id) for s in (first_look, second_look)}
    email, password = make_login(Role.reviewer)
    web = web_login(stack, email, password)
    login = {"email": email, "password": password}
    token = stack.client().post("/api/v1/auth/token", json=login).json()["token"]

    def strip(text: str, s: Submission) -> str:
        return _without(text, s.id, items[s.id])

    queue_html = web.client.get("/review").text
    a, b = (strip(_row(queue_html, items[s.id]), s) for s in (first_look, second_look))
    assert a == b
    assert "second approval" not in queue_html
    pages = [strip(web.client.get(f"/review/{items[s.id]}").text, s)
             for s in (first_look, second_look)]  # fmt: skip
    assert pages[0] == pages[1]
    assert "launcher burning" not in pages[1] and "hidden until you decide" not in pages[1]

    with stack.client(token) as api:
        listing = api.get("/api/v1/review/queue").json()
        assert "awaiting_second" not in listing["counts"], listing["counts"]
        assert listing["counts"]["pending"] >= 2
        rows = {row["submission_id"]: row for row in listing["items"]}
        a, b = (strip(str(rows[s.id]), s) for s in (first_look, second_look))
        assert a == b
        claims = [strip(api.get(f"/api/v1/submissions/{s.id}").text, s)
                  for s in (first_look, second_look)]  # fmt: skip
        assert claims[0] == claims[1]


def test_four_eyes_still_holds_while_blind(
    stack: harness.Stack, accounts: Accounts, empty_queue: None
) -> None:
    """Blind, but not undone: the second approval still scores, the first approver never gets
    the item back, and a second reviewer's rejection goes to the seniors."""
    _, approved_twice = _pair(accounts.unit_id)
    second = reviewer()
    with session_factory()() as session:
        taken = leases.claim_item(session, reviewer=second, item_id=_item_id(approved_twice.id),
                                  now=utcnow(), lease_seconds=60)  # fmt: skip
        decisions.decide(session, reviewer=second, item_id=taken[0].id,
                         lease_token=taken[0].lease_token or "", decision="reject",
                         target_type=None, outcome=None, reason_code="not_visible",
                         comment=None, now=utcnow())  # fmt: skip
        session.commit()
        assert session.get_one(Submission, approved_twice.id).status == "escalated"
