"""What the pages say after a decision is what happened (issue 31): an approval whose award is
held in a dispute says so, a first approval of four-eyes says it waits, an appeal upheld on a
disputed claim says its award is held, and undo is offered only where it will work: a claim
in a dispute gets no undo offer, and a refused undo leaves no offer behind."""

import re
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from mvq.auth.models import Role
from mvq.auth.principal import Principal
from mvq.db import session_factory
from mvq.review import appeals
from mvq.review.models import Decision, ReviewItem
from testkit import harness
from testkit.people import Accounts, Browserless, make_login, make_unit, web_login
from tests.contested import claim, decide
from tests.helpers import reviewer

HTML = {"Accept": "text/html"}


@pytest.fixture
def units(accounts: Accounts) -> list[str]:
    with session_factory()() as session:
        return [make_unit(session)[0] for _ in range(2)]


def _item(submission_id: str) -> str:
    with session_factory()() as session:
        found = session.scalar(
            select(ReviewItem.id).where(ReviewItem.submission_id == submission_id)
        )
    assert found is not None
    return found


def _decide_on_the_page(web: Browserless, submission_id: str, decision: str) -> str:
    """Claims the item on its page, decides it there, and returns the message the page gets
    (the reviewer lands on the queue: the auto-next preference is off)."""
    item = _item(submission_id)
    web.client.cookies.set("mvq_auto_next", "0")
    claimed = web.client.post(f"/review/{item}/claim", data={"csrf_token": web.csrf})
    assert claimed.status_code == 303, claimed.text
    page = web.client.get(f"/review/{item}", headers=HTML)
    token = re.search(r'name="lease_token" value="([^"]+)"', page.text)
    assert token, page.text
    done = web.client.post(f"/review/{item}/decision",
                           data={"csrf_token": web.csrf, "lease_token": token[1],
                                 "decision": decision, "comment": "seen"})  # fmt: skip
    assert done.status_code == 303, done.text
    return parse_qs(urlsplit(done.headers["location"]).query)["message"][0]


def _last_decision(submission_id: str) -> str:
    with session_factory()() as session:
        found = session.scalar(
            select(Decision.id)
            .where(Decision.submission_id == submission_id)
            .order_by(Decision.created_at.desc())
            .limit(1)
        )
    assert found is not None
    return found


def test_an_approval_held_in_a_dispute_says_so_and_offers_no_undo(
    stack: harness.Stack, units: list[str], empty_queue: None
) -> None:
    crew = reviewer()
    with session_factory()() as session:
        first = claim(session, units[0])
        decide(session, crew, first.id, "approve")
        copy = claim(session, units[1], copies=[first.id])  # another unit's copy: a dispute
    web = web_login(stack, *make_login(Role.reviewer))
    told = _decide_on_the_page(web, copy.id, "approve")
    assert "held" in told and "dispute" in told, told
    assert "awarded" not in told
    queue = web.client.get("/review", headers=HTML)
    assert 'id="undo-form"' not in queue.text  # the undo would be refused: none offered
    # An undo asked for anyway (an old tab) is refused in words, and leaves no offer.
    undo = {"csrf_token": web.csrf, "decision_id": _last_decision(copy.id)}
    refused = web.client.post("/review/undo", data=undo)
    assert refused.status_code == 303
    after = web.client.get(refused.headers["location"], headers=HTML)
    assert "can&#39;t be undone because the claim is in a dispute" in after.text
    assert 'id="undo-form"' not in after.text


def test_a_plain_approval_says_its_points_and_offers_undo(
    stack: harness.Stack, units: list[str], empty_queue: None
) -> None:
    with session_factory()() as session:
        alone = claim(session, units[0], at=datetime(2026, 1, 5, tzinfo=UTC), lat=10.0, lon=10.0)
    web = web_login(stack, *make_login(Role.reviewer))
    told = _decide_on_the_page(web, alone.id, "approve")
    assert "40 points awarded" in told, told
    queue = web.client.get("/review", headers=HTML)
    assert 'id="undo-form"' in queue.text


def test_a_first_approval_of_four_eyes_says_it_waits_for_a_second(
    stack: harness.Stack, units: list[str], empty_queue: None
) -> None:
    with session_factory()() as session:
        big = claim(session, units[0], "mlrs", lat=20.0, lon=20.0)  # 50 points: four eyes
    web = web_login(stack, *make_login(Role.reviewer))
    told = _decide_on_the_page(web, big.id, "approve")
    assert "second reviewer" in told and "awarded" not in told, told
    # Escalation and rejection say where the claim went.
    with session_factory()() as session:
        other = claim(session, units[0], lat=30.0, lon=30.0)
    told = _decide_on_the_page(web, other.id, "escalate")
    assert "senior" in told, told


def test_an_appeal_upheld_on_a_disputed_claim_says_its_award_is_held(
    stack: harness.Stack, units: list[str], empty_queue: None
) -> None:
    crew = reviewer()
    with session_factory()() as session:
        first = claim(session, units[0], lat=40.0, lon=40.0)
        decide(session, crew, first.id, "approve")
        copy = claim(session, units[1], copies=[first.id])
        decide(session, crew, copy.id, "reject")
        unit = Principal(kind="unit", id=units[1], unit_id=units[1])
        appeal = appeals.file(session, unit=unit, submission_id=copy.id,
                              reason="Ours, filmed first.", now=datetime.now(UTC))  # fmt: skip
        session.commit()
    senior = web_login(stack, *make_login(Role.senior))
    done = senior.client.post(f"/appeals/{appeal.id}/decision",
                              data={"csrf_token": senior.csrf, "decision": "uphold",
                                    "reason": "The footage is theirs."})  # fmt: skip
    assert done.status_code == 303, done.text
    page = senior.client.get(done.headers["location"], headers=HTML)
    notice = re.search(r'<p class="notice" role="status">([^<]+)</p>', page.text)
    assert notice, page.text
    assert "held" in notice[1] and "dispute" in notice[1], notice[1]
    assert "awarded" not in notice[1]


def test_a_seniors_overturn_says_what_it_did_to_the_points(
    stack: harness.Stack, units: list[str], empty_queue: None
) -> None:
    crew = reviewer()
    with session_factory()() as session:
        paid = claim(session, units[0], lat=50.0, lon=50.0)
        decide(session, crew, paid.id, "approve")
    senior = web_login(stack, *make_login(Role.senior))
    form = {"csrf_token": senior.csrf, "decision": "reject", "reason_code": "not_visible",
            "comment": "No hit."}  # fmt: skip
    done = senior.client.post(f"/review/{_item(paid.id)}/overturn", data=form)
    assert done.status_code == 303, done.text
    told = parse_qs(urlsplit(done.headers["location"]).query)["message"][0]
    assert "40 points taken back" in told, told
