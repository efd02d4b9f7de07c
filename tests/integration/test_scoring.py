"""Scoring at the service level on both databases: the version in force when the hit occurred,
split credit in disputes, and a ledger whose balance always equals its entries."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mvq.auth import policy
from mvq.auth.models import Role
from mvq.auth.principal import Principal
from mvq.db import session_factory
from mvq.errors import Conflict, Invalid
from mvq.flows import decisions, intake
from mvq.review import leases
from mvq.rules import service as rules
from mvq.scoring import ledger
from mvq.scoring.disputes import reading, settlement
from mvq.scoring.models import EntryType, LedgerEntry, UnitDailyPoints
from mvq.submissions.models import Submission, SubmissionStatus
from testkit.people import Accounts, make_unit
from tests.helpers import reviewer

CHANGE = datetime(2031, 3, 1, tzinfo=UTC)


def claim(
    session: Session,
    unit_id: str,
    target: str,
    occurred_at: datetime,
    lat: float | None = None,
    lon: float | None = None,
) -> Submission:
    submission = Submission(
        unit_id=unit_id,
        status=SubmissionStatus.in_queue,
        target_type=target,
        outcome="destroyed",
        occurred_at=occurred_at,
        lat=lat,
        lon=lon,
    )
    session.add(submission)
    session.flush()
    intake.queue_for_review(session, submission=submission)
    session.commit()
    return submission


def approve_next(session: Session, who: Principal, now: datetime) -> str:
    leased = leases.claim_next(session, reviewer=who, now=now, lease_seconds=60)
    assert leased is not None
    decisions.decide(
        session,
        reviewer=who,
        item_id=leased[0].id,
        lease_token=leased[0].lease_token or "",
        decision="approve",
        target_type=None,
        outcome=None,
        reason_code=None,
        comment=None,
        now=now,
    )
    session.commit()
    return leased[1].id


def points_of(session: Session, submission_id: str) -> int:
    return int(
        session.scalar(
            select(func.coalesce(func.sum(LedgerEntry.points), 0)).where(
                LedgerEntry.submission_id == submission_id
            )
        )
        or 0
    )


def test_an_award_uses_the_rules_in_force_when_the_hit_occurred(
    accounts: Accounts, empty_queue: None
) -> None:
    who = reviewer()
    with session_factory()() as session:
        rules.create_version(
            session,
            effective_from=CHANGE,
            editor=policy.OPERATOR,
            now=CHANGE,
            rows=[
                rules.RuleRow("infantry", "destroyed", 12),
                rules.RuleRow("tank", "destroyed", 40),
            ],
        )
        session.commit()
        before = claim(session, accounts.unit_id, "infantry", CHANGE - timedelta(days=1))
        after = claim(session, accounts.unit_id, "infantry", CHANGE + timedelta(hours=1))
        # Both reviewed well after the change: the day before still earns the old 6.
        reviewed = CHANGE + timedelta(days=10)
        approved = {approve_next(session, who, reviewed), approve_next(session, who, reviewed)}
        assert approved == {before.id, after.id}
        assert points_of(session, before.id) == 6
        assert points_of(session, after.id) == 12


def test_several_units_claiming_one_hit_wait_for_a_senior_who_splits_the_credit(
    accounts: Accounts, empty_queue: None
) -> None:
    first, second, senior = reviewer(), reviewer(), reviewer(Role.senior)
    hit = datetime.now(UTC) - timedelta(hours=3)
    with session_factory()() as session:
        unit_b, _ = make_unit(session)
        a = claim(session, accounts.unit_id, "tank", hit, 48.5, 35.0)
        b = claim(session, unit_b, "tank", hit + timedelta(minutes=20), 48.503, 35.002)
        found = reading.member_of(session, submission_id=a.id)
        assert found is not None and reading.member_of(session, submission_id=b.id)
        dispute = found[0]
        approve_next(session, first, datetime.now(UTC))
        approve_next(session, second, datetime.now(UTC))
        assert points_of(session, a.id) == points_of(session, b.id) == 0  # held
        with pytest.raises(Invalid):  # 41 is not what a tank is worth
            settlement.settle(
                session,
                senior=senior,
                dispute_id=dispute.id,
                shares={a.id: 30, b.id: 11},
                note=None,
                now=datetime.now(UTC),
            )
        session.rollback()
        awarded = settlement.settle(
            session,
            senior=senior,
            dispute_id=dispute.id,
            shares={a.id: 30, b.id: 10},
            note="a hit first",
            now=datetime.now(UTC),
        )
        session.commit()
        assert sorted(e.points for e in awarded) == [10, 30]
        assert points_of(session, a.id) == 30 and points_of(session, b.id) == 10
        with pytest.raises(Conflict):
            settlement.settle(
                session,
                senior=senior,
                dispute_id=dispute.id,
                shares={a.id: 40},
                note=None,
                now=datetime.now(UTC),
            )


def test_far_apart_claims_are_no_dispute(accounts: Accounts, empty_queue: None) -> None:
    hit = datetime.now(UTC) - timedelta(hours=3)
    with session_factory()() as session:
        unit_b, _ = make_unit(session)
        a = claim(session, accounts.unit_id, "apc", hit, 48.5, 35.0)
        b = claim(session, unit_b, "apc", hit, 48.6, 35.0)  # 11 km north
        c = claim(session, unit_b, "apc", hit + timedelta(hours=5), 48.5, 35.0)  # hours later
        for s in (a, b, c):
            assert reading.member_of(session, submission_id=s.id) is None


OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("award"), st.integers(1, 100)),
        st.tuples(st.just("debit"), st.integers(1, 150)),
        st.tuples(st.just("reverse"), st.just(0)),
    ),
    min_size=1,
    max_size=25,
)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(operations=OPERATIONS)
def test_the_balance_always_equals_its_entries(
    accounts: Accounts, operations: list[tuple[str, int]]
) -> None:
    with session_factory()() as session:
        unit_id, _ = make_unit(session)
        expected, awards = 0, []
        for n, (kind, points) in enumerate(operations):
            if kind == "award":
                entry = LedgerEntry(unit_id=unit_id, entry_type=EntryType.award, points=points)
                ledger.append(session, entry, actor="test")
                awards.append(points)
                expected += points
            elif kind == "debit":
                overdraws = points > expected
                try:
                    ledger.debit(
                        session,
                        unit_id=unit_id,
                        points=points,
                        idempotency_key=f"k{n}",
                        note=None,
                        spender=policy.OPERATOR,
                    )
                    assert not overdraws, ("a debit overdrew", points, expected)
                    expected -= points
                except Conflict:
                    assert overdraws, ("a covered debit was refused", points, expected)
            elif awards:
                taken = awards.pop()
                entry = LedgerEntry(unit_id=unit_id, entry_type=EntryType.reversal, points=-taken)
                ledger.append(session, entry, actor="test")
                expected -= taken
            session.commit()
        # A reversal after a spend is a debt, never a negative balance.
        held = ledger.position(session, unit_id=unit_id)
        assert held.balance - held.debt == expected and min(held.balance, held.debt) == 0
        days = session.scalar(
            select(func.sum(UnitDailyPoints.earned + UnitDailyPoints.spent)).where(
                UnitDailyPoints.unit_id == unit_id
            )
        )
        assert int(days or 0) == expected
