"""A dispute is about every claim in it: a senior linked to one of its units neither sees it
(API or page) nor settles it, while an unlinked senior does both."""

from datetime import UTC, datetime, timedelta

from mvq.auth.models import Role
from mvq.db import session_factory
from mvq.flows import intake
from mvq.scoring.disputes import reading
from mvq.submissions.models import Submission, SubmissionStatus
from testkit import harness
from testkit.people import Accounts, make_login, make_staff, make_unit, web_login


def disputed_pair() -> tuple[str, str, str]:
    """Two units' tank claims a minute and 100 m apart: one dispute. (linked unit, dispute id,
    the linked unit's claim)"""
    hit = datetime.now(UTC) - timedelta(hours=3)
    with session_factory()() as session:
        units = [make_unit(session)[0] for _ in range(2)]
        claims = []
        for n, unit_id in enumerate(units):
            submission = Submission(unit_id=unit_id, status=SubmissionStatus.in_queue,
                                    target_type="tank", outcome="destroyed",
                                    occurred_at=hit + timedelta(minutes=n), lat=47.1,
                                    lon=37.5 + n * 0.001)  # fmt: skip
            session.add(submission)
            session.flush()
            intake.queue_for_review(session, submission=submission)
            claims.append(submission.id)
        session.commit()
        found = reading.member_of(session, submission_id=claims[0])
        assert found is not None
        return units[0], found[0].id, claims[0]


def test_a_linked_senior_neither_sees_nor_settles_the_dispute(
    stack: harness.Stack, accounts: Accounts
) -> None:
    linked_unit, dispute_id, linked_claim = disputed_pair()
    with session_factory()() as session:
        linked = make_staff(session, Role.senior, unit_id=linked_unit)
        unlinked = make_staff(session, Role.senior)
    with stack.client(unlinked) as api:
        assert dispute_id in [d["id"] for d in api.get("/api/v1/disputes").json()]
    with stack.client(linked) as api:
        listed = api.get("/api/v1/disputes")
        assert listed.status_code == 200
        assert dispute_id not in [d["id"] for d in listed.json()]
        settled = api.post(f"/api/v1/disputes/{dispute_id}/settle",
                           json={"shares": {linked_claim: 40}, "note": "mine"})  # fmt: skip
        assert settled.status_code == 404, settled.text
    page = web_login(stack, *make_login(Role.senior, unit_id=linked_unit))
    shown = page.client.get("/disputes", headers={"Accept": "text/html"})
    assert shown.status_code == 200
    assert linked_claim not in shown.text and dispute_id not in shown.text
    other = web_login(stack, *make_login(Role.senior))
    assert dispute_id in other.client.get("/disputes", headers={"Accept": "text/html"}).text
