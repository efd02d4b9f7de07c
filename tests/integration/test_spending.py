"""Spending through the API on Postgres: racing debits never overdraw, retries are one spend."""

import threading
import uuid
from collections.abc import Iterator

import pytest

from mvq.auth.models import Role
from mvq.db import session_factory
from mvq.scoring import ledger
from mvq.scoring.models import EntryType, LedgerEntry
from testkit import harness
from testkit.people import make_staff, make_unit
from tests.helpers import run_threads


@pytest.fixture(scope="module")
def pg_stack(backing: harness.Backing, postgres_database: str) -> Iterator[harness.Stack]:
    stack = harness.start_stack(backing, postgres_database, workers=0, api_workers=2)
    try:
        yield stack
    finally:
        stack.group.stop()


def funded_unit(points: int) -> str:
    with session_factory()() as session:
        unit_id, _ = make_unit(session)
        award = LedgerEntry(unit_id=unit_id, entry_type=EntryType.award, points=points)
        ledger.append(session, award, actor="test")
        session.commit()
    return unit_id


def test_parallel_debits_never_take_a_balance_below_zero(pg_stack: harness.Stack) -> None:
    with session_factory()() as session:
        market = make_staff(session, Role.marketplace)
    unit_id = funded_unit(100)
    statuses: list[int] = []
    barrier = threading.Barrier(24)

    def spend() -> None:
        with pg_stack.client(market) as api:
            barrier.wait()
            answer = api.post(f"/api/v1/units/{unit_id}/debits", json={"points": 10},
                              headers={"Idempotency-Key": uuid.uuid4().hex})  # fmt: skip
            statuses.append(answer.status_code)

    run_threads([spend] * 24, timeout=60)
    assert sorted(statuses) == [201] * 10 + [409] * 14
    with session_factory()() as session:
        assert ledger.balance(session, unit_id=unit_id) == 0


def test_a_retried_spend_is_one_spend_and_a_reused_key_is_refused(pg_stack: harness.Stack) -> None:
    with session_factory()() as session:
        admin = make_staff(session, Role.admin)
        reviewer = make_staff(session, Role.reviewer)
    unit_id = funded_unit(50)
    key = {"Idempotency-Key": "order-7731"}
    with pg_stack.client(admin) as api:
        first = api.post(f"/api/v1/units/{unit_id}/debits", json={"points": 20}, headers=key)
        again = api.post(f"/api/v1/units/{unit_id}/debits", json={"points": 20}, headers=key)
        other = api.post(f"/api/v1/units/{unit_id}/debits", json={"points": 25}, headers=key)
        assert first.status_code == 201 and again.status_code == 200
        assert first.json()["entry_id"] == again.json()["entry_id"]
        assert again.json()["balance"] == 30
        assert other.status_code == 409
        assert other.json()["error"]["code"] == "idempotency_mismatch"
        seen = api.get(f"/api/v1/units/{unit_id}/ledger").json()
        assert seen["balance"] == 30 and len(seen["entries"]) == 2
    with pg_stack.client(reviewer) as api:
        refused = api.post(f"/api/v1/units/{unit_id}/debits", json={"points": 1},
                           headers={"Idempotency-Key": "x"})  # fmt: skip
        assert refused.status_code == 403
