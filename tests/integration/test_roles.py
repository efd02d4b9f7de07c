"""Every staff route, tried with every role, a unit token and nobody: only the intended
callers get through, on the API and on the web pages. A refusal must be the role check's own
(`forbidden`), not a CSRF or login failure that would hide whether the role check exists."""

import re
from typing import Any

import pytest

from mvq.auth.models import Role
from mvq.db import session_factory
from tests import harness
from tests.integration.conftest import Accounts, make_login, make_unit, web_login
from tests.integration.test_review_queue import queued_item

VIEWERS = {"reviewer", "senior", "admin", "auditor"}
REVIEWERS = {"reviewer", "senior"}
STAFF = VIEWERS
SPENDERS = {"admin", "marketplace"}
AUDITORS = {"auditor"}
EVERYONE = {"nobody", "unit", "reviewer", "senior", "admin", "auditor", "marketplace"}
DENIED = {401, 403}


@pytest.fixture(scope="module")
def objects(accounts: Accounts) -> dict[str, str]:
    with session_factory()() as session:
        item = queued_item(session, accounts.unit_id)
        spare_unit, _ = make_unit(session)
    return {"item": item.id, "submission": item.submission_id, "spare_unit": spare_unit}


def api_routes(o: dict[str, str]) -> list[tuple[str, str, Any, set[str]]]:
    rules = {"effective_from": "2031-01-01T00:00:00Z",
             "rules": [{"target_type": "tank", "outcome": "destroyed", "points": 45}]}  # fmt: skip
    return [
        ("GET", "/api/v1/review/queue", None, VIEWERS),
        ("GET", "/api/v1/review/stats", None, VIEWERS),
        ("POST", "/api/v1/review/claim", None, REVIEWERS),
        ("POST", f"/api/v1/review/{o['item']}/decision",
         {"lease_token": "x", "decision": "approve"}, REVIEWERS),
        ("POST", f"/api/v1/review/{o['item']}/heartbeat", {"lease_token": "x"}, REVIEWERS),
        ("POST", f"/api/v1/review/{o['item']}/overturn",
         {"decision": "reject", "comment": "x", "reason_code": "other"}, {"senior"}),
        ("GET", f"/api/v1/submissions/{o['submission']}/matches", None, STAFF),
        ("GET", "/api/v1/leaderboard", None, STAFF),
        ("POST", "/api/v1/scoring/rules", rules, {"admin"}),
        ("POST", f"/api/v1/units/{o['spare_unit']}/debits", {"points": 1}, SPENDERS),
        # The marketplace reads only the ledgers of units it spent for (test_ledger_debts).
        ("GET", f"/api/v1/units/{o['spare_unit']}/ledger", None, {"admin", "auditor"}),
        ("GET", "/api/v1/disputes", None, {"senior", "admin", "auditor"}),
        ("POST", "/api/v1/disputes/none/settle", {"shares": {}}, {"senior"}),
        ("POST", "/api/v1/scoring/preview", {"rules": rules["rules"],
         "since": "2025-01-01T00:00:00Z", "until": "2027-01-01T00:00:00Z"}, {"admin"}),
        ("GET", f"/api/v1/submissions/{o['submission']}", None, STAFF | {"unit"}),
        ("GET", "/api/v1/submissions", None, STAFF | {"unit"}),
        ("POST", f"/api/v1/units/{o['spare_unit']}/token/revoke", None, {"admin"}),
        ("POST", f"/api/v1/units/{o['spare_unit']}/token/rotate", None, {"admin"}),
        ("GET", "/api/v1/units/me/ledger", None, {"unit"}),
        ("POST", "/api/v1/submissions", {"target_type": "tank", "outcome": "destroyed",
         "occurred_at": "2026-01-01T00:00:00Z"}, {"unit"}),
        ("POST", "/api/v1/media/none/complete", {}, {"unit"}),
        ("GET", "/api/v1/audit/public-key", None, EVERYONE),
        ("GET", "/api/v1/audit/verify", None, AUDITORS),
        ("GET", "/api/v1/audit/events", None, AUDITORS),
        ("GET", "/api/v1/audit/export?format=jsonl", None, AUDITORS),
        ("GET", f"/api/v1/submissions/{o['submission']}/evidence", None, AUDITORS | {"senior"}),
    ]  # fmt: skip


def error_code(response: Any) -> str:
    """The error's code from a JSON error body or from the HTML error page's heading."""
    if response.headers.get("content-type", "").startswith("application/json"):
        return str(response.json()["error"]["code"])
    heading = re.search(r"<h1>(\d+) · ([a-z_]+)</h1>", response.text)
    assert heading, response.text
    assert heading[1] == str(response.status_code)
    return heading[2]


def test_api_routes_by_role(stack: harness.Stack, accounts: Accounts, objects: dict) -> None:  # type: ignore[type-arg]
    callers = {"nobody": None, "unit": accounts.unit_token, **accounts.staff_tokens}
    # A unit's member calls the API from a page: the session cookie and the page's CSRF
    # token. The member may do what the unit's token may, and nothing more.
    member = web_login(stack, *make_login(Role.unit, unit_id=accounts.unit_id))
    for method, path, body, allowed in api_routes(objects):
        for who in [*callers, "member"]:
            headers = {"Idempotency-Key": f"matrix-{who}"}
            if who == "member":
                response = member.client.request(
                    method, path, json=body, headers=headers | {"X-CSRF-Token": member.csrf}
                )
                who = "unit"
            else:
                with stack.client(callers[who]) as api:
                    response = api.request(method, path, json=body, headers=headers)
            status = response.status_code
            if who in allowed:
                assert status not in DENIED and status < 500, (method, path, who, status)
            elif who == "nobody":
                assert status == 401, (method, path, who, status)
                assert error_code(response) in {"missing_token", "unauthenticated"}
            else:
                assert status == 403, (method, path, who, status)
                assert error_code(response) == "forbidden", (method, path, who, response.text)


# Every /admin route; the ids are made up, so an admin's form finds nothing to change.
ADMIN_PAGES = [
    (method, path, {"admin"})
    for method, path in [
        ("GET", "/admin"),
        ("GET", "/admin/labels"),
        ("POST", "/admin/labels"),
        ("POST", "/admin/units"),
        ("GET", "/admin/units/none"),
        ("POST", "/admin/units/none/rename"),
        ("POST", "/admin/units/none/deactivate"),
        ("POST", "/admin/units/none/tokens"),
        ("POST", "/admin/units/none/tokens/rotate"),
        ("POST", "/admin/units/none/tokens/revoke"),
        ("POST", "/admin/units/none/members"),
        ("POST", "/admin/users"),
        ("GET", "/admin/users/none"),
        ("POST", "/admin/users/none/role"),
        ("POST", "/admin/users/none/unit"),
        ("POST", "/admin/users/none/deactivate"),
        ("POST", "/admin/users/none/password"),
        ("POST", "/admin/users/none/second-factor"),
        ("POST", "/admin/users/none/token"),
        ("POST", "/admin/webhooks"),
        ("GET", "/admin/webhooks/none"),
        ("POST", "/admin/webhooks/none/rotate"),
        ("POST", "/admin/webhooks/none/disable"),
    ]
]


def test_web_pages_by_role(stack: harness.Stack, accounts: Accounts, objects: dict) -> None:  # type: ignore[type-arg]
    item = objects["item"]
    pages = [
        ("GET", "/review", VIEWERS),
        ("GET", "/review/stats", VIEWERS),
        ("GET", f"/review/{item}", VIEWERS),
        ("POST", "/review/claim", REVIEWERS),
        ("POST", f"/review/{item}/decision", REVIEWERS),
        ("POST", f"/review/{item}/overturn", {"senior"}),
        ("GET", "/scoring/rules", VIEWERS),
        ("GET", "/leaderboard", VIEWERS),
        ("GET", "/disputes", {"senior", "admin", "auditor"}),
        ("POST", "/disputes/none/settle", {"senior"}),
        ("POST", "/scoring/rules", {"admin"}),
        ("POST", "/scoring/preview", {"admin"}),
        ("POST", f"/review/{item}/heartbeat", REVIEWERS),
        ("GET", "/audit", AUDITORS),
        ("GET", "/account", EVERYONE - {"nobody"}),  # one's own settings: every person
        ("POST", "/audit/export.zip", AUDITORS),
        ("GET", "/unit", {"unit"}),
        ("GET", "/unit/upload", {"unit"}),
        ("POST", "/unit/claims/none/appeal", {"unit"}),
        *ADMIN_PAGES,
    ]
    # A unit's member signs in like staff, for the accounts' unit.
    members_unit = {Role.unit: accounts.unit_id}
    sessions = {
        role.value: web_login(stack, *make_login(role, unit_id=members_unit.get(role)))
        for role in Role
    }
    assert set(sessions) | {"nobody", "unit"} == EVERYONE
    form = {"lease_token": "x", "decision": "reject", "comment": "x", "reason_code": "other",
            "effective_from": "2032-01-01T00:00", "rules": "tank destroyed 41",
            "since": "2026-01-01", "until": "2026-01-02"}  # fmt: skip
    for method, path, allowed in pages:
        for who, web in sessions.items():
            assert web.csrf, who  # an empty token would be refused as CSRF, before any role check
            headers = {"Accept": "text/html"}
            if path.endswith("/heartbeat"):  # the page's script: JSON, the token in a header
                headers["X-CSRF-Token"] = web.csrf
                kwargs: dict[str, Any] = {"json": {"lease_token": "x"}}
            else:
                kwargs = {"data": form | {"csrf_token": web.csrf} if method == "POST" else None}
            response = web.client.request(method, path, headers=headers, **kwargs)
            if who in allowed:
                assert response.status_code not in DENIED, (path, who, response.status_code)
                assert response.status_code < 500
            else:
                assert response.status_code == 403, (path, who, response.status_code)
                assert error_code(response) == "forbidden", (path, who, response.text)
        with harness.httpx.Client(base_url=stack.url) as nobody:
            answer = nobody.request(method, path, data=form, headers={"Accept": "text/html"})
            assert answer.status_code == 303 and "/login" in answer.headers["location"]
