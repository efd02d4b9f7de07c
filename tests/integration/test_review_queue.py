"""Leases and decisions at the service level, against both databases."""

import threading
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mvq.auth.models import Role
from mvq.auth.service import Principal
from mvq.db import session_factory
from mvq.errors import Conflict
from mvq.flows import decisions, intake
from mvq.review import service as review
from mvq.review.models import ItemState, ReviewItem
from mvq.scoring.models import LedgerEntry
from mvq.submissions.models import Submission, SubmissionStatus
from tests.integration.conftest import Accounts, make_unit, run_threads

NOW = datetime.now(UTC)


def reviewer(role: Role = Role.reviewer, unit_id: str | None = None) -> Principal:
    from mvq.auth import service as auth

    with session_factory()() as session:
        user, _ = auth.create_user(
            session,
            email=f"r{id(object())}{datetime.now().timestamp()}@t.mvq",
            role=role,
            unit_id=unit_id,
            actor="test",
        )
        session.commit()
    return Principal(kind="staff", id=user.id, role=role, unit_id=unit_id)


def queued_item(session: Session, unit_id: str, target_type: str = "tank") -> ReviewItem:
    submission = Submission(
        unit_id=unit_id,
        status=SubmissionStatus.in_queue,
        target_type=target_type,
        outcome="destroyed",
        occurred_at=NOW - timedelta(hours=1),
    )
    session.add(submission)
    session.flush()
    item = intake.queue_for_review(session, submission=submission)
    session.commit()
    return item


def leased_item(session: Session, unit_id: str, who: Principal) -> tuple[ReviewItem, str]:
    """A fresh item in the queue, claimed by `who`; returns it and its lease token."""
    item = queued_item(session, unit_id)
    leased = review.claim_next(session, reviewer=who, now=NOW, lease_seconds=60)
    session.commit()
    assert leased is not None and leased[0].id == item.id and leased[0].lease_token
    return item, leased[0].lease_token


@pytest.fixture
def empty_queue(database: str) -> None:
    with session_factory()() as session:
        session.query(ReviewItem).filter(
            ReviewItem.state.in_(["pending", "leased", "escalated"])
        ).update({"state": ItemState.decided}, synchronize_session=False)
        session.commit()


def test_no_item_is_ever_leased_to_two_reviewers(accounts: Accounts, empty_queue: None) -> None:
    with session_factory()() as session:
        items = {queued_item(session, accounts.unit_id).id for _ in range(120)}
    reviewers = [reviewer() for _ in range(50)]
    leased: list[tuple[str, str]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(reviewers))

    def work(who: Principal) -> None:
        barrier.wait()
        while True:
            with session_factory()() as session:
                claimed = review.claim_next(
                    session, reviewer=who, now=datetime.now(UTC), lease_seconds=600
                )
                session.commit()
            if claimed is None:
                return
            with lock:
                leased.append((claimed[0].id, who.id))

    run_threads([partial(work, r) for r in reviewers], timeout=120)
    claimed_ids = [item_id for item_id, _ in leased]
    assert sorted(claimed_ids) == sorted(items)  # every item once, none twice


def test_stale_lease_is_refused_and_expired_lease_returns_to_queue(
    accounts: Accounts, empty_queue: None
) -> None:
    first, second = reviewer(), reviewer()
    with session_factory()() as session:
        item = queued_item(session, accounts.unit_id)
        leased, _ = review.claim_next(session, reviewer=first, now=NOW, lease_seconds=60) or (
            None,
            None,
        )
        session.commit()
        assert leased is not None and leased.id == item.id
        token = leased.lease_token
        # While the lease holds, nobody else gets the item.
        assert review.claim_next(session, reviewer=second, now=NOW, lease_seconds=60) is None
        later = NOW + timedelta(seconds=61)
        again = review.claim_next(session, reviewer=second, now=later, lease_seconds=60)
        session.commit()
        assert again is not None and again[0].id == item.id
        with pytest.raises(Conflict) as info:
            decisions.decide(
                session,
                reviewer=first,
                item_id=item.id,
                lease_token=token or "",
                decision="approve",
                target_type=None,
                outcome=None,
                reason_code=None,
                comment=None,
                now=later,
            )
        assert info.value.code == "stale_lease"


def test_approval_awards_once_even_when_the_decision_is_retried(
    accounts: Accounts, empty_queue: None
) -> None:
    who = reviewer()
    with session_factory()() as session:
        item, token = leased_item(session, accounts.unit_id, who)
        kwargs = dict(
            reviewer=who,
            item_id=item.id,
            lease_token=token,
            decision="approve",
            target_type=None,
            outcome="damaged",
            reason_code=None,
            comment="hull intact",
            now=NOW,
        )
        decisions.decide(session, **kwargs)  # type: ignore[arg-type]
        session.commit()
        with pytest.raises(Conflict):
            decisions.decide(session, **kwargs)  # type: ignore[arg-type]
        session.rollback()
        entries = session.scalars(
            select(LedgerEntry).where(LedgerEntry.submission_id == item.submission_id)
        ).all()
    assert [(e.entry_type, e.points) for e in entries] == [("award", 20)]  # corrected to damaged


def test_reject_needs_a_reason_code_and_awards_nothing(
    accounts: Accounts, empty_queue: None
) -> None:
    who = reviewer()
    with session_factory()() as session:
        item, token = leased_item(session, accounts.unit_id, who)
        args = dict(
            reviewer=who,
            item_id=item.id,
            lease_token=token,
            target_type=None,
            outcome=None,
            comment=None,
            now=NOW,
        )
        from mvq.errors import Invalid

        with pytest.raises(Invalid):
            decisions.decide(session, decision="reject", reason_code=None, **args)  # type: ignore[arg-type]
        decisions.decide(session, decision="reject", reason_code="not_visible", **args)  # type: ignore[arg-type]
        session.commit()
        assert session.get_one(Submission, item.submission_id).status == "rejected"
        count = session.scalar(
            select(func.count())
            .select_from(LedgerEntry)
            .where(LedgerEntry.submission_id == item.submission_id)
        )
    assert count == 0


def test_escalated_items_go_to_seniors_and_nobody_judges_their_own_unit(
    accounts: Accounts, empty_queue: None
) -> None:
    with session_factory()() as session:
        own_unit, _ = make_unit(session)
        item = queued_item(session, own_unit)
    insider = reviewer(unit_id=own_unit)
    with session_factory()() as session:
        assert review.claim_next(session, reviewer=insider, now=NOW, lease_seconds=60) is None
    plain, senior = reviewer(), reviewer(Role.senior)
    with session_factory()() as session:
        leased = review.claim_next(session, reviewer=plain, now=NOW, lease_seconds=60)
        assert leased is not None and leased[0].id == item.id
        decisions.decide(
            session,
            reviewer=plain,
            item_id=item.id,
            lease_token=leased[0].lease_token or "",
            decision="escalate",
            target_type=None,
            outcome=None,
            reason_code=None,
            comment="needs a senior",
            now=NOW,
        )
        session.commit()
        assert review.claim_next(session, reviewer=reviewer(), now=NOW, lease_seconds=60) is None
        for_senior = review.claim_next(session, reviewer=senior, now=NOW, lease_seconds=60)
        session.commit()
    assert for_senior is not None and for_senior[0].id == item.id
