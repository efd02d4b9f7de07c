"""Every state-changing route writes its audit event, in the same transaction as the change."""

import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
from sqlalchemy import func, select

from mvq.audit.models import AuditEvent
from mvq.auth.models import Role
from mvq.db import session_factory
from mvq.scoring import ledger
from mvq.scoring.models import EntryType, LedgerEntry
from tests import harness
from tests.integration.conftest import (
    Accounts,
    claim_body,
    make_login,
    sha256_of,
    wait_for_status,
    web_login,
)
from tests.integration.test_review_queue import queued_item


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


def writes(action: str, call: Callable[[], httpx.Response], status: int = 200) -> httpx.Response:
    before = head()
    response = call()
    assert response.status_code == status, (action, response.status_code, response.text)
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
        "user.login",
        lambda: stack.client().post(
            "/api/v1/auth/token", json={"email": email, "password": password}
        ),
    )
    created = writes(
        "submission.created",
        lambda: unit.post(
            "/api/v1/submissions", json=claim_body(), headers={"Idempotency-Key": uuid.uuid4().hex}
        ),
        201,
    )
    sid = created.json()["id"]
    plan = writes(
        "media.registered",
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
        "media.uploaded",
        lambda: unit.post(f"/api/v1/media/{plan['media_id']}/complete", json={}),
        202,
    )
    wait_for_status(stack, accounts.unit_token, sid, "in_queue")
    worker_actions = actions_after(before_processing)
    for action in ("media.processing", "media.processed", "submission.in_queue"):
        assert action in worker_actions, worker_actions
    lease = writes("review.leased", lambda: reviewer.post("/api/v1/review/claim")).json()
    item = lease["item_id"]
    # A renewal changes only the expiry and is not an event: the claim, the release, the
    # expiry and the decision are.
    before_beat = head()
    beat = reviewer.post(
        f"/api/v1/review/{item}/heartbeat", json={"lease_token": lease["lease_token"]}
    )
    assert beat.status_code == 200 and actions_after(before_beat) == [], beat.text
    approved = writes(
        "review.approve",
        lambda: reviewer.post(
            f"/api/v1/review/{item}/decision",
            json={"lease_token": lease["lease_token"], "decision": "approve"},
        ),
    ).json()
    # Undone at once (a reversal follows the award), given back, claimed from its page and
    # approved again: each step is an event.
    again = writes(
        "review.undo",
        lambda: reviewer.post(f"/api/v1/review/decisions/{approved['decision_id']}/undo"),
    ).json()
    assert "ledger.reversal" in actions_after(head() - 4)
    writes(
        "review.released",
        lambda: reviewer.post(
            f"/api/v1/review/{item}/release", json={"lease_token": again["lease_token"]}
        ),
        204,
    )
    lease = writes("review.leased", lambda: reviewer.post(f"/api/v1/review/{item}/claim")).json()
    writes(
        "review.approve",
        lambda: reviewer.post(
            f"/api/v1/review/{item}/decision",
            json={"lease_token": lease["lease_token"], "decision": "approve"},
        ),
    )
    writes(
        "review.overturn",
        lambda: senior.post(
            f"/api/v1/review/{item}/overturn",
            json={"decision": "reject", "reason_code": "duplicate", "comment": "seen before"},
        ),
    )
    assert "ledger.reversal" in actions_after(head() - 5)
    writes(
        "rules.version_created",
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
        "ledger.debit",
        lambda: admin.post(
            f"/api/v1/units/{accounts.unit_id}/debits",
            json={"points": 5},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        ),
        201,
    )
    writes(
        "unit.token_rotated",
        lambda: admin.post(f"/api/v1/units/{accounts.other_unit_id}/token/rotate"),
    )
    writes(
        "unit.tokens_revoked",
        lambda: admin.post(f"/api/v1/units/{accounts.other_unit_id}/token/revoke"),
    )
    auditor = stack.client(accounts.staff_tokens["auditor"])
    writes("evidence.exported", lambda: auditor.get(f"/api/v1/submissions/{sid}/evidence"))
    writes("export.downloaded", lambda: auditor.get("/api/v1/audit/export?format=jsonl"))


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
