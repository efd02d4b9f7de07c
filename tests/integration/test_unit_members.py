"""A unit's members: people with their own logins who act for their unit. A member's claims
are the unit's and record the member; a member sees the unit's claims and nothing of another
unit's, on the API (cookie + CSRF header) and on "my claims"; a claim may leave its time to
the footage; "my claims" tells a member what happened to each claim in words they can act on."""

import re
import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from mvq.audit.models import AuditEvent
from mvq.auth import service as auth
from mvq.auth.models import Role, StaffUser
from mvq.db import session_factory
from mvq.errors import Conflict, Invalid
from mvq.review.models import ReviewItem
from mvq.units.models import Unit
from testkit import footage, harness
from testkit.claims import claim_body, upload_claim, wait_for_status
from testkit.people import Accounts, Browserless, make_login, make_unit, web_login


def member(accounts: Accounts, *, other: bool = False) -> tuple[Browserless, str]:
    """A signed-in member of the accounts' first unit (or the other one), and their user id."""
    return member_of(accounts.other_unit_id if other else accounts.unit_id)


def member_of(unit_id: str) -> tuple[Browserless, str]:
    email, password = make_login(Role.unit, unit_id=unit_id)
    with session_factory()() as session:
        user_id = session.scalar(select(StaffUser.id).where(StaffUser.email == email))
    assert user_id
    return web_login(stack_of[0], email, password), user_id


stack_of: list[harness.Stack] = []


@pytest.fixture(autouse=True)
def _remember_stack(stack: harness.Stack) -> None:
    stack_of[:] = [stack]


def api(web: Browserless, method: str, path: str, **kwargs: object) -> httpx.Response:
    """The page's script calling the API: the session cookie and the CSRF header."""
    headers = {"X-CSRF-Token": web.csrf, **kwargs.pop("headers", {})}  # type: ignore[dict-item]
    return web.client.request(method, path, headers=headers, **kwargs)  # type: ignore[arg-type]


def test_a_member_needs_a_unit(accounts: Accounts) -> None:
    with session_factory()() as session, pytest.raises(Invalid) as refused:
        auth.create_user(session, email=f"{uuid.uuid4().hex[:6]}@u.mvq", role=Role.unit,
                         unit_id=None, actor="test")  # fmt: skip
    assert refused.value.code == "unit_required"


def test_a_member_claims_for_the_unit_and_sees_nothing_of_another(
    stack: harness.Stack, accounts: Accounts, tank_clip: Path
) -> None:
    web, user_id = member(accounts)
    theirs = upload_claim(stack, accounts.other_unit_token, tank_clip)
    wait_for_status(stack, accounts.other_unit_token, theirs, "in_queue")

    # The cookie alone authorises nothing on the API: a page on another site could send it.
    bare = web.client.post("/api/v1/submissions", json=claim_body(),
                           headers={"Idempotency-Key": "m1"})  # fmt: skip
    assert bare.status_code == 403 and bare.json()["error"]["code"] == "csrf"
    created = api(web, "POST", "/api/v1/submissions", json=claim_body(),
                  headers={"Idempotency-Key": "m1"})  # fmt: skip
    assert created.status_code == 201, created.text
    mine = created.json()["id"]
    body = api(web, "GET", f"/api/v1/submissions/{mine}").json()
    assert body["unit_id"] == accounts.unit_id and body["submitted_by"] == user_id
    with session_factory()() as session:
        actor = session.scalar(select(AuditEvent.actor).where(
            AuditEvent.action == "submission.created", AuditEvent.object_id == mine))  # fmt: skip
    assert actor == f"member:{user_id}"

    assert api(web, "GET", f"/api/v1/submissions/{theirs}").status_code == 404
    listed = api(web, "GET", "/api/v1/submissions", params={"limit": 200}).json()["items"]
    assert mine in {i["id"] for i in listed}
    assert {i["unit_id"] for i in listed} == {accounts.unit_id}
    page = web.client.get("/unit")
    assert page.status_code == 200 and mine in page.text and theirs not in page.text
    # The other unit's member sees the other claim and not this one.
    other, _ = member(accounts, other=True)
    theirs_page = other.client.get("/unit").text
    assert theirs in theirs_page and mine not in theirs_page
    assert api(other, "GET", f"/api/v1/submissions/{mine}").status_code == 404
    foreign = other.client.post(
        f"/unit/claims/{mine}/appeal", data={"reason": "x", "csrf_token": other.csrf}
    )
    assert foreign.status_code == 404
    # Staff pages and routes are not a member's.
    assert web.client.get("/review", headers={"Accept": "text/html"}).status_code == 403
    assert api(web, "POST", "/api/v1/review/claim").status_code == 403
    # A member lands on the unit's claims, from the login and from the site's root.
    assert web.client.get("/").headers["location"].endswith("/unit")


def with_capture_time(source: Path, out: Path, when: datetime) -> Path:
    stamp = when.strftime("%Y-%m-%dT%H:%M:%S.000000Z")
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(source), "-c", "copy",
                    "-metadata", f"creation_time={stamp}", str(out)], check=True)  # fmt: skip
    return out


def test_a_claim_without_a_time_takes_the_footages(
    stack: harness.Stack, accounts: Accounts, tank_clip: Path, tmp_path: Path
) -> None:
    recorded = (datetime.now(UTC) - timedelta(hours=7, minutes=13)).replace(microsecond=0)
    stamped = with_capture_time(tank_clip, tmp_path / "stamped.mp4", recorded)
    timed = upload_claim(stack, accounts.unit_token, stamped, occurred_at=None)
    untimed = upload_claim(stack, accounts.unit_token, tank_clip, occurred_at=None)
    body = wait_for_status(stack, accounts.unit_token, timed, "in_queue")
    assert body["occurred_at_source"] == "capture_time"
    assert datetime.fromisoformat(body["occurred_at"]).replace(tzinfo=UTC) == recorded
    assert "capture_time_mismatch" not in {f["kind"] for f in body["flags"]}
    body = wait_for_status(stack, accounts.unit_token, untimed, "in_queue")
    assert body["occurred_at_source"] == "upload_time"
    assert "no_capture_time" in {f["kind"] for f in body["flags"]}


def test_my_claims_tells_what_happened_in_words(
    stack: harness.Stack, accounts: Accounts, tank_clip: Path, tmp_path: Path
) -> None:
    web, _ = member(accounts)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(tank_clip.read_bytes()[: tank_clip.stat().st_size // 3])
    failed = upload_claim(stack, accounts.unit_token, cut)
    wait_for_status(stack, accounts.unit_token, failed, "failed")
    # Footage of its own for each, so no claim here shares a target (and waits for a dispute).
    rocket = footage.clip("rocket", tmp_path / "rocket.mp4")
    coffee = footage.clip("coffee", tmp_path / "coffee.mp4")
    approved = upload_claim(stack, accounts.unit_token, rocket)
    rejected = upload_claim(stack, accounts.unit_token, coffee, target_type="apc")
    for claim in (approved, rejected):
        wait_for_status(stack, accounts.unit_token, claim, "in_queue")
    decide(stack, accounts, approved, "approve")
    decide(stack, accounts, rejected, "reject", reason_code="not_visible")
    page = web.client.get("/unit").text
    card = claim_card(page, failed)
    assert (
        "Failed" in card and "The file ends early" in card and "Upload the whole file again" in card
    )
    points = api(web, "GET", f"/api/v1/submissions/{approved}").json()["points"]
    assert points and points > 0
    assert f"Approved: {points} points." in claim_card(page, approved)
    assert "Rejected: Target not visible." in claim_card(page, rejected)
    # Each claim in full on its own page.
    card = claim_card(web.client.get(f"/unit/claims/{approved}").text, approved)
    assert "Approved" in card and f"+{points} points awarded" in card
    assert "The file does not say when it was recorded." in card  # its flag, in words
    card = claim_card(web.client.get(f"/unit/claims/{rejected}").text, rejected)
    assert "Rejected on" in card and "Target not visible" in card and "Send the appeal" in card
    ledger = page[page.index('id="ledger-title"') :]
    assert f"+{points}" in ledger and approved in ledger
    assert re.search(r"Place \d+ of \d+ units", page)

    # The appeal from the page: once, then the card shows it waiting.
    reason = "The tank is at 0:04, left."
    sent = web.client.post(
        f"/unit/claims/{rejected}/appeal", data={"reason": reason, "csrf_token": web.csrf}
    )
    assert sent.status_code == 303 and "appealed=" in sent.headers["location"]
    card = claim_card(web.client.get(f"/unit/claims/{rejected}").text, rejected)
    assert "Appeal waiting for a senior reviewer" in card and "The tank is at 0:04, left." in card
    again = web.client.post(f"/unit/claims/{rejected}/appeal",
                            data={"reason": "again", "csrf_token": web.csrf})  # fmt: skip
    assert "error=appeal_exists" in again.headers["location"]


def claim_card(page: str, claim_id: str) -> str:
    start = page.index(f'id="claim-{claim_id}"')
    return page[start : page.index("</article>", start)]


def decide(
    stack: harness.Stack, accounts: Accounts, claim: str, decision: str, **extra: str
) -> None:
    """A reviewer opens this claim's item from the queue and decides it."""
    with session_factory()() as session:
        item_id = session.scalar(select(ReviewItem.id).where(ReviewItem.submission_id == claim))
    with stack.client(accounts.staff_tokens["reviewer"]) as staff:
        lease = staff.post(f"/api/v1/review/{item_id}/claim")
        assert lease.status_code == 200, lease.text
        done = staff.post(f"/api/v1/review/{item_id}/decision",
                          json={"lease_token": lease.json()["lease_token"], "decision": decision,
                                "comment": "checked", **extra})  # fmt: skip
        assert done.status_code == 200, done.text


def test_a_deactivated_unit_acts_no_more_whatever_credential_is_left(
    stack: harness.Stack, accounts: Accounts
) -> None:
    """Deactivation revokes a unit's tokens and members (mvq.auth.accounts); a credential left
    behind by a bug or a hand-run UPDATE is refused all the same, as is a new member."""
    with session_factory()() as session:
        unit_id, token = make_unit(session)
    web, _ = member_of(unit_id)
    with session_factory()() as session:
        session.get_one(Unit, unit_id).disabled_at = datetime.now(UTC)
        session.commit()
        with pytest.raises(Conflict) as refused:
            auth.create_user(session, email=f"{uuid.uuid4().hex[:6]}@u.mvq", role=Role.unit,
                             unit_id=unit_id, actor="test")  # fmt: skip
    assert refused.value.code == "unit_disabled"
    with stack.client(token) as unit_api:
        answer = unit_api.get("/api/v1/submissions")
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "unit_disabled"
    assert api(web, "GET", "/api/v1/submissions").status_code == 401
