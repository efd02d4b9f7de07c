"""Every state-changing route writes its audit event, in the same transaction as the change.

`AUDITED` holds one entry for each state-changing route of the application's table
(tests/routes.py): the event it writes, or why it writes none. A new route without an entry
fails `test_every_state_changing_route_has_an_expected_event`; the flows below call the routes
and find the event the table names."""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import func, select

from mvq.audit.models import AuditEvent
from mvq.auth.models import Role
from mvq.db import session_factory
from mvq.scoring import ledger
from mvq.scoring.models import EntryType, LedgerEntry
from testkit import harness
from testkit.claims import claim_body, sha256_of, wait_for_status
from testkit.people import Accounts, make_login, make_unit, web_login
from tests.contested import claim, decide, dispute_of
from tests.helpers import queued_item, reviewer
from tests.routes import STATE_CHANGING, route_table
from tests.source import modules


@dataclass(frozen=True)
class NotAudited:
    why: str


RENEWAL = NotAudited("a renewal changes only the lease's expiry; claim, release, expiry and "
                     "decision are the events")  # fmt: skip
PREVIEW = NotAudited("a preview computes what a draft would award and changes nothing")

AUDITED: dict[tuple[str, str], str | NotAudited] = {
    ("POST", "/api/v1/auth/token"): "user.login",
    ("POST", "/api/v1/submissions"): "submission.created",
    ("POST", "/api/v1/submissions/{submission_id}/media"): "media.registered",
    ("POST", "/api/v1/media/{media_id}/complete"): "media.uploaded",
    ("POST", "/api/v1/media/{media_id}/chunks"): NotAudited(
        "hands out short-lived URLs and lists what storage holds, changing no row; the bytes "
        "are audited when the upload completes (media.uploaded)"
    ),
    ("POST", "/api/v1/submissions/{submission_id}/appeal"): "appeal.filed",
    ("POST", "/api/v1/appeals/{appeal_id}/decision"): "appeal.denied",  # or appeal.upheld
    ("POST", "/api/v1/review/claim"): "review.leased",
    ("POST", "/api/v1/review/{item_id}/claim"): "review.leased",
    ("POST", "/api/v1/review/{item_id}/decision"): "review.approve",  # review.<decision>
    ("POST", "/api/v1/review/{item_id}/heartbeat"): RENEWAL,
    ("POST", "/api/v1/review/{item_id}/release"): "review.released",
    ("POST", "/api/v1/review/{item_id}/overturn"): "review.overturn",
    ("POST", "/api/v1/review/decisions/{decision_id}/undo"): "review.undo",
    ("POST", "/api/v1/review/{item_id}/notes"): "review.note_added",
    ("POST", "/api/v1/review/bulk"): "review.reject",  # review.<decision>, released, reassigned
    ("POST", "/api/v1/qa/golden"): "qa.golden_marked",
    ("POST", "/api/v1/qa/rereviews/{rereview_id}/ruling"): "qa.ruling",
    ("POST", "/api/v1/scoring/rules"): "rules.version_created",
    ("POST", "/api/v1/scoring/rules/{version_id}/withdraw"): "rules.version_withdrawn",
    ("POST", "/api/v1/scoring/preview"): PREVIEW,
    ("POST", "/api/v1/disputes/{dispute_id}/settle"): "dispute.settled",
    ("POST", "/api/v1/units/{unit_id}/debits"): "ledger.debit",
    ("POST", "/api/v1/units/{unit_id}/token/revoke"): "unit.tokens_revoked",
    ("POST", "/api/v1/units/{unit_id}/token/rotate"): "unit.token_rotated",
    ("POST", "/api/v1/webhooks"): "webhook.registered",
    ("DELETE", "/api/v1/webhooks/{endpoint_id}"): "webhook.disabled",
    ("POST", "/api/v1/webhooks/{endpoint_id}/replay"): "webhook.replayed",
    ("POST", "/api/v1/webhooks/{endpoint_id}/rotate"): "webhook.secret_rotated",
    ("POST", "/login"): "user.login",
    ("POST", "/login/code"): "user.login",  # the session begins after the code
    ("POST", "/login/enrol"): "user.second_factor_enrolled",
    ("POST", "/logout"): "user.logout",
    ("POST", "/account"): "user.preferences_changed",
    ("POST", "/review/claim"): "review.leased",
    ("POST", "/review/{item_id}/claim"): "review.leased",
    ("POST", "/review/{item_id}/decision"): "review.approve",  # review.<decision>
    ("POST", "/review/{item_id}/heartbeat"): RENEWAL,
    ("POST", "/review/{item_id}/viewed"): "media.viewed",
    ("POST", "/review/{item_id}/too-fast"): "review.warning_shown",
    ("POST", "/review/break-suggested"): "review.warning_shown",
    ("POST", "/review/{item_id}/release"): "review.released",
    ("POST", "/review/{item_id}/overturn"): "review.overturn",
    ("POST", "/review/undo"): "review.undo",
    ("POST", "/review/{item_id}/notes"): "review.note_added",
    ("POST", "/review/bulk"): "review.escalate",  # or review.reject, released, reassigned
    ("POST", "/review/{item_id}/golden"): "qa.golden_marked",
    ("POST", "/qa/rereviews/{rereview_id}/ruling"): "qa.ruling",
    ("POST", "/appeals/{appeal_id}/decision"): "appeal.upheld",  # or appeal.denied
    ("POST", "/scoring/rules"): "rules.version_created",
    ("POST", "/scoring/rules/{version_id}/withdraw"): "rules.version_withdrawn",
    ("POST", "/scoring/preview"): PREVIEW,
    ("POST", "/disputes/{dispute_id}/settle"): "dispute.settled",
    ("POST", "/audit/verify"): "audit.verified",
    ("POST", "/audit/export.zip"): "export.downloaded",
    ("POST", "/audit/evidence.zip"): "evidence.exported",
    ("POST", "/unit/claims/{submission_id}/appeal"): "appeal.filed",
    ("POST", "/admin/labels"): "label.changed",
    ("POST", "/admin/policies"): "policy.version_created",
    ("POST", "/admin/units"): "unit.created",
    ("POST", "/admin/units/{unit_id}/rename"): "unit.renamed",
    ("POST", "/admin/units/{unit_id}/deactivate"): "unit.deactivated",
    ("POST", "/admin/units/{unit_id}/tokens"): "unit.token_created",
    ("POST", "/admin/units/{unit_id}/tokens/rotate"): "unit.token_rotated",
    ("POST", "/admin/units/{unit_id}/tokens/revoke"): "unit.tokens_revoked",
    ("POST", "/admin/units/{unit_id}/members"): "user.created",
    ("POST", "/admin/users"): "user.created",
    ("POST", "/admin/users/{user_id}/role"): "user.role_changed",
    ("POST", "/admin/users/{user_id}/unit"): "user.unit_linked",
    ("POST", "/admin/users/{user_id}/deactivate"): "user.deactivated",
    ("POST", "/admin/users/{user_id}/password"): "user.password_reset",
    ("POST", "/admin/users/{user_id}/second-factor"): "user.second_factor_reset",
    ("POST", "/admin/users/{user_id}/token"): "user.token_issued",
    ("POST", "/admin/webhooks"): "webhook.registered",
    ("POST", "/admin/webhooks/{endpoint_id}/rotate"): "webhook.secret_rotated",
    ("POST", "/admin/webhooks/{endpoint_id}/disable"): "webhook.disabled",
}


def test_every_state_changing_route_has_an_expected_event() -> None:
    changing = {r for r in route_table() if r[0] in STATE_CHANGING}
    assert sorted(changing - AUDITED.keys()) == [], "state-changing routes with no entry"
    assert sorted(AUDITED.keys() - changing) == [], "entries of no route"
    # Each event named is one the product writes somewhere (a typo would never be found).
    source = "\n".join(ast_dump for _, ast_dump in _string_constants())
    for key, event in AUDITED.items():
        if isinstance(event, str):
            assert f"\n{event}\n" in f"\n{source}\n", (key, event)


def _string_constants() -> list[tuple[str, str]]:
    import ast

    return [(path, node.value) for path, tree in modules("mvq") for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)]  # fmt: skip


def expected(method: str, template: str) -> str:
    event = AUDITED[(method, template)]
    assert isinstance(event, str), (method, template, event)
    return event


def head() -> int:
    with session_factory()() as session:
        return int(session.scalar(select(func.max(AuditEvent.seq))) or 0)


def actions_after(seq: int) -> list[str]:
    with session_factory()() as session:
        return list(
            session.scalars(
                select(AuditEvent.action).where(AuditEvent.seq > seq).order_by(AuditEvent.seq)
            )
        )


def writes(
    route: tuple[str, str], call: Callable[[], httpx.Response], status: int = 200
) -> httpx.Response:
    """Calls the route; its answer has `status` and the route's event from AUDITED follows."""
    action = expected(*route)
    before = head()
    response = call()
    assert response.status_code == status, (action, response.status_code, response.text)
    assert action in actions_after(before), (action, actions_after(before))
    return response


def reads(action: str, call: Callable[[], httpx.Response]) -> httpx.Response:
    """A read that is itself an event (evidence and exports leaving the system)."""
    before = head()
    response = call()
    assert response.status_code == 200, (action, response.status_code, response.text)
    assert action in actions_after(before), (action, actions_after(before))
    return response


def test_every_state_change_through_the_api_is_recorded(
    stack: harness.Stack, accounts: Accounts, tank_clip: Path
) -> None:
    unit = stack.client(accounts.unit_token)
    reviewer = stack.client(accounts.staff_tokens["reviewer"])
    admin = stack.client(accounts.staff_tokens["admin"])
    senior = stack.client(accounts.staff_tokens["senior"])
    email, password = make_login(Role.reviewer)
    writes(
        ("POST", "/api/v1/auth/token"),
        lambda: stack.client().post(
            "/api/v1/auth/token", json={"email": email, "password": password}
        ),
    )
    created = writes(
        ("POST", "/api/v1/submissions"),
        lambda: unit.post(
            "/api/v1/submissions", json=claim_body(), headers={"Idempotency-Key": uuid.uuid4().hex}
        ),
        201,
    )
    sid = created.json()["id"]
    plan = writes(
        ("POST", "/api/v1/submissions/{submission_id}/media"),
        lambda: unit.post(
            f"/api/v1/submissions/{sid}/media",
            json={
                "filename": "clip.mp4",
                "size": tank_clip.stat().st_size,
                "sha256": sha256_of(tank_clip),
                "content_type": "video/mp4",
            },
        ),
        201,
    ).json()
    put = httpx.put(
        plan["upload"]["urls"][0],
        content=tank_clip.read_bytes(),
        headers={"Content-Type": "video/mp4"},
    )
    assert put.status_code == 200
    before_processing = head()
    writes(
        ("POST", "/api/v1/media/{media_id}/complete"),
        lambda: unit.post(f"/api/v1/media/{plan['media_id']}/complete", json={}),
        202,
    )
    wait_for_status(stack, accounts.unit_token, sid, "in_queue")
    worker_actions = actions_after(before_processing)
    for action in ("media.processing", "media.processed", "submission.in_queue"):
        assert action in worker_actions, worker_actions
    lease = writes(
        ("POST", "/api/v1/review/claim"), lambda: reviewer.post("/api/v1/review/claim")
    ).json()
    item = lease["item_id"]
    # A renewal changes only the expiry and is not an event: the claim, the release, the
    # expiry and the decision are.
    before_beat = head()
    beat = reviewer.post(
        f"/api/v1/review/{item}/heartbeat", json={"lease_token": lease["lease_token"]}
    )
    assert beat.status_code == 200 and actions_after(before_beat) == [], beat.text
    approved = writes(
        ("POST", "/api/v1/review/{item_id}/decision"),
        lambda: reviewer.post(
            f"/api/v1/review/{item}/decision",
            json={"lease_token": lease["lease_token"], "decision": "approve"},
        ),
    ).json()
    # Undone at once (a reversal follows the award), given back, claimed from its page and
    # approved again: each step is an event.
    again = writes(
        ("POST", "/api/v1/review/decisions/{decision_id}/undo"),
        lambda: reviewer.post(f"/api/v1/review/decisions/{approved['decision_id']}/undo"),
    ).json()
    assert "ledger.reversal" in actions_after(head() - 4)
    writes(
        ("POST", "/api/v1/review/{item_id}/release"),
        lambda: reviewer.post(
            f"/api/v1/review/{item}/release", json={"lease_token": again["lease_token"]}
        ),
        204,
    )
    lease = writes(
        ("POST", "/api/v1/review/{item_id}/claim"),
        lambda: reviewer.post(f"/api/v1/review/{item}/claim"),
    ).json()
    writes(
        ("POST", "/api/v1/review/{item_id}/decision"),
        lambda: reviewer.post(
            f"/api/v1/review/{item}/decision",
            json={"lease_token": lease["lease_token"], "decision": "approve"},
        ),
    )
    writes(
        ("POST", "/api/v1/review/{item_id}/overturn"),
        lambda: senior.post(
            f"/api/v1/review/{item}/overturn",
            json={"decision": "reject", "reason_code": "duplicate", "comment": "seen before"},
        ),
    )
    assert "ledger.reversal" in actions_after(head() - 5)
    writes(
        ("POST", "/api/v1/scoring/rules"),
        lambda: admin.post(
            "/api/v1/scoring/rules",
            json={
                "effective_from": "2034-01-01T00:00:00Z",
                "rules": [{"target_type": "tank", "outcome": "destroyed", "points": 41}],
            },
        ),
        201,
    )
    with session_factory()() as session:
        ledger.append(
            session,
            LedgerEntry(unit_id=accounts.unit_id, entry_type=EntryType.award, points=10),
            actor="test",
        )
        session.commit()
    writes(
        ("POST", "/api/v1/units/{unit_id}/debits"),
        lambda: admin.post(
            f"/api/v1/units/{accounts.unit_id}/debits",
            json={"points": 5},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        ),
        201,
    )
    writes(
        ("POST", "/api/v1/units/{unit_id}/token/rotate"),
        lambda: admin.post(f"/api/v1/units/{accounts.other_unit_id}/token/rotate"),
    )
    writes(
        ("POST", "/api/v1/units/{unit_id}/token/revoke"),
        lambda: admin.post(f"/api/v1/units/{accounts.other_unit_id}/token/revoke"),
    )
    auditor = stack.client(accounts.staff_tokens["auditor"])
    reads("evidence.exported", lambda: auditor.get(f"/api/v1/submissions/{sid}/evidence"))
    reads("export.downloaded", lambda: auditor.get("/api/v1/audit/export?format=jsonl"))


def test_web_logins_logouts_and_page_views_are_recorded(
    stack: harness.Stack, accounts: Accounts
) -> None:
    before = head()
    web = web_login(stack, *make_login(Role.reviewer))
    assert "user.login" in actions_after(before)
    with session_factory()() as session:
        item = queued_item(session, accounts.unit_id)
    before = head()
    page = web.client.get(f"/review/{item.id}", headers={"Accept": "text/html"})
    assert page.status_code == 200
    # The footage shown: the page's script posts the view.
    shown = web.client.post(f"/review/{item.id}/viewed", headers={"X-CSRF-Token": web.csrf})
    assert shown.status_code == 204
    assert "media.viewed" in actions_after(before)
    before = head()
    web.client.post("/logout", data={"csrf_token": web.csrf})
    assert "user.logout" in actions_after(before)


def test_a_seniors_settlement_of_a_dispute_is_recorded(
    stack: harness.Stack, accounts: Accounts, empty_queue: None
) -> None:
    """Two units claim one hit with the same footage: the second is held in a dispute, and a
    senior's settlement through the API is an event on the dispute."""
    crew = [reviewer(), reviewer(Role.senior)]
    with session_factory()() as session:
        first_unit, second_unit = make_unit(session)[0], make_unit(session)[0]
        first = claim(session, first_unit, lat=48.5, lon=35.0)
        decide(session, crew[0], first.id, "approve")
        copy = claim(session, second_unit, copies=[first.id])
        decide(session, crew[0], copy.id, "approve")
        dispute_id = dispute_of(session, copy.id).dispute.id
    token = stack_token(Role.senior, crew[1].id)
    with stack.client(token) as senior:
        settled = writes(
            ("POST", "/api/v1/disputes/{dispute_id}/settle"),
            lambda: senior.post(f"/api/v1/disputes/{dispute_id}/settle",
                                json={"shares": {copy.id: 0}, "note": "the first unit's hit"}),
        )  # fmt: skip
    assert settled.json()["dispute_id"] == dispute_id
    with session_factory()() as session:
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.object_id == dispute_id,
                                     AuditEvent.action == "dispute.settled")
        ).one()  # fmt: skip
        assert event.actor == f"staff:{crew[1].id}"


def stack_token(role: Role, user_id: str) -> str:
    """An API token for this person (made by `reviewer()` at the service level)."""
    from mvq.auth import service as auth
    from mvq.auth.models import StaffUser
    from mvq.db import utcnow

    with session_factory()() as session:
        user = session.get_one(StaffUser, user_id)
        assert user.role == role
        token = auth.issue_staff_token(session, user=user, now=utcnow(), second_factor=True)
        session.commit()
    return token


def test_notes_and_bulk_actions_are_recorded(stack: harness.Stack, accounts: Accounts) -> None:
    with session_factory()() as session:
        noted, by_api, by_page = [queued_item(session, accounts.unit_id) for _ in range(3)]
    reviewer_api = stack.client(accounts.staff_tokens["reviewer"])
    senior_api = stack.client(accounts.staff_tokens["senior"])
    writes(("POST", "/api/v1/review/{item_id}/notes"),
           lambda: reviewer_api.post(f"/api/v1/review/{noted.id}/notes",
                                     json={"body": "is the hull the same?"}), 201)  # fmt: skip
    writes(("POST", "/api/v1/review/bulk"),
           lambda: senior_api.post("/api/v1/review/bulk", json={
               "item_ids": [by_api.id], "action": "reject", "reason_code": "other",
               "comment": "blank"}))  # fmt: skip
    web = web_login(stack, *make_login(Role.senior))
    writes(("POST", "/review/{item_id}/notes"),
           lambda: web.client.post(f"/review/{noted.id}/notes",
                                   data={"body": "yes", "csrf_token": web.csrf}), 303)  # fmt: skip
    writes(("POST", "/review/bulk"),
           lambda: web.client.post("/review/bulk", headers={"Accept": "text/html"}, data={
               "action": "escalate", "item_id": by_page.id, "csrf_token": web.csrf}))  # fmt: skip
