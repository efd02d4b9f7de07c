"""Every route of the application, tried with every role, a unit token, a unit's member and
nobody: only the intended callers get through, on the API and on the web pages. The routes
come from the application's own table (tests/routes.py), so a route added without an entry
in `API` or `PAGES` fails `test_every_route_has_an_expectation`.

A refusal must be the role check's own (`forbidden`, or a 404 where ids must not leak), not
a CSRF or login failure that would hide whether the role check exists."""

import re
from dataclasses import dataclass
from typing import Any

import pytest

from mvq.auth.models import Role
from mvq.db import session_factory
from testkit import harness
from testkit.people import Accounts, make_login, make_unit, web_login
from tests.helpers import queued_item
from tests.routes import route_table

EVERYONE = frozenset({"nobody", "unit", "reviewer", "senior", "admin", "auditor", "marketplace"})
PEOPLE = EVERYONE - {"nobody"}
STAFF = frozenset({"reviewer", "senior", "admin", "auditor"})  # policy.STAFF
REVIEWERS = frozenset({"reviewer", "senior"})
SENIORS = frozenset({"senior"})
ADMINS = frozenset({"admin"})
AUDITORS = frozenset({"auditor"})
UNIT = frozenset({"unit"})
DENIED = {401, 403}


@dataclass(frozen=True)
class Access:
    """Who may call a route; everyone else signed in gets `refused` (and nobody 401 on the API,
    the login page on the web). `body`: the JSON sent; `form`: a page's own fields (made-up
    values: an allowed caller may get 404 or 422, never a refusal; a form the page cannot
    read is refused as invalid before anyone asks the role)."""

    allowed: frozenset[str]
    refused: int = 403
    body: Any = None
    form: dict[str, str] | None = None  # a page's form fields other than FORM's


@dataclass(frozen=True)
class Open:
    """Not role-checked, on purpose: why."""

    why: str


RULES = {"effective_from": "2031-01-01T00:00:00Z",
         "rules": [{"target_type": "tank", "outcome": "destroyed", "points": 45}]}  # fmt: skip
DECISION = {"lease_token": "x", "decision": "reject", "comment": "x", "reason_code": "other"}
SIGN_IN = Open("signing in and out: before anyone has a role")

# (method, path template) -> who may call it. Ids in a path are filled from `objects`.
API: dict[tuple[str, str], Access | Open] = {
    ("GET", "/healthz"): Open("liveness, for the load balancer"),
    ("GET", "/readyz"): Open("readiness, for the load balancer"),
    ("GET", "/metrics"): Open("loopback or the scraper's token, not a role (test_observability)"),
    ("POST", "/api/v1/auth/token"): SIGN_IN,
    ("GET", "/api/v1/audit/public-key"): Open("the key that verifies exports: public"),
    ("GET", "/api/v1/review/queue"): Access(STAFF),
    ("GET", "/api/v1/review/stats"): Access(STAFF),
    ("POST", "/api/v1/review/claim"): Access(REVIEWERS),
    ("POST", "/api/v1/review/{item_id}/claim"): Access(REVIEWERS),
    ("POST", "/api/v1/review/{item_id}/decision"): Access(REVIEWERS, body=DECISION),
    ("POST", "/api/v1/review/{item_id}/heartbeat"): Access(REVIEWERS, body={"lease_token": "x"}),
    ("POST", "/api/v1/review/{item_id}/release"): Access(REVIEWERS, body={"lease_token": "x"}),
    ("POST", "/api/v1/review/{item_id}/overturn"): Access(SENIORS, body=DECISION),
    ("POST", "/api/v1/review/decisions/{decision_id}/undo"): Access(REVIEWERS),
    ("GET", "/api/v1/review/{item_id}/notes"): Access(STAFF),
    ("POST", "/api/v1/review/{item_id}/notes"): Access(REVIEWERS, body={"body": "roles"}),
    ("POST", "/api/v1/review/bulk"): Access(SENIORS, body={"item_ids": ["none"],
                                                           "action": "release"}),
    ("POST", "/api/v1/qa/golden"): Access(SENIORS, body={"submission_id": "none",
                                                          "decision": "approve"}),
    ("GET", "/api/v1/qa/agreement"): Access(STAFF),  # each reads their own; seniors everyone's
    ("POST", "/api/v1/qa/rereviews/{rereview_id}/ruling"): Access(
        SENIORS, body={"decision": "approve", "comment": "x"}),
    ("GET", "/api/v1/appeals"): Access(SENIORS),
    ("POST", "/api/v1/appeals/{appeal_id}/decision"): Access(
        SENIORS, body={"decision": "deny", "reason": "x"}
    ),
    ("POST", "/api/v1/submissions/{submission_id}/appeal"): Access(UNIT, body={"reason": "x"}),
    ("GET", "/api/v1/submissions/{submission_id}/matches"): Access(STAFF),
    ("GET", "/api/v1/submissions/{submission_id}/evidence"): Access(AUDITORS | SENIORS),
    ("GET", "/api/v1/submissions/{submission_id}"): Access(STAFF | UNIT),
    ("GET", "/api/v1/submissions"): Access(STAFF | UNIT),
    ("POST", "/api/v1/submissions"): Access(UNIT, body={
        "target_type": "tank", "outcome": "destroyed", "occurred_at": "2026-01-01T00:00:00Z"}),
    ("POST", "/api/v1/submissions/{submission_id}/media"): Access(UNIT, body={
        "filename": "c.mp4", "size": 1, "sha256": "0" * 64, "content_type": "video/mp4"}),
    ("POST", "/api/v1/media/{media_id}/complete"): Access(UNIT, body={}),
    ("POST", "/api/v1/media/{media_id}/chunks"): Access(UNIT, body={"chunks": []}),
    ("GET", "/api/v1/leaderboard"): Access(STAFF),
    ("GET", "/api/v1/scoring/rules"): Access(PEOPLE),  # what a claim is worth: anyone signed in
    ("POST", "/api/v1/scoring/rules"): Access(ADMINS, body=RULES),
    ("POST", "/api/v1/scoring/rules/{version_id}/withdraw"): Access(ADMINS),
    ("POST", "/api/v1/scoring/preview"): Access(ADMINS, body={
        "rules": RULES["rules"], "since": "2025-01-01T00:00:00Z",
        "until": "2027-01-01T00:00:00Z"}),
    ("GET", "/api/v1/disputes"): Access(SENIORS | ADMINS | AUDITORS),
    ("POST", "/api/v1/disputes/{dispute_id}/settle"): Access(SENIORS, body={"shares": {}}),
    ("POST", "/api/v1/units/{unit_id}/debits"): Access(ADMINS | {"marketplace"},
                                                       body={"points": 1}),
    # The marketplace reads only the ledgers of units it spent for (test_ledger_debts).
    ("GET", "/api/v1/units/{unit_id}/ledger"): Access(ADMINS | AUDITORS),
    ("GET", "/api/v1/units/me/ledger"): Access(UNIT),
    ("POST", "/api/v1/units/{unit_id}/token/revoke"): Access(ADMINS),
    ("POST", "/api/v1/units/{unit_id}/token/rotate"): Access(ADMINS),
    ("GET", "/api/v1/audit/verify"): Access(AUDITORS),
    ("GET", "/api/v1/audit/log/checkpoint"): Access(AUDITORS),
    ("GET", "/api/v1/audit/log/tile/{level}/{index:path}"): Access(AUDITORS),
    ("GET", "/api/v1/audit/log/tile/entries/{index:path}"): Access(AUDITORS),
    # Whether an entry exists is not told to anyone who may not read its receipt.
    ("GET", "/api/v1/ledger/{entry_id}/receipt"): Access(UNIT | AUDITORS | {"marketplace"},
                                                      refused=404),
    ("GET", "/api/v1/audit/events"): Access(AUDITORS),
    ("GET", "/api/v1/audit/export"): Access(AUDITORS),
    # Webhooks: admins manage them; an endpoint is read and replayed by whoever may see it
    # (its unit, and admins), and is a 404 to everyone else, so that ids do not leak.
    ("GET", "/api/v1/webhooks"): Access(PEOPLE),  # each sees the endpoints visible to them
    ("POST", "/api/v1/webhooks"): Access(ADMINS, body={
        "url": "http://127.0.0.1:9/x", "events": ["decision.made"]}),  # refused as private: no DNS
    ("GET", "/api/v1/webhooks/{endpoint_id}"): Access(ADMINS | UNIT, refused=404),
    ("GET", "/api/v1/webhooks/{endpoint_id}/deliveries"): Access(ADMINS | UNIT, refused=404),
    ("POST", "/api/v1/webhooks/{endpoint_id}/replay"): Access(ADMINS | UNIT, refused=404,
                                                               body={"from_event_id": "none"}),
    ("POST", "/api/v1/webhooks/{endpoint_id}/rotate"): Access(ADMINS),
    ("DELETE", "/api/v1/webhooks/{endpoint_id}"): Access(ADMINS),
}  # fmt: skip

FORM = {"lease_token": "x", "decision": "reject", "comment": "x", "reason_code": "other",
        "effective_from": "2032-01-01T00:00", "rules": "tank destroyed 41", "reason": "x",
        "since": "2026-01-01", "until": "2026-01-02", "submission_id": "none",
        "decision_id": "none"}  # fmt: skip

PAGES: dict[tuple[str, str], Access | Open] = {
    ("GET", "/"): SIGN_IN,
    ("GET", "/favicon.ico"): Open("an icon"),
    ("GET", "/login"): SIGN_IN,
    ("POST", "/login"): SIGN_IN,
    ("GET", "/login/code"): SIGN_IN,
    ("POST", "/login/code"): SIGN_IN,
    ("GET", "/login/enrol"): SIGN_IN,
    ("POST", "/login/enrol"): SIGN_IN,
    ("POST", "/logout"): SIGN_IN,
    ("GET", "/account"): Access(PEOPLE),  # one's own settings: every person
    ("POST", "/account"): Access(PEOPLE),
    ("GET", "/review"): Access(STAFF),
    ("GET", "/review/stats"): Access(STAFF),
    ("GET", "/review/{item_id}"): Access(STAFF),
    ("POST", "/review/{item_id}/viewed"): Access(STAFF),
    ("POST", "/review/{item_id}/too-fast"): Access(
        REVIEWERS, body={"lease_token": "x", "decision": "approve"}
    ),
    ("POST", "/review/break-suggested"): Access(REVIEWERS),
    ("POST", "/review/claim"): Access(REVIEWERS),
    ("POST", "/review/undo"): Access(REVIEWERS),
    ("POST", "/review/{item_id}/claim"): Access(REVIEWERS),
    ("POST", "/review/{item_id}/decision"): Access(REVIEWERS),
    ("POST", "/review/{item_id}/release"): Access(REVIEWERS, body={"lease_token": "x"}),
    ("POST", "/review/{item_id}/heartbeat"): Access(REVIEWERS, body={"lease_token": "x"}),
    ("POST", "/review/{item_id}/overturn"): Access(SENIORS),
    ("POST", "/review/{item_id}/notes"): Access(REVIEWERS, form={"body": "roles"}),
    ("POST", "/review/bulk"): Access(SENIORS, form={"action": "release", "item_id": "none"}),
    ("POST", "/review/{item_id}/golden"): Access(SENIORS),
    ("GET", "/qa"): Access(STAFF),  # calibration: each reads their own; seniors everyone's
    ("POST", "/qa/rereviews/{rereview_id}/ruling"): Access(SENIORS),
    ("GET", "/appeals"): Access(SENIORS),
    ("POST", "/appeals/{appeal_id}/decision"): Access(SENIORS, form={"decision": "deny"}),
    ("GET", "/scoring/rules"): Access(STAFF),
    ("POST", "/scoring/rules"): Access(ADMINS),
    ("POST", "/scoring/rules/{version_id}/withdraw"): Access(ADMINS),
    ("POST", "/scoring/preview"): Access(ADMINS),
    ("GET", "/leaderboard"): Access(STAFF),
    ("GET", "/disputes"): Access(SENIORS | ADMINS | AUDITORS),
    ("POST", "/disputes/{dispute_id}/settle"): Access(SENIORS),
    ("GET", "/audit"): Access(AUDITORS),
    ("POST", "/audit/verify"): Access(AUDITORS),
    ("POST", "/audit/export.zip"): Access(AUDITORS),
    ("POST", "/audit/evidence.zip"): Access(AUDITORS | SENIORS),
    ("GET", "/unit"): Access(UNIT),
    ("GET", "/unit/claims/{submission_id}"): Access(UNIT),
    ("GET", "/unit/ledger/{entry_id}/receipt.json"): Access(UNIT),
    ("GET", "/docs"): Open("the API's documentation, public as /openapi.json is"),
    ("GET", "/unit/upload"): Access(UNIT),
    ("GET", "/unit/upload/position"): Access(UNIT),
    ("POST", "/unit/claims/{submission_id}/appeal"): Access(UNIT),
    ("GET", "/admin"): Access(ADMINS),
    ("GET", "/admin/labels"): Access(ADMINS),
    ("GET", "/admin/policies"): Access(ADMINS),
    ("POST", "/admin/policies"): Access(
        ADMINS, form={"reason_code": "other", "text_uk": "x", "text_en": "x"}
    ),
    ("GET", "/policies"): Access(STAFF),
    ("GET", "/policies/{reason_code}"): Access(STAFF),
    ("POST", "/admin/labels"): Access(ADMINS),
    ("POST", "/admin/units"): Access(ADMINS),
    ("GET", "/admin/units/{unit_id}"): Access(ADMINS),
    ("POST", "/admin/units/{unit_id}/rename"): Access(ADMINS),
    ("POST", "/admin/units/{unit_id}/deactivate"): Access(ADMINS),
    ("POST", "/admin/units/{unit_id}/tokens"): Access(ADMINS),
    ("POST", "/admin/units/{unit_id}/tokens/rotate"): Access(ADMINS),
    ("POST", "/admin/units/{unit_id}/tokens/revoke"): Access(ADMINS),
    ("POST", "/admin/units/{unit_id}/members"): Access(ADMINS),
    ("POST", "/admin/users"): Access(ADMINS),
    ("GET", "/admin/users/{user_id}"): Access(ADMINS),
    ("POST", "/admin/users/{user_id}/role"): Access(ADMINS),
    ("POST", "/admin/users/{user_id}/unit"): Access(ADMINS),
    ("POST", "/admin/users/{user_id}/deactivate"): Access(ADMINS),
    ("POST", "/admin/users/{user_id}/password"): Access(ADMINS),
    ("POST", "/admin/users/{user_id}/second-factor"): Access(ADMINS),
    ("POST", "/admin/users/{user_id}/token"): Access(ADMINS),
    ("POST", "/admin/webhooks"): Access(ADMINS),
    ("GET", "/admin/webhooks/{endpoint_id}"): Access(ADMINS),
    ("POST", "/admin/webhooks/{endpoint_id}/rotate"): Access(ADMINS),
    ("POST", "/admin/webhooks/{endpoint_id}/disable"): Access(ADMINS),
}


def is_api(path: str) -> bool:
    return path.startswith("/api/") or path in ("/healthz", "/readyz", "/metrics")


def test_every_route_has_an_expectation() -> None:
    routes = route_table()
    api = {r for r in routes if is_api(r[1])}
    assert sorted(api - API.keys()) == [], "API routes with no expectation in API"
    assert sorted(routes - api - PAGES.keys()) == [], "pages with no expectation in PAGES"
    assert sorted((API.keys() | PAGES.keys()) - routes) == [], "expectations of no route"


@pytest.fixture(scope="module")
def objects(stack: harness.Stack, accounts: Accounts) -> dict[str, str]:
    """Path parameters: a real queued item, claim, spare unit and webhook endpoint of the
    accounts' unit; made-up ids where a real one would be spent by the first allowed caller
    (the allowed caller then gets a 404, which is not a refusal)."""
    with session_factory()() as session:
        item = queued_item(session, accounts.unit_id)
        spare_unit, _ = make_unit(session)
    with stack.client(accounts.staff_tokens["admin"]) as admin:
        endpoint = admin.post("/api/v1/webhooks", json={
            "url": "http://127.0.0.1:9/roles", "events": ["decision.made"],
            "unit_id": accounts.unit_id, "allow_private_network": True})  # fmt: skip
        assert endpoint.status_code == 201, endpoint.text
    return {"item_id": item.id, "submission_id": item.submission_id, "unit_id": spare_unit,
            "endpoint_id": endpoint.json()["id"], "media_id": "none", "decision_id": "none",
            "entry_id": "none", "level": "0", "index": "000",
            "appeal_id": "none", "dispute_id": "none", "version_id": "none",
            "user_id": "none", "reason_code": "not_visible", "rereview_id": "none"}  # fmt: skip


def concrete(path: str, objects: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: objects[m[1]], path)


def error_code(response: Any) -> str:
    """The error's code from a JSON error body or from the HTML error page's heading."""
    if response.headers.get("content-type", "").startswith("application/json"):
        return str(response.json()["error"]["code"])
    heading = re.search(r'<h1 data-code="([a-z_]+)">(\d+) · ', response.text)
    assert heading, response.text
    assert heading[2] == str(response.status_code)
    return heading[1]


def order(table: dict[tuple[str, str], Access | Open]) -> list[tuple[str, str, Access]]:
    """The checked routes; those that disable or revoke something last, so that they do not
    take away what the others are tried on."""
    checked = [(m, p, a) for (m, p), a in table.items() if isinstance(a, Access)]
    return sorted(checked, key=lambda r: (r[0] == "DELETE" or r[1].endswith("revoke"), r[1]))


def test_api_routes_by_role(
    stack: harness.Stack, accounts: Accounts, objects: dict[str, str]
) -> None:
    callers = {"nobody": None, "unit": accounts.unit_token, **accounts.staff_tokens}
    # A unit's member calls the API from a page: the session cookie and the page's CSRF
    # token. The member may do what the unit's token may, and nothing more.
    member = web_login(stack, *make_login(Role.unit, unit_id=accounts.unit_id))
    for method, template, access in order(API):
        path = concrete(template, objects)
        for who in [*callers, "member"]:
            headers = {"Idempotency-Key": f"matrix-{who}"}
            if who == "member":
                headers |= {"X-CSRF-Token": member.csrf}
                response = member.client.request(method, path, json=access.body, headers=headers)
                who = "unit"
            else:
                with stack.client(callers[who]) as api:
                    response = api.request(method, path, json=access.body, headers=headers)
            status = response.status_code
            seen = (method, template, who, status, response.text[:200])
            if who in access.allowed:
                assert status not in DENIED and status < 500, seen
            elif who == "nobody":
                assert status == 401, seen
                assert error_code(response) in {"missing_token", "unauthenticated"}, seen
            else:
                assert status == access.refused, seen
                if access.refused == 403:
                    assert error_code(response) == "forbidden", seen


def test_web_pages_by_role(
    stack: harness.Stack, accounts: Accounts, objects: dict[str, str]
) -> None:
    # A unit's member signs in like staff, for the accounts' unit.
    members_unit = {Role.unit: accounts.unit_id}
    sessions = {
        role.value: web_login(stack, *make_login(role, unit_id=members_unit.get(role)))
        for role in Role
    }
    assert set(sessions) == PEOPLE
    for method, template, access in order(PAGES):
        path = concrete(template, objects)
        for who, web in sessions.items():
            assert web.csrf, who  # an empty token would be refused as CSRF, before any role check
            headers = {"Accept": "text/html"}
            if access.body is not None:  # the page's script: JSON, the token in a header
                headers["X-CSRF-Token"] = web.csrf
                kwargs: dict[str, Any] = {"json": access.body}
            else:
                form = FORM | (access.form or {}) | {"csrf_token": web.csrf}
                kwargs = {"data": form if method == "POST" else None}
            response = web.client.request(method, path, headers=headers, **kwargs)
            seen = (method, template, who, response.status_code, response.text[:200])
            if who in access.allowed:
                assert response.status_code not in DENIED and response.status_code < 500, seen
            else:
                assert response.status_code == access.refused, seen
                assert error_code(response) == "forbidden", seen
        with harness.httpx.Client(base_url=stack.url) as nobody:
            answer = nobody.request(method, path, data=FORM, headers={"Accept": "text/html"})
            assert answer.status_code == 303 and "/login" in answer.headers["location"], (
                method, template, answer.status_code)  # fmt: skip
