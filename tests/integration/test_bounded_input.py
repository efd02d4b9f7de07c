"""Datetimes at the edges of what Python and the databases hold, in request bodies, through
the real HTTP API: each is refused with 422 invalid_value, never a 500, never stored, never
audited."""

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from mvq.audit.models import AuditEvent
from mvq.db import session_factory
from testkit import harness
from testkit.claims import claim_body
from testkit.people import Accounts

EXTREMES = [
    "0001-01-01T00:00:00+14:00",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59-14:00",
    "9999-12-31T23:59:59Z",
    "1000-01-01T00:00:00Z",
    "2026-01-01T00:00:00+23:59",
    "2026-01-01T00:00:00+99:00",
    "2026-13-45T00:00:00Z",
]
# Past 2100 a claim is in the future (its own check), a rules version out of bounds.
FAR = ["2100-01-01T00:00:00Z", "3000-01-01T00:00:00Z"]
NAIVE = "2026-01-01T00:00:00"
RULES = [{"target_type": "tank", "outcome": "destroyed", "points": 10}]


def _assert_invalid(answer: httpx.Response, value: str) -> None:
    assert answer.status_code == 422, (value, answer.status_code, answer.text)
    error = answer.json()["error"]
    assert error["code"] == "invalid_value", (value, error)


@pytest.fixture
def events(database: str) -> Iterator[Any]:
    def count() -> int:
        # A session of its own each time: an open read would hold SQLite's lock on the API.
        with session_factory(database)() as session:
            return int(session.scalar(select(func.count()).select_from(AuditEvent)) or 0)

    yield count


@pytest.mark.parametrize("value", EXTREMES)
def test_a_claim_with_an_extreme_time_is_refused(
    stack: harness.Stack, accounts: Accounts, events: Any, value: str
) -> None:
    before = events()
    with stack.client(accounts.unit_token) as api:
        answer = api.post("/api/v1/submissions", json=claim_body(occurred_at=value),
                          headers={"Idempotency-Key": uuid.uuid4().hex})  # fmt: skip
    _assert_invalid(answer, value)
    assert events() == before


def test_a_naive_time_is_refused_as_before(stack: harness.Stack, accounts: Accounts) -> None:
    with stack.client(accounts.staff_tokens["admin"]) as api:
        for body in ({"effective_from": NAIVE, "rules": RULES},):
            answer = api.post("/api/v1/scoring/rules", json=body)
            assert answer.status_code == 422, answer.text
            assert answer.json()["error"]["code"] == "validation_error"


@pytest.mark.parametrize("value", EXTREMES + FAR)
def test_a_rules_version_or_preview_with_an_extreme_time_is_refused(
    stack: harness.Stack, accounts: Accounts, events: Any, value: str
) -> None:
    before = events()
    with stack.client(accounts.staff_tokens["admin"]) as api:
        version = api.post("/api/v1/scoring/rules", json={"effective_from": value, "rules": RULES})
        _assert_invalid(version, value)
        for since, until in ((value, "2026-01-01T00:00:00Z"), ("2026-01-01T00:00:00Z", value)):
            draft = api.post("/api/v1/scoring/preview",
                             json={"rules": RULES, "since": since, "until": until})  # fmt: skip
            _assert_invalid(draft, value)
    assert events() == before


@pytest.mark.parametrize("value", EXTREMES + FAR)
def test_a_period_with_an_extreme_end_is_refused_and_no_export_is_recorded(
    stack: harness.Stack, accounts: Accounts, events: Any, value: str
) -> None:
    before = events()
    for role, path in (("admin", "/api/v1/leaderboard"), ("auditor", "/api/v1/audit/export")):
        with stack.client(accounts.staff_tokens[role]) as api:
            for name in ("since", "until"):
                _assert_invalid(api.get(path, params={name: value}), value)
    assert events() == before
