"""Appeals end to end through the API, on both databases: a unit appeals a rejection once and in
time; seniors outside the case uphold it (an award, or a wait for a second senior) or deny it;
the unit sees the outcome; every step is in the audit log."""

import io
import json
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from mvq.audit.models import AuditEvent
from mvq.auth import service as auth
from mvq.auth.models import Role
from mvq.auth.principal import Principal
from mvq.db import session_factory, utcnow
from mvq.errors import Conflict
from mvq.flows import intake
from mvq.review import appeals
from mvq.review.models import Appeal, ItemState, ReviewItem
from mvq.submissions.models import Submission, SubmissionStatus
from testkit import harness
from testkit.claims import sha256_of
from testkit.people import Accounts, make_staff
from tests.helpers import run_threads


def error_code(response: httpx.Response) -> str:
    return str(response.json()["error"]["code"])


def senior_token(*, unit_id: str | None = None) -> str:
    with session_factory()() as session:
        return make_staff(session, Role.senior, unit_id=unit_id)


def staff_id(token: str) -> str:
    with session_factory()() as session:
        return auth.resolve_token(session, token=token, now=utcnow()).id


def decided(stack: harness.Stack, unit_id: str, token: str, decision: str, *,
            target: str = "tank") -> str:  # fmt: skip
    """A claim of `unit_id` decided over the API by the staff member holding `token`; the rest
    of the queue is set aside first, so theirs is the item they lease."""
    with session_factory()() as session:
        session.query(ReviewItem).filter(
            ReviewItem.state.in_(["pending", "leased", "escalated"])
        ).update({"state": ItemState.decided}, synchronize_session=False)
        submission = Submission(unit_id=unit_id, status=SubmissionStatus.in_queue,
                                target_type=target, outcome="destroyed",
                                occurred_at=datetime.now(UTC) - timedelta(hours=2))  # fmt: skip
        session.add(submission)
        session.flush()
        intake.queue_for_review(session, submission=submission)
        session.commit()
    with stack.client(token) as api:
        lease = api.post("/api/v1/review/claim")
        assert lease.status_code == 200, lease.text
        assert lease.json()["submission_id"] == submission.id
        body = {"lease_token": lease.json()["lease_token"], "decision": decision}
        if decision == "reject":
            body |= {"reason_code": "not_visible", "comment": "nothing burns"}
        done = api.post(f"/api/v1/review/{lease.json()['item_id']}/decision", json=body)
        assert done.status_code == 200, done.text
        assert done.json()["status"] == ("rejected" if decision == "reject" else "approved")
    return submission.id


def appealed(
    stack: harness.Stack, accounts: Accounts, rejecter: str, **kwargs: str
) -> tuple[str, str]:
    """(claim id, appeal id) of a rejected claim of the accounts' unit, appealed."""
    claim = decided(stack, accounts.unit_id, rejecter, "reject", **kwargs)
    with stack.client(accounts.unit_token) as unit:
        filed = unit.post(f"/api/v1/submissions/{claim}/appeal",
                          json={"reason": "The second clip shows the turret off."})  # fmt: skip
        assert filed.status_code == 201, filed.text
    return claim, str(filed.json()["id"])


def verdict(api: httpx.Client, appeal_id: str, **body: str) -> httpx.Response:
    return api.post(f"/api/v1/appeals/{appeal_id}/decision", json=body)


def claim_json(stack: harness.Stack, token: str, claim: str) -> dict:  # type: ignore[type-arg]
    with stack.client(token) as api:
        found = api.get(f"/api/v1/submissions/{claim}")
        assert found.status_code == 200, found.text
        return found.json()  # type: ignore[no-any-return]


def audit_actions(object_id: str) -> list[str]:
    with session_factory()() as session:
        return list(session.scalars(select(AuditEvent.action).where(
            AuditEvent.object_id == object_id).order_by(AuditEvent.seq)))  # fmt: skip


def test_a_unit_appeals_its_rejected_claim_once(stack: harness.Stack, accounts: Accounts) -> None:
    rejecter = accounts.staff_tokens["reviewer"]
    claim = decided(stack, accounts.unit_id, rejecter, "reject")
    assert claim_json(stack, accounts.unit_token, claim)["appeal"] is None
    url = f"/api/v1/submissions/{claim}/appeal"
    with stack.client(accounts.other_unit_token) as other:
        assert other.post(url, json={"reason": "ours"}).status_code == 404
    with stack.client(accounts.staff_tokens["senior"]) as staff:
        assert staff.post(url, json={"reason": "for them"}).status_code == 403
    with stack.client(accounts.unit_token) as unit:
        blank = unit.post(url, json={"reason": "   "})
        assert blank.status_code == 422 and error_code(blank) == "bad_reason"
        filed = unit.post(url, json={"reason": "  Look at the second minute.  "})
        assert filed.status_code == 201, filed.text
        assert filed.json()["status"] == "pending"
        again = unit.post(url, json={"reason": "Please."})
        assert again.status_code == 409 and error_code(again) == "appeal_exists"
    shown = claim_json(stack, accounts.unit_token, claim)
    assert shown["status"] == "rejected"
    assert shown["appeal"] == {"status": "pending", "reason": "Look at the second minute.",
                               "decided_at": None, "outcome": None}  # fmt: skip
    assert audit_actions(filed.json()["id"]) == ["appeal.filed"]

    approved = decided(stack, accounts.unit_id, rejecter, "approve")
    with stack.client(accounts.unit_token) as unit:
        refused = unit.post(f"/api/v1/submissions/{approved}/appeal", json={"reason": "more!"})
    assert refused.status_code == 409 and error_code(refused) == "not_rejected"


def test_the_window_closes_a_set_time_after_the_rejection(
    stack: harness.Stack, accounts: Accounts
) -> None:
    claim = decided(stack, accounts.unit_id, accounts.staff_tokens["reviewer"], "reject")
    unit = Principal(kind="unit", id=accounts.unit_id, unit_id=accounts.unit_id)
    with session_factory()() as session:
        # The rejection was just now: fourteen days and a minute on, the window is shut.
        late = utcnow() + timedelta(days=14, minutes=1)
        with pytest.raises(Conflict) as info:
            appeals.file(session, unit=unit, submission_id=claim, reason="late", now=late)
        assert info.value.code == "appeal_window_closed"
        assert "closed at" in info.value.message and "14 days" in info.value.message
        session.rollback()
        in_time = utcnow() + timedelta(days=13, hours=23)
        appeals.file(session, unit=unit, submission_id=claim, reason="just in time", now=in_time)
        session.commit()


def test_seniors_in_the_case_may_not_decide_it(stack: harness.Stack, accounts: Accounts) -> None:
    rejecter = senior_token()
    claim, appeal_id = appealed(stack, accounts, rejecter)
    linked = senior_token(unit_id=accounts.unit_id)
    url = f"/api/v1/appeals/{appeal_id}/decision"
    uphold = {"decision": "uphold", "reason": "fine by me"}
    with stack.client(rejecter) as api:
        listed = {a["id"]: a for a in api.get("/api/v1/appeals").json()}
        assert listed[appeal_id]["eligible"] is False
        assert listed[appeal_id]["ineligible_reason"] == "you took part in the original decision"
        assert listed[appeal_id]["original_decision"]["reason_code"] == "not_visible"
        refused = api.post(url, json=uphold)
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["message"] == "you took part in the original decision"
    with stack.client(linked) as api:
        listed_for_linked = api.get("/api/v1/appeals")
        assert listed_for_linked.status_code == 200
        assert appeal_id not in [a["id"] for a in listed_for_linked.json()]
        assert api.post(url, json=uphold).status_code == 404
    with stack.client(accounts.staff_tokens["reviewer"]) as api:
        assert api.get("/api/v1/appeals").status_code == 403
        assert api.post(url, json=uphold).status_code == 403
    assert claim_json(stack, accounts.unit_token, claim)["appeal"]["status"] == "pending"


def test_an_upheld_appeal_scores_what_the_rules_say(
    stack: harness.Stack, accounts: Accounts
) -> None:
    claim, appeal_id = appealed(stack, accounts, accounts.staff_tokens["reviewer"])
    senior = senior_token()
    with stack.client(senior) as api:
        pending = {a["id"]: a for a in api.get("/api/v1/appeals").json()}
        assert pending[appeal_id]["eligible"] is True
        assert pending[appeal_id]["submission_id"] == claim
        assert pending[appeal_id]["unit_id"] == accounts.unit_id
        blank = verdict(api, appeal_id, decision="uphold", reason=" ")
        assert blank.status_code == 422 and error_code(blank) == "bad_reason"
        # Upheld as damaged rather than destroyed: the tank is worth 20, not 40.
        done = verdict(api, appeal_id, decision="uphold", reason="The turret is intact.",
                       outcome="damaged")  # fmt: skip
        assert done.status_code == 200, done.text
        assert done.json()["status"] == "upheld" and done.json()["claim_status"] == "approved"
        assert done.json()["points"] == 20
        again = verdict(api, appeal_id, decision="deny", reason="changed my mind")
        assert again.status_code == 409 and error_code(again) == "appeal_decided"
        assert appeal_id not in [a["id"] for a in api.get("/api/v1/appeals").json()]
    shown = claim_json(stack, accounts.unit_token, claim)
    assert shown["status"] == "approved" and shown["points"] == 20
    assert shown["decision"]["outcome"] == "damaged"
    appeal = shown["appeal"]
    assert appeal["status"] == "upheld" and appeal["outcome"] == "The turret is intact."
    assert datetime.fromisoformat(appeal["decided_at"]) <= datetime.now(UTC)
    assert audit_actions(appeal_id) == ["appeal.filed", "appeal.upheld"]


def test_an_upheld_appeal_worth_four_eyes_waits_for_a_second_senior(
    stack: harness.Stack, accounts: Accounts
) -> None:
    rejecter = senior_token()
    claim, appeal_id = appealed(stack, accounts, rejecter, target="mlrs")  # 50 points: four-eyes
    first, second = senior_token(), senior_token()
    with stack.client(first) as api:
        done = verdict(api, appeal_id, decision="uphold", reason="Launcher burning at 0:12.")
        assert done.status_code == 200, done.text
        assert done.json()["claim_status"] == "escalated" and not done.json()["points"]
        # The first senior never gives the second approval...
        assert api.post("/api/v1/review/claim").status_code == 204
    with stack.client(rejecter) as api:
        # ...nor does the senior whose rejection was appealed: they took part in it.
        assert api.post("/api/v1/review/claim").status_code == 204
    shown = claim_json(stack, accounts.unit_token, claim)
    assert shown["status"] == "escalated" and shown["points"] is None
    assert shown["appeal"]["status"] == "upheld"
    with stack.client(second) as api:
        lease = api.post("/api/v1/review/claim")
        assert lease.status_code == 200 and lease.json()["submission_id"] == claim
        approve = api.post(f"/api/v1/review/{lease.json()['item_id']}/decision",
                           json={"lease_token": lease.json()["lease_token"],
                                 "decision": "approve"})  # fmt: skip
        assert approve.status_code == 200, approve.text
    shown = claim_json(stack, accounts.unit_token, claim)
    assert shown["status"] == "approved" and shown["points"] == 50


def test_a_denied_appeal_leaves_the_claim_rejected_with_the_reason_shown(
    stack: harness.Stack, accounts: Accounts
) -> None:
    claim, appeal_id = appealed(stack, accounts, accounts.staff_tokens["reviewer"])
    with stack.client(senior_token()) as api:
        done = verdict(api, appeal_id, decision="deny", reason="Smoke, no vehicle in frame.")
        assert done.status_code == 200, done.text
        assert done.json()["status"] == "denied" and done.json()["claim_status"] == "rejected"
    shown = claim_json(stack, accounts.unit_token, claim)
    assert shown["status"] == "rejected" and shown["points"] is None
    assert shown["appeal"]["status"] == "denied"
    assert shown["appeal"]["outcome"] == "Smoke, no vehicle in frame."
    assert shown["appeal"]["decided_at"] is not None
    assert audit_actions(appeal_id) == ["appeal.filed", "appeal.denied"]
    env = {**stack.env, "MVQ_URL": stack.url, "MVQ_TOKEN": accounts.unit_token}
    status = harness.run_cli(["status", claim], env)
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["appeal"] == shown["appeal"]


def test_two_seniors_racing_decide_an_appeal_once(stack: harness.Stack, accounts: Accounts) -> None:
    claim, appeal_id = appealed(stack, accounts, accounts.staff_tokens["reviewer"])
    answers: list[int] = []

    def decide(token: str, decision: str) -> None:
        with stack.client(token) as api:
            answers.append(verdict(api, appeal_id, decision=decision, reason="race").status_code)

    run_threads([lambda: decide(senior_token(), "uphold"), lambda: decide(senior_token(), "deny")])
    assert sorted(answers) == [200, 409]
    with session_factory()() as session:
        appeal = session.get_one(Appeal, appeal_id)
        overturns = session.scalar(
            text("SELECT count(*) FROM decisions WHERE submission_id = :s AND stage = 'overturn'"),
            {"s": claim},
        )
    assert overturns == (1 if appeal.status == "upheld" else 0)


def test_a_pending_appeal_takes_a_new_file_and_the_claim_stays_rejected(
    stack: harness.Stack, accounts: Accounts, tank_clip: Path
) -> None:
    file = {"filename": tank_clip.name, "size": tank_clip.stat().st_size,
            "sha256": sha256_of(tank_clip), "content_type": "video/mp4"}  # fmt: skip
    bare = decided(stack, accounts.unit_id, accounts.staff_tokens["reviewer"], "reject")
    claim, appeal_id = appealed(stack, accounts, accounts.staff_tokens["reviewer"])
    with stack.client(accounts.unit_token) as unit:
        refused = unit.post(f"/api/v1/submissions/{bare}/media", json=file)
        assert refused.status_code == 409 and error_code(refused) == "bad_state"
        plan = unit.post(f"/api/v1/submissions/{claim}/media", json=file)
        assert plan.status_code == 201, plan.text
        put = httpx.put(plan.json()["upload"]["urls"][0], content=tank_clip.read_bytes(),
                        headers=plan.json()["upload"]["headers"])  # fmt: skip
        assert put.status_code == 200, put.text
        done = unit.post(f"/api/v1/media/{plan.json()['media_id']}/complete", json={})
        assert done.status_code == 202, done.text

    def processed() -> dict | None:  # type: ignore[type-arg]
        body = claim_json(stack, accounts.unit_token, claim)
        return body if body["media"] and body["media"][0]["status"] == "processed" else None

    shown = harness.wait_until(processed, timeout=90, what="the appeal's file processed")
    assert shown["status"] == "rejected" and shown["appeal"]["status"] == "pending"
    with stack.client(senior_token()) as api:
        listed = {a["id"]: a for a in api.get("/api/v1/appeals").json()}
    assert listed[appeal_id]["files_added"] == 1


def test_an_appeal_is_decided_once_and_never_deleted_whoever_asks(
    stack: harness.Stack, accounts: Accounts
) -> None:
    _, appeal_id = appealed(stack, accounts, accounts.staff_tokens["reviewer"])
    for statement in (
        "UPDATE appeals SET reason = 'something else' WHERE id = :id",
        "UPDATE appeals SET status = 'upheld' WHERE id = :id",
        "DELETE FROM appeals WHERE id = :id",
    ):
        with session_factory()() as session, pytest.raises(DBAPIError):
            session.execute(text(statement), {"id": appeal_id})
            session.commit()
    with session_factory()() as session:
        assert session.get_one(Appeal, appeal_id).reason == "The second clip shows the turret off."


def test_the_evidence_bundle_of_an_appealed_claim_holds_the_appeal(
    stack: harness.Stack, accounts: Accounts
) -> None:
    """The bundle's custody covers what an auditor's search by claim covers: the appeal too."""
    claim, appeal_id = appealed(stack, accounts, accounts.staff_tokens["reviewer"])
    with stack.client(accounts.staff_tokens["auditor"]) as api:
        answer = api.get(f"/api/v1/submissions/{claim}/evidence")
    assert answer.status_code == 200, answer.text
    lines = zipfile.ZipFile(io.BytesIO(answer.content)).read("custody.jsonl").splitlines()
    custody = [json.loads(line) for line in lines]
    assert {"object_id": appeal_id, "action": "appeal.filed"} in [
        {"object_id": e["object_id"], "action": e["action"]} for e in custody
    ]
    assert "review.reject" in [e["action"] for e in custody]
