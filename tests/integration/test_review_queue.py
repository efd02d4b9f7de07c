"""Leases and decisions at the service level, against both databases."""

import threading
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from mvq.auth import policy
from mvq.auth.models import Role
from mvq.auth.principal import Principal
from mvq.db import session_factory
from mvq.errors import Conflict
from mvq.flows import decisions
from mvq.review import leases, stats, undo
from mvq.review.models import ItemState, ReviewItem
from mvq.scoring.models import LedgerEntry
from mvq.submissions.models import Submission
from testkit.people import Accounts, make_unit
from tests.helpers import NOW, queued_item, reviewer, run_threads


def leased_item(session: Session, unit_id: str, who: Principal) -> tuple[ReviewItem, str]:
    """A fresh item in the queue, claimed by `who`; returns it and its lease token."""
    item = queued_item(session, unit_id)
    leased = leases.claim_next(session, reviewer=who, now=NOW, lease_seconds=60)
    session.commit()
    assert leased is not None and leased[0].id == item.id and leased[0].lease_token
    return item, leased[0].lease_token


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
                claimed = leases.claim_next(
                    session, reviewer=who, now=datetime.now(UTC), lease_seconds=600
                )
                session.commit()
                if claimed is None:
                    return
                with lock:
                    leased.append((claimed[0].id, who.id))
                # Decided before the next claim: `claim_next` hands a reviewer back the item
                # they still hold, so an undecided item would come back to them forever.
                decisions.decide(session, reviewer=who, item_id=claimed[0].id,
                                 lease_token=claimed[0].lease_token or "", decision="reject",
                                 target_type=None, outcome=None, reason_code="other",
                                 comment=None, now=datetime.now(UTC))  # fmt: skip
                session.commit()

    run_threads([partial(work, r) for r in reviewers], timeout=120)
    claimed_ids = [item_id for item_id, _ in leased]
    assert sorted(claimed_ids) == sorted(items)  # every item once, none twice


def test_stale_lease_is_refused_and_expired_lease_returns_to_queue(
    accounts: Accounts, empty_queue: None
) -> None:
    first, second = reviewer(), reviewer()
    with session_factory()() as session:
        item = queued_item(session, accounts.unit_id)
        leased, _ = leases.claim_next(session, reviewer=first, now=NOW, lease_seconds=60) or (
            None,
            None,
        )
        session.commit()
        assert leased is not None and leased.id == item.id
        token = leased.lease_token
        # While the lease holds, nobody else gets the item.
        assert leases.claim_next(session, reviewer=second, now=NOW, lease_seconds=60) is None
        later = NOW + timedelta(seconds=61)
        again = leases.claim_next(session, reviewer=second, now=later, lease_seconds=60)
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
        assert leases.claim_next(session, reviewer=insider, now=NOW, lease_seconds=60) is None
    plain, senior = reviewer(), reviewer(Role.senior)
    with session_factory()() as session:
        leased = leases.claim_next(session, reviewer=plain, now=NOW, lease_seconds=60)
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
        assert leases.claim_next(session, reviewer=reviewer(), now=NOW, lease_seconds=60) is None
        for_senior = leases.claim_next(session, reviewer=senior, now=NOW, lease_seconds=60)
        session.commit()
    assert for_senior is not None and for_senior[0].id == item.id


def decide(
    session: Session,
    who: Principal,
    item_id: str,
    token: str,
    decision: str,
    now: datetime,
    **extra: object,
):  # type: ignore[no-untyped-def]
    args: dict[str, object] = dict(target_type=None, outcome=None, reason_code=None, comment=None)
    return decisions.decide(session, reviewer=who, item_id=item_id, lease_token=token,
                            decision=decision, now=now, **(args | extra))  # type: ignore[arg-type]  # fmt: skip


def audit_actions(session: Session, object_id: str) -> list[str]:
    from mvq.audit.models import AuditEvent

    return list(
        session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.object_id == object_id)
            .order_by(AuditEvent.seq)
        )
    )


def test_next_returns_an_item_still_leased_to_you_before_a_new_one(
    accounts: Accounts, empty_queue: None
) -> None:
    who = reviewer()
    with session_factory()() as session:
        first, token = leased_item(session, accounts.unit_id, who)
        queued_item(session, accounts.unit_id)  # a second item waits
        again = leases.claim_next(session, reviewer=who, now=NOW, lease_seconds=60)
        session.commit()
        assert again is not None and again[0].id == first.id and again[0].lease_token == token
        # The same lease, not a second claim: one `review.leased` on the item.
        assert audit_actions(session, first.id).count("review.leased") == 1


def test_renewal_is_silent_and_release_returns_the_item_audited(
    accounts: Accounts, empty_queue: None
) -> None:
    who = reviewer()
    with session_factory()() as session:
        item, token = leased_item(session, accounts.unit_id, who)
        before = audit_actions(session, item.id)
        leases.renew_lease(session, reviewer=who, item_id=item.id, lease_token=token, now=NOW,
                           lease_seconds=60)  # fmt: skip
        session.commit()
        assert audit_actions(session, item.id) == before  # no event per heartbeat
        leases.release(session, reviewer=who, item_id=item.id, lease_token=token, now=NOW,
                       reason="idle")  # fmt: skip
        session.commit()
        session.expire_all()
        assert session.get_one(ReviewItem, item.id).state == ItemState.pending
        assert session.get_one(Submission, item.submission_id).status == "in_queue"
        assert audit_actions(session, item.id)[-1] == "review.released"
        with pytest.raises(Conflict) as lost:  # the released lease renews no more
            leases.renew_lease(session, reviewer=who, item_id=item.id, lease_token=token,
                               now=NOW, lease_seconds=60)  # fmt: skip
        assert lost.value.code == "stale_lease" and "no longer hold" in lost.value.message


def test_claim_this_item_follows_the_queue_rules(accounts: Accounts, empty_queue: None) -> None:
    with session_factory()() as session:
        own_unit, _ = make_unit(session)
        theirs = queued_item(session, own_unit)
        other = queued_item(session, accounts.unit_id)
    insider, plain, rival = reviewer(unit_id=own_unit), reviewer(), reviewer()
    with session_factory()() as session:
        with pytest.raises(Conflict):  # conflict of interest
            leases.claim_item(session, reviewer=insider, item_id=theirs.id, now=NOW,
                              lease_seconds=60)  # fmt: skip
        session.rollback()
        # Not the first in line, yet claimable from its own page.
        item, _ = leases.claim_item(session, reviewer=plain, item_id=other.id, now=NOW,
                                    lease_seconds=60)  # fmt: skip
        session.commit()
        assert item.id == other.id and item.leased_by == plain.id
        with pytest.raises(Conflict) as taken:  # someone else holds it
            leases.claim_item(session, reviewer=rival, item_id=other.id, now=NOW,
                              lease_seconds=60)  # fmt: skip
        assert taken.value.code == "not_claimable"
        session.rollback()
        token = item.lease_token or ""
        decide(session, plain, other.id, token, "escalate", NOW)
        session.commit()
        with pytest.raises(Conflict):  # escalated: seniors only
            leases.claim_item(session, reviewer=rival, item_id=other.id, now=NOW,
                              lease_seconds=60)  # fmt: skip
        session.rollback()
        senior = reviewer(Role.senior)
        got, _ = leases.claim_item(session, reviewer=senior, item_id=other.id, now=NOW,
                                   lease_seconds=60)  # fmt: skip
        session.commit()
        assert got.leased_by == senior.id


def fresh_lease(
    session: Session, unit_id: str, who: Principal, now: datetime
) -> tuple[ReviewItem, str]:
    """Like `leased_item`, at the real time: an undo's window is counted from the decision's
    real creation time."""
    item = queued_item(session, unit_id)
    leased = leases.claim_next(session, reviewer=who, now=now, lease_seconds=60)
    session.commit()
    assert leased is not None and leased[0].id == item.id and leased[0].lease_token
    return item, leased[0].lease_token


def ledger_of(session: Session, submission_id: str) -> list[tuple[str, int]]:
    return [
        (e.entry_type, e.points)
        for e in session.scalars(
            select(LedgerEntry)
            .where(LedgerEntry.submission_id == submission_id)
            .order_by(LedgerEntry.created_at, LedgerEntry.id)
        )
    ]


def test_undo_of_an_approval_reverses_the_award_and_gives_the_lease_back(
    accounts: Accounts, empty_queue: None
) -> None:
    from mvq.review.models import Decision

    who = reviewer()
    now = datetime.now(UTC)
    with session_factory()() as session:
        item, token = fresh_lease(session, accounts.unit_id, who, now)
        approved = decide(session, who, item.id, token, "approve", now)
        session.commit()
        assert ledger_of(session, item.submission_id) == [("award", 40)]
        undone = decisions.undo(session, reviewer=who, decision_id=approved.id, now=now,
                                lease_seconds=60, undo_seconds=10)  # fmt: skip
        session.commit()
        session.expire_all()
        # Nothing rewritten: the award stays and a reversal naming the undo follows it.
        assert ledger_of(session, item.submission_id) == [("award", 40), ("reversal", -40)]
        back = session.get_one(ReviewItem, item.id)
        assert back.state == ItemState.leased and back.leased_by == who.id
        assert back.lease_token == undone.record.lease_token != token
        assert session.get_one(Submission, item.submission_id).status == "in_review"
        rows = session.scalars(
            select(Decision).where(Decision.submission_id == item.submission_id)
            .order_by(Decision.created_at, Decision.id)
        ).all()  # fmt: skip
        assert [(d.stage, d.overturns_id) for d in rows] == [("review", None),
                                                            ("undo", approved.id)]  # fmt: skip
        actions = audit_actions(session, undone.record.id)
        assert actions == ["review.undo"]
        # Decided again under the new lease: a fresh award, the claim paid once net.
        decide(session, who, item.id, back.lease_token or "", "approve", now)
        session.commit()
        assert sum(p for _, p in ledger_of(session, item.submission_id)) == 40
        # Undo once: the undo record is the reviewer's last word until they decide again.
        last = undo.last_own_decision(session, reviewer=who)
        assert last is not None and last.stage == "review"
        # The stats count the decision made again, not the one taken back.
        (row,) = [r for r in stats.reviewer_stats(session, viewer=policy.OPERATOR,
                                                  since=now - timedelta(hours=1),
                                                  until=now + timedelta(hours=1))
                  if r.reviewer_id == who.id]  # fmt: skip
        assert row.decisions == 1


def test_undo_is_refused_late_by_others_and_after_someone_took_the_item(
    accounts: Accounts, empty_queue: None
) -> None:
    who, other = reviewer(), reviewer()
    now = datetime.now(UTC)
    with session_factory()() as session:
        item, token = fresh_lease(session, accounts.unit_id, who, now)
        record = decide(session, who, item.id, token, "reject", now, reason_code="not_visible")
        session.commit()
        with pytest.raises(Conflict) as late:
            decisions.undo(session, reviewer=who, decision_id=record.id,
                           now=now + timedelta(seconds=11), lease_seconds=60,
                           undo_seconds=10)  # fmt: skip
        assert late.value.code == "undo_expired"
        with pytest.raises(Conflict):  # not their decision
            decisions.undo(session, reviewer=other, decision_id=record.id, now=now,
                           lease_seconds=60, undo_seconds=10)  # fmt: skip
        session.rollback()
        # A first approval of four-eyes goes back to the queue; once someone else claims it,
        # the first approver's undo is refused and changes nothing.
        big = queued_item(session, accounts.unit_id, target_type="mlrs")
        leased = leases.claim_next(session, reviewer=who, now=now, lease_seconds=60)
        session.commit()
        assert leased is not None and leased[0].id == big.id
        first = decide(session, who, big.id, leased[0].lease_token or "", "approve", now)
        session.commit()
        taken = leases.claim_next(session, reviewer=other, now=now, lease_seconds=60)
        session.commit()
        assert taken is not None and taken[0].id == big.id
        with pytest.raises(Conflict) as moved:
            decisions.undo(session, reviewer=who, decision_id=first.id, now=now,
                           lease_seconds=60, undo_seconds=10)  # fmt: skip
        assert moved.value.code == "undo_moved"
        session.rollback()
        session.expire_all()
        assert session.get_one(ReviewItem, big.id).leased_by == other.id


def test_undo_of_a_first_approval_clears_the_first_reviewer(
    accounts: Accounts, empty_queue: None
) -> None:
    who = reviewer()
    now = datetime.now(UTC)
    with session_factory()() as session:
        big = queued_item(session, accounts.unit_id, target_type="mlrs")
        leased = leases.claim_next(session, reviewer=who, now=now, lease_seconds=60)
        session.commit()
        assert leased is not None
        first = decide(session, who, big.id, leased[0].lease_token or "", "approve", now)
        session.commit()
        decisions.undo(session, reviewer=who, decision_id=first.id, now=now, lease_seconds=60,
                       undo_seconds=10)  # fmt: skip
        session.commit()
        session.expire_all()
        back = session.get_one(ReviewItem, big.id)
        assert back.first_reviewer_id is None and back.leased_by == who.id
        assert not back.senior_only and ledger_of(session, big.submission_id) == []


@pytest.mark.parametrize("sort", ["claim", "oldest", "newest"])
def test_keyset_pages_walk_the_whole_queue_once_in_order(
    accounts: Accounts, empty_queue: None, sort: str
) -> None:
    from mvq.review import queue

    senior = reviewer(Role.senior)
    now = datetime.now(UTC)
    with session_factory()() as session:
        for n in range(7):
            queued_item(session, accounts.unit_id, target_type=("tank", "apc", "mlrs")[n % 3])
        # One escalated item, so the claim order's first key (the seniors' lane) varies too.
        escalated = queued_item(session, accounts.unit_id)
        session.execute(
            update(ReviewItem)
            .where(ReviewItem.id == escalated.id)
            .values(state=ItemState.escalated, senior_only=True)
        )
        session.commit()
        filters = queue.QueueFilters(sort=sort)
        whole = queue.queue_rows(session, viewer=senior, filters=filters, now=now)
        assert len(whole) == 8
        pages, after = [], None
        while True:
            rows = queue.queue_rows(session, viewer=senior, filters=filters, now=now, limit=3,
                                    after=after)  # fmt: skip
            pages.append([r.item_id for r in rows])
            if len(rows) < 3:
                break
            after = rows[-1].cursor
    assert [i for page in pages for i in page] == [r.item_id for r in whole]
    if sort == "claim":
        assert whole[0].item_id == escalated.id  # seniors: escalated first
