"""Issue 32, bulk actions: a senior ticks many queue items and escalates, reassigns, releases
or rejects them with one reason. Each item is its own decision (row and audit event) through
the single-item path, four-eyes holds for each, a partial failure names the items and why, and
anyone but a senior is refused."""

import re
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from mvq.audit.models import AuditEvent
from mvq.auth import service as auth
from mvq.auth.models import Role
from mvq.auth.principal import Principal
from mvq.db import session_factory, utcnow
from mvq.flows import decisions
from mvq.review import leases
from mvq.review.models import Decision, ReviewItem
from mvq.submissions.models import Submission
from testkit import harness
from testkit.people import Accounts, make_login, make_unit, web_login
from tests.contested import HIT, claim, decide, dispute_of, paid
from tests.helpers import queued_item


def staff(role: Role) -> tuple[Principal, str]:
    """A member of staff at the service level and their API token."""
    with session_factory()() as session:
        user, _ = auth.create_user(session, email=f"b{uuid.uuid4().hex[:10]}@bulk.mvq",
                                   role=role, unit_id=None, actor="test")  # fmt: skip
        token = auth.issue_staff_token(session, user=user, now=utcnow(), second_factor=True)
        session.commit()
    return Principal(kind="staff", id=user.id, role=role), token


def items(unit_id: str, count: int, target: str = "tank") -> list[str]:
    with session_factory()() as session:
        return [queued_item(session, unit_id, target).id for _ in range(count)]


def hold(who: Principal, item_id: str) -> str:
    with session_factory()() as session:
        item, _ = leases.claim_item(session, reviewer=who, item_id=item_id,
                                    now=datetime.now(UTC), lease_seconds=600)  # fmt: skip
        session.commit()
        assert item.lease_token
        return item.lease_token


def approve(who: Principal, item_id: str) -> None:
    token = hold(who, item_id)
    with session_factory()() as session:
        decisions.decide(session, reviewer=who, item_id=item_id, lease_token=token,
                         decision="approve", target_type=None, outcome=None, reason_code=None,
                         comment=None, now=datetime.now(UTC))  # fmt: skip
        session.commit()


def state(item_id: str) -> tuple[str, str, str | None]:
    """(the claim's status, the item's state, who holds it)"""
    with session_factory()() as session:
        item = session.get_one(ReviewItem, item_id)
        return session.get_one(Submission, item.submission_id).status, item.state, item.leased_by


def test_bulk_rejection_records_each_decision_and_names_each_failure(
    stack: harness.Stack, accounts: Accounts
) -> None:
    senior, token = staff(Role.senior)
    other, _ = staff(Role.reviewer)
    fine = items(accounts.unit_id, 3)
    decided, held = items(accounts.unit_id, 2)
    approve(other, decided)
    hold(other, held)
    with stack.client(token) as api:
        answer = api.post("/api/v1/review/bulk", json={
            "item_ids": [*fine, decided, held, "no-such-item"], "action": "reject",
            "reason_code": "not_visible", "comment": "batch: blank footage"})  # fmt: skip
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["done"], body["failed"]) == (3, 3)
    by_id = {i["item_id"]: i for i in body["items"]}
    assert all(by_id[i]["ok"] and by_id[i]["status"] == "rejected" for i in fine)
    assert by_id[decided]["error"]["code"] == "already_decided"
    assert by_id[held]["error"]["code"] == "held_by_other"
    assert by_id["no-such-item"]["error"]["code"] == "not_found"
    with session_factory()() as session:
        for item_id in fine:
            record = session.get_one(Decision, by_id[item_id]["decision_id"])
            assert (record.decision, record.reason_code, record.reviewer_id) == (
                "reject",
                "not_visible",
                senior.id,
            )
            assert record.comment == "batch: blank footage"
            event = session.scalars(
                select(AuditEvent).where(AuditEvent.object_id == record.id)
            ).one()
            assert event.action == "review.reject" and event.actor == f"staff:{senior.id}"
    # The failed ones are untouched: still decided by the other reviewer, still held by them.
    assert state(decided)[0] == "approved"
    assert state(held)[1:] == ("leased", other.id)


def test_four_eyes_holds_for_each_item_of_a_batch(stack: harness.Stack, accounts: Accounts) -> None:
    senior, token = staff(Role.senior)
    reviewer, _ = staff(Role.reviewer)
    # Worth 50 points: each needs two approvals. One approved first by a reviewer, one by the
    # senior who now acts in bulk.
    theirs, mine = items(accounts.unit_id, 2, target="mlrs")
    approve(reviewer, theirs)
    approve(senior, mine)
    with stack.client(token) as api:
        batch = {"item_ids": [theirs, mine], "action": "reject", "reason_code": "wrong_target"}
        answer = api.post("/api/v1/review/bulk", json=batch)
    by_id = {i["item_id"]: i for i in answer.json()["items"]}
    # A second look that disagrees with the first approval sends it to the seniors, as it
    # would one at a time; the senior's own first approval may not be judged by them again.
    assert by_id[theirs]["ok"] and by_id[theirs]["status"] == "escalated"
    assert by_id[mine]["error"]["code"] == "four_eyes"
    assert state(mine)[0] == "in_queue"


def test_escalate_release_and_reassign(stack: harness.Stack, accounts: Accounts) -> None:
    senior, token = staff(Role.senior)
    holder, _ = staff(Role.reviewer)
    target, target_token = staff(Role.reviewer)
    up, freed, handed = items(accounts.unit_id, 3)
    hold(holder, freed)
    hold(holder, handed)
    with stack.client(token) as api:
        batch = {"item_ids": [up], "action": "escalate", "comment": "policy question"}
        escalated = api.post("/api/v1/review/bulk", json=batch)
        released = api.post("/api/v1/review/bulk", json={"item_ids": [freed, up],
                                                          "action": "release"})  # fmt: skip
        reassigned = api.post("/api/v1/review/bulk", json={
            "item_ids": [handed], "action": "reassign", "assignee_id": target.id})  # fmt: skip
        unknown = api.post("/api/v1/review/bulk", json={
            "item_ids": [handed], "action": "reassign", "assignee_id": "nobody"})  # fmt: skip
    assert escalated.json()["done"] == 1 and state(up)[:2] == ("escalated", "escalated")
    assert [i["ok"] for i in released.json()["items"]] == [True, False]
    assert released.json()["items"][1]["error"]["code"] == "not_leased"
    assert state(freed) == ("in_queue", "pending", None)
    assert reassigned.json()["done"] == 1 and state(handed)[1:] == ("leased", target.id)
    assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "bad_assignee"
    with session_factory()() as session:
        actions = {e.object_id: e for e in session.scalars(
            select(AuditEvent).where(AuditEvent.object_id.in_([freed, handed]),
                                     AuditEvent.actor == f"staff:{senior.id}"))}  # fmt: skip
        assert actions[freed].action == "review.released"
        assert actions[freed].data["holder"] == holder.id
        assert actions[handed].action == "review.reassigned"
        assert actions[handed].data["to"] == target.id
    # The reviewer it was handed to gets it first when they ask for their next item.
    with stack.client(target_token) as api:
        assert api.post("/api/v1/review/claim").json()["item_id"] == handed


def test_only_seniors_act_in_bulk(stack: harness.Stack, accounts: Accounts) -> None:
    (item,) = items(accounts.unit_id, 1)
    for role in (Role.reviewer, Role.admin, Role.auditor):
        _, token = staff(role)
        with stack.client(token) as api:
            refused = api.post("/api/v1/review/bulk",
                               json={"item_ids": [item], "action": "escalate"})  # fmt: skip
        assert refused.status_code == 403, (role, refused.text)
    web = web_login(stack, *make_login(Role.reviewer))
    form = {"action": "escalate", "item_id": item, "csrf_token": web.csrf}
    page = web.client.post("/review/bulk", headers={"Accept": "text/html"}, data=form)
    assert page.status_code == 403
    assert 'id="bulk-form"' not in web.client.get("/review", headers={"Accept": "text/html"}).text
    assert state(item)[0] == "in_queue"


def test_the_queue_page_form_lists_failures_in_words(
    stack: harness.Stack, accounts: Accounts
) -> None:
    fine, held = items(accounts.unit_id, 2)
    holder, _ = staff(Role.reviewer)
    hold(holder, held)
    web = web_login(stack, *make_login(Role.senior))
    queue = web.client.get("/review", headers={"Accept": "text/html"}).text
    assert 'id="bulk-form"' in queue and 'form="bulk-form"' in queue
    form = {"action": "reject", "reason_code": "duplicate", "item_id": [fine, held],
            "csrf_token": web.csrf}  # fmt: skip
    page = web.client.post("/review/bulk", headers={"Accept": "text/html"}, data=form)
    assert page.status_code == 200, page.text
    summary = re.search(r'id="bulk-summary">(.*?)</p>', page.text, re.S)
    assert summary and "1 item done" in summary[1] and "1 not done" in summary[1]
    failures = re.search(r'id="bulk-failures">(.*?)</ul>', page.text, re.S)
    assert failures and held in failures[1] and fine not in failures[1]
    assert "someone else holds it; release it first" in failures[1]
    assert state(fine)[0] == "rejected"
    # No reason for a rejection: nothing done, and the page says why.
    again = web.client.post("/review/bulk", headers={"Accept": "text/html"}, data={
        "action": "reject", "item_id": held, "csrf_token": web.csrf})  # fmt: skip
    assert again.status_code == 422 and 'id="bulk-problem"' in again.text


def test_a_bulk_rejection_settles_a_dispute_as_a_single_one_would(
    stack: harness.Stack, accounts: Accounts
) -> None:
    """Two units claim one strike: the first is approved and its award held while the second is
    contested. Rejecting the second in a batch leaves one claim standing, which is then paid."""
    _, token = staff(Role.senior)
    first_reviewer, _ = staff(Role.reviewer)
    with session_factory()() as session:
        unit_a, unit_b = make_unit(session)[0], make_unit(session)[0]
        a = claim(session, unit_a, lat=45.2, lon=34.4)
        b = claim(session, unit_b, at=HIT + timedelta(minutes=4), lat=45.201, lon=34.4)
        assert {c.submission.id for c in dispute_of(session, b.id).members} == {a.id, b.id}
        decide(session, first_reviewer, a.id, "approve")
        assert paid(session, a.id) == 0  # held while b is contested
        b_item = session.scalars(
            select(ReviewItem.id).where(ReviewItem.submission_id == b.id)
        ).one()
    with stack.client(token) as api:
        batch = {"item_ids": [b_item], "action": "reject", "reason_code": "duplicate"}
        assert api.post("/api/v1/review/bulk", json=batch).json()["done"] == 1
    with session_factory()() as session:
        assert paid(session, a.id) == 40
        assert dispute_of(session, a.id).dispute.status == "settled"
