"""Four-eyes, overturns and lease renewal at the service level, on both databases."""

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from mvq.auth import policy
from mvq.auth.models import Role
from mvq.auth.principal import Principal
from mvq.db import session_factory
from mvq.errors import Conflict, Forbidden
from mvq.flows import decisions
from mvq.review import leases, stats
from mvq.review.models import ItemState, ReviewItem
from mvq.scoring import ledger as points_ledger
from mvq.scoring.models import LedgerEntry
from mvq.submissions.models import Submission
from testkit.people import Accounts
from tests.helpers import NOW, queued_item, reviewer


def decide(session: Session, who: Principal, item_id: str, token: str, decision: str, **kw: str):  # type: ignore[no-untyped-def]
    args = dict(target_type=None, outcome=None, reason_code=None, comment=None) | kw
    record = decisions.decide(
        session,
        reviewer=who,
        item_id=item_id,
        lease_token=token,
        decision=decision,
        now=NOW,
        **args,  # type: ignore[arg-type]
    )
    session.commit()
    return record


def claim(session: Session, who: Principal) -> tuple[str, str] | None:
    leased = leases.claim_next(session, reviewer=who, now=NOW, lease_seconds=60)
    session.commit()
    return (leased[0].id, leased[0].lease_token or "") if leased else None


def ledger(session: Session, submission_id: str) -> list[tuple[str, int]]:
    rows = session.scalars(
        select(LedgerEntry)
        .where(LedgerEntry.submission_id == submission_id)
        .order_by(LedgerEntry.created_at)
    )
    return [(e.entry_type, e.points) for e in rows]


def test_a_high_value_claim_scores_only_after_a_second_reviewer_approves(
    accounts: Accounts, empty_queue: None
) -> None:
    first, second = reviewer(), reviewer()
    with session_factory()() as session:
        item = queued_item(session, accounts.unit_id, target_type="mlrs")  # 50 points
        assert item.points == 50
        item_id, token = claim(session, first) or ("", "")
        assert item_id == item.id
        decide(session, first, item_id, token, "approve")
        assert ledger(session, item.submission_id) == []
        assert session.get_one(Submission, item.submission_id).status == "in_queue"
        # The first approver never gets it back; someone else does.
        assert claim(session, first) is None
        again = claim(session, second)
        assert again is not None and again[0] == item.id
        decide(session, second, *again, "approve")
        assert ledger(session, item.submission_id) == [("award", 50)]
        assert session.get_one(Submission, item.submission_id).status == "approved"
        rows = stats.reviewer_stats(session, viewer=policy.OPERATOR, since=NOW - timedelta(days=1),
                                    until=NOW + timedelta(days=1))  # fmt: skip
    by_first = next(r for r in rows if r.reviewer_id == first.id)
    assert (by_first.second_looks, by_first.agreed, by_first.agreement) == (1, 1, 1.0)


def test_a_low_value_claim_scores_on_one_approval(accounts: Accounts, empty_queue: None) -> None:
    who = reviewer()
    with session_factory()() as session:
        item = queued_item(session, accounts.unit_id, target_type="tank")  # 40 < 50
        decide(session, who, *(claim(session, who) or ("", "")), "approve")
        assert ledger(session, item.submission_id) == [("award", 40)]


def test_a_second_reviewer_who_disagrees_sends_the_claim_to_a_senior(
    accounts: Accounts, empty_queue: None
) -> None:
    first, second, third, senior = reviewer(), reviewer(), reviewer(), reviewer(Role.senior)
    with session_factory()() as session:
        item = queued_item(session, accounts.unit_id, target_type="mlrs")
        decide(session, first, *(claim(session, first) or ("", "")), "approve")
        decide(session, second, *(claim(session, second) or ("", "")), "reject",
               reason_code="wrong_target")  # fmt: skip
        assert session.get_one(Submission, item.submission_id).status == "escalated"
        assert claim(session, third) is None  # plain reviewers no longer see it
        leased = claim(session, senior)
        assert leased is not None and leased[0] == item.id
        decide(session, senior, *leased, "approve")
        assert ledger(session, item.submission_id) == [("award", 50)]
        rows = stats.reviewer_stats(session, viewer=policy.OPERATOR, since=NOW - timedelta(days=1),
                                    until=NOW + timedelta(days=1))  # fmt: skip
    by_first = next(r for r in rows if r.reviewer_id == first.id)
    assert (by_first.second_looks, by_first.agreed) == (1, 0)  # the senior's ruling is no vote


def test_a_senior_overturns_an_approval_with_a_reversal_and_nothing_is_rewritten(
    accounts: Accounts, empty_queue: None
) -> None:
    who, senior = reviewer(), reviewer(Role.senior)
    with session_factory()() as session:
        item = queued_item(session, accounts.unit_id, target_type="tank")
        decide(session, who, *(claim(session, who) or ("", "")), "approve")
        before = points_ledger.balance(session, unit_id=accounts.unit_id)
        with pytest.raises(Forbidden):
            decisions.overturn(session, senior=who, item_id=item.id, decision="reject",
                            reason_code="staged_or_fake", comment="x", target_type=None,
                            outcome=None)  # fmt: skip
        decisions.overturn(session, senior=senior, item_id=item.id, decision="reject",
                        reason_code="staged_or_fake", comment="same clip as 2024",
                        target_type=None, outcome=None)  # fmt: skip
        session.commit()
        assert ledger(session, item.submission_id) == [("award", 40), ("reversal", -40)]
        assert points_ledger.balance(session, unit_id=accounts.unit_id) == before - 40
        assert session.get_one(Submission, item.submission_id).status == "rejected"
        with pytest.raises(Conflict):  # already rejected: nothing to overturn
            decisions.overturn(session, senior=senior, item_id=item.id, decision="reject",
                            reason_code="other", comment="again", target_type=None,
                            outcome=None)  # fmt: skip
        session.rollback()
        # And back: a new award, the reversal stays.
        decisions.overturn(session, senior=senior, item_id=item.id, decision="approve",
                        reason_code=None, comment="verified after all", target_type=None,
                        outcome=None)  # fmt: skip
        session.commit()
        assert ledger(session, item.submission_id) == [
            ("award", 40),
            ("reversal", -40),
            ("award", 40),
        ]


def test_an_overturn_to_a_four_eyes_approval_waits_for_a_second_senior(
    accounts: Accounts, empty_queue: None
) -> None:
    """No path awards a four-eyes claim on one person's word, a senior's overturn included."""
    who, senior, other_senior = reviewer(), reviewer(Role.senior), reviewer(Role.senior)
    with session_factory()() as session:
        item = queued_item(session, accounts.unit_id, target_type="mlrs")  # 50 points
        decide(session, who, *(claim(session, who) or ("", "")), "reject",
               reason_code="not_visible")  # fmt: skip
        decisions.overturn(session, senior=senior, item_id=item.id, decision="approve",
                           reason_code=None, comment="the launcher is visible at 0:04",
                           target_type=None, outcome=None)  # fmt: skip
        session.commit()
        assert session.get_one(Submission, item.submission_id).status == "escalated"
        assert ledger(session, item.submission_id) == []
        assert claim(session, senior) is None  # the proposer never gives the second approval
        leased = claim(session, other_senior)
        assert leased is not None and leased[0] == item.id
        decide(session, other_senior, *leased, "approve")
        assert session.get_one(Submission, item.submission_id).status == "approved"
        assert ledger(session, item.submission_id) == [("award", 50)]


def test_a_second_senior_who_disagrees_keeps_the_rejection(
    accounts: Accounts, empty_queue: None
) -> None:
    who, senior, other_senior = reviewer(), reviewer(Role.senior), reviewer(Role.senior)
    with session_factory()() as session:
        item = queued_item(session, accounts.unit_id, target_type="mlrs")
        decide(session, who, *(claim(session, who) or ("", "")), "reject",
               reason_code="not_visible")  # fmt: skip
        decisions.overturn(session, senior=senior, item_id=item.id, decision="approve",
                           reason_code=None, comment="x", target_type=None,
                           outcome=None)  # fmt: skip
        session.commit()
        decide(session, other_senior, *(claim(session, other_senior) or ("", "")), "reject",
               reason_code="not_visible")  # fmt: skip
        assert session.get_one(Submission, item.submission_id).status == "rejected"
        assert ledger(session, item.submission_id) == []


def test_a_heartbeat_keeps_the_lease_and_a_stale_token_cannot_renew(
    accounts: Accounts, empty_queue: None
) -> None:
    who, other = reviewer(), reviewer()
    with session_factory()() as session:
        item = queued_item(session, accounts.unit_id)
        item_id, token = claim(session, who) or ("", "")
        renewed = leases.renew_lease(session, reviewer=who, item_id=item_id, lease_token=token,
                                     now=NOW + timedelta(seconds=50), lease_seconds=60)  # fmt: skip
        session.commit()
        assert renewed == NOW + timedelta(seconds=110)
        # At 100 s the original lease would have expired; the renewed one still holds.
        later = NOW + timedelta(seconds=100)
        assert leases.claim_next(session, reviewer=other, now=later, lease_seconds=60) is None
        session.rollback()
        with pytest.raises(Conflict):
            leases.renew_lease(session, reviewer=other, item_id=item_id, lease_token=token,
                               now=later, lease_seconds=60)  # fmt: skip
        with pytest.raises(Conflict):
            leases.renew_lease(session, reviewer=who, item_id=item_id, lease_token="forged",
                               now=later, lease_seconds=60)  # fmt: skip
        assert session.get_one(ReviewItem, item.id).state == ItemState.leased


def test_admins_and_auditors_may_look_but_not_decide(accounts: Accounts, empty_queue: None) -> None:
    lookers = [reviewer(Role.admin), reviewer(Role.auditor)]
    with session_factory()() as session:
        queued_item(session, accounts.unit_id)
        for who in lookers:
            with pytest.raises(Forbidden):
                leases.claim_next(session, reviewer=who, now=NOW, lease_seconds=60)
