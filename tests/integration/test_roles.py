"""Every staff route, tried with every role, a unit token and nobody: only the intended
callers get through, on the API and on the web pages."""

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
        ("POST", f"/api/v1/units/{o['spare_unit']}/token/revoke", None, {"admin"}),
    ]  # fmt: skip


def test_api_routes_by_role(stack: harness.Stack, accounts: Accounts, objects: dict) -> None:  # type: ignore[type-arg]
    callers = {"nobody": None, "unit": accounts.unit_token, **accounts.staff_tokens}
    for method, path, body, allowed in api_routes(objects):
        for who, token in callers.items():
            with stack.client(token) as api:
                status = api.request(method, path, json=body).status_code
            if who in allowed:
                assert status not in DENIED and status < 500, (method, path, who, status)
            else:
                assert status == (401 if who == "nobody" else 403), (method, path, who, status)


def test_web_pages_by_role(stack: harness.Stack, accounts: Accounts, objects: dict) -> None:  # type: ignore[type-arg]
    item = objects["item"]
    pages = [
        ("GET", "/review", VIEWERS),
        ("GET", "/review/stats", VIEWERS),
        ("GET", f"/review/{item}", VIEWERS),
        ("POST", "/review/claim", REVIEWERS),
        ("POST", f"/review/{item}/decision", REVIEWERS),
        ("POST", f"/review/{item}/overturn", {"senior"}),
    ]
    sessions = {role.value: web_login(stack, *make_login(role)) for role in Role}
    form = {"lease_token": "x", "decision": "reject", "comment": "x", "reason_code": "other"}
    for method, path, allowed in pages:
        for who, web in sessions.items():
            data = form | {"csrf_token": web.csrf} if method == "POST" else None
            response = web.client.request(method, path, data=data, headers={"Accept": "text/html"})
            if who in allowed:
                assert response.status_code not in DENIED, (path, who, response.status_code)
                assert response.status_code < 500
            else:
                assert response.status_code == 403, (path, who, response.status_code)
        with harness.httpx.Client(base_url=stack.url) as nobody:
            answer = nobody.request(method, path, data=form, headers={"Accept": "text/html"})
            assert answer.status_code == 303 and "/login" in answer.headers["location"]
