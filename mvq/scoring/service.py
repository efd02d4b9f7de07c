"""Awards and reversals: what an approval or an overturn writes to the ledger."""

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mvq.errors import Conflict, Invalid
from mvq.review.models import Decision
from mvq.rules.service import PriceTable
from mvq.scoring import ledger
from mvq.scoring.models import EntryType, LedgerEntry
from mvq.submissions.models import Submission


def award(
    session: Session,
    *,
    submission: Submission,
    decision: Decision,
    actor: str,
    prices: PriceTable,
) -> LedgerEntry:
    """The one award for an approval, priced by the rules in force when the hit occurred
    (`prices` is price_table(at=submission.occurred_at))."""
    if prices.version is None:
        raise Conflict("no rules version covers the claim's time", code="no_rules")
    points = prices.worth(decision.target_type, decision.outcome)
    if points is None:
        raise Invalid(
            f"no points rule for {decision.target_type}/{decision.outcome}", code="no_rule"
        )
    entry = LedgerEntry(
        unit_id=submission.unit_id,
        entry_type=EntryType.award,
        points=points,
        submission_id=submission.id,
        decision_id=decision.id,
        rule_version_id=prices.version.id,
        actor_id=decision.reviewer_id,
    )
    return ledger.append(session, entry, actor=actor)


def reverse(
    session: Session, *, submission: Submission, decision: Decision, actor: str
) -> LedgerEntry | None:
    """Takes back what the submission earned so far, as a new negative entry."""
    net = session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.points), 0)).where(
            LedgerEntry.submission_id == submission.id,
            LedgerEntry.entry_type.in_([EntryType.award, EntryType.reversal]),
        )
    )
    if not net:
        return None
    last_award = session.scalar(
        select(LedgerEntry)
        .where(
            LedgerEntry.submission_id == submission.id, LedgerEntry.entry_type == EntryType.award
        )
        .order_by(LedgerEntry.created_at.desc())
        .limit(1)
    )
    entry = LedgerEntry(
        unit_id=submission.unit_id,
        entry_type=EntryType.reversal,
        points=-int(net),
        submission_id=submission.id,
        decision_id=decision.id,
        rule_version_id=last_award.rule_version_id if last_award else None,
        actor_id=decision.reviewer_id,
    )
    return ledger.append(session, entry, actor=actor)
