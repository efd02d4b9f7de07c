"""Re-scoring preview: what a draft points table would have awarded over a past period, next to
what was awarded. Reads the ledger, writes nothing: this is how a points change is planned."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from mvq.auth import policy
from mvq.auth.policy import Action
from mvq.auth.principal import Principal
from mvq.review.models import Decision
from mvq.rules.service import RuleRow
from mvq.scoring.models import Dispute, EntryType, LedgerEntry
from mvq.submissions.models import Submission, SubmissionStatus
from mvq.units.models import Unit


@dataclass(frozen=True)
class PreviewRow:
    unit_id: str
    unit_name: str
    claims: int
    awarded: int
    draft: int

    @property
    def difference(self) -> int:
        return self.draft - self.awarded


def preview(
    session: Session, *, editor: Principal, rows: list[RuleRow], since: datetime, until: datetime
) -> list[PreviewRow]:
    policy.require(editor, Action.edit_rules)
    draft = {(r.target_type.strip().lower(), r.outcome): r.points for r in rows}
    awards = session.execute(
        select(LedgerEntry, Decision.target_type, Decision.outcome, Dispute.points)
        .join(Decision, Decision.id == LedgerEntry.decision_id)
        .join(Submission, Submission.id == LedgerEntry.submission_id)
        .outerjoin(Dispute, Dispute.id == LedgerEntry.dispute_id)
        .where(
            LedgerEntry.entry_type == EntryType.award,
            LedgerEntry.created_at >= since,
            LedgerEntry.created_at < until,
            # Awards that still stand; a reversed claim would have earned nothing either way.
            Submission.status == SubmissionStatus.approved,
        )
    ).all()
    totals: dict[str, list[int]] = {}
    for entry, target_type, outcome, dispute_points in awards:
        would = draft.get((target_type, outcome), 0)
        if dispute_points:  # a split award keeps its share of the target
            would = round(would * entry.points / dispute_points)
        row = totals.setdefault(entry.unit_id, [0, 0, 0])
        row[0] += 1
        row[1] += entry.points
        row[2] += would
    names = {
        u: n for u, n in session.execute(select(Unit.id, Unit.name).where(Unit.id.in_(totals)))
    }
    return sorted(
        (PreviewRow(u, names.get(u, "?"), c, a, d) for u, (c, a, d) in totals.items()),
        key=lambda r: (-r.draft, r.unit_name),
    )
