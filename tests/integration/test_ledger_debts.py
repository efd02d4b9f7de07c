"""A reversal after a spend leaves a debt the unit and staff see, never a negative balance;
later awards pay it off first. The marketplace reads only the ledgers of units it spent for."""

import uuid

from mvq.auth.models import Role
from mvq.db import session_factory
from mvq.scoring import ledger
from mvq.scoring.models import EntryType, LedgerEntry
from testkit import harness
from testkit.people import make_login, make_staff, make_unit, web_login

HTML = {"Accept": "text/html"}


def append(unit_id: str, entry_type: EntryType, points: int) -> None:
    with session_factory()() as session:
        ledger.append(session, LedgerEntry(unit_id=unit_id, entry_type=entry_type, points=points),
                      actor="test")  # fmt: skip
        session.commit()


def test_a_reversal_after_a_spend_is_a_debt_that_awards_pay_off_first(
    stack: harness.Stack,
) -> None:
    with session_factory()() as session:
        unit_id, unit_token = make_unit(session)
        admin = make_staff(session, Role.admin)
    append(unit_id, EntryType.award, 50)
    with stack.client(admin) as api:
        spent = api.post(f"/api/v1/units/{unit_id}/debits", json={"points": 40},
                         headers={"Idempotency-Key": uuid.uuid4().hex})  # fmt: skip
        assert spent.status_code == 201, spent.text
    append(unit_id, EntryType.reversal, -50)

    with stack.client(admin) as api:
        seen = api.get(f"/api/v1/units/{unit_id}/ledger").json()
        assert (seen["balance"], seen["debt"]) == (0, 40)
        more = api.post(f"/api/v1/units/{unit_id}/debits", json={"points": 1},
                        headers={"Idempotency-Key": uuid.uuid4().hex})  # fmt: skip
        assert more.status_code == 409 and more.json()["error"]["code"] == "insufficient_points"
    with stack.client(unit_token) as api:
        own = api.get("/api/v1/units/me/ledger").json()
        assert (own["balance"], own["debt"]) == (0, 40)
    member = web_login(stack, *make_login(Role.unit, unit_id=unit_id))
    page = member.client.get("/unit", headers=HTML)
    assert page.status_code == 200
    assert 'class="debt"><span class="figure">40</span> points owed' in page.text, page.text

    append(unit_id, EntryType.award, 30)  # pays 30 of the 40 owed
    with stack.client(unit_token) as api:
        own = api.get("/api/v1/units/me/ledger").json()
        assert (own["balance"], own["debt"]) == (0, 10)
    append(unit_id, EntryType.award, 25)
    with stack.client(unit_token) as api:
        own = api.get("/api/v1/units/me/ledger").json()
        assert (own["balance"], own["debt"]) == (15, 0)
    assert "points owed" not in member.client.get("/unit", headers=HTML).text


def test_the_marketplace_reads_only_the_ledgers_of_units_it_spent_for(
    stack: harness.Stack,
) -> None:
    with session_factory()() as session:
        market = make_staff(session, Role.marketplace)
        auditor = make_staff(session, Role.auditor)
        spent_for, _ = make_unit(session)
        other, _ = make_unit(session)
    append(spent_for, EntryType.award, 20)
    append(other, EntryType.award, 20)
    with stack.client(market) as api:
        before = api.get(f"/api/v1/units/{spent_for}/ledger")
        assert before.status_code == 403, before.text
        spent = api.post(f"/api/v1/units/{spent_for}/debits", json={"points": 5},
                         headers={"Idempotency-Key": uuid.uuid4().hex})  # fmt: skip
        assert spent.status_code == 201, spent.text
        assert api.get(f"/api/v1/units/{spent_for}/ledger").json()["balance"] == 15
        refused = api.get(f"/api/v1/units/{other}/ledger")
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["code"] == "forbidden"
    with stack.client(auditor) as api:
        assert api.get(f"/api/v1/units/{other}/ledger").status_code == 200
