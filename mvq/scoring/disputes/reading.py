"""How a dispute stands now: its claims with what each was paid and decided, what the target
is worth, and the disputes a viewer may see. Reads only."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mvq.auth import policy
from mvq.auth.policy import Action
from mvq.auth.principal import Principal
from mvq.media.flags import capture_time
from mvq.media.models import Media, MediaStatus
from mvq.review import decisions
from mvq.review.models import Decision
from mvq.rules import service as rules
from mvq.scoring.models import Dispute, DisputeMember, DisputeStatus, EntryType, LedgerEntry
from mvq.submissions.models import Submission, SubmissionStatus

# Claims that may still earn points: waiting, in review, escalated or approved.
LIVE = (
    SubmissionStatus.in_queue,
    SubmissionStatus.in_review,
    SubmissionStatus.escalated,
    SubmissionStatus.approved,
)


def member_ids(session: Session, dispute_id: str) -> list[str]:
    return list(
        session.scalars(
            select(DisputeMember.submission_id).where(DisputeMember.dispute_id == dispute_id)
        )
    )


def paid_by_claim(session: Session, submission_ids: list[str]) -> dict[str, int]:
    """Net points the ledger holds for each claim (awards and reversals)."""
    rows = session.execute(
        select(LedgerEntry.submission_id, func.sum(LedgerEntry.points))
        .where(
            LedgerEntry.submission_id.in_(submission_ids),
            LedgerEntry.entry_type.in_([EntryType.award, EntryType.reversal]),
        )
        .group_by(LedgerEntry.submission_id)
    ).all()
    return {sid: int(points or 0) for sid, points in rows if sid is not None}


def member_of(session: Session, *, submission_id: str) -> tuple[Dispute, DisputeMember] | None:
    row = session.execute(
        select(Dispute, DisputeMember)
        .join(DisputeMember, DisputeMember.dispute_id == Dispute.id)
        .where(DisputeMember.submission_id == submission_id)
    ).first()
    return (row[0], row[1]) if row else None


@dataclass
class Contender:
    """One member of a dispute as it stands now."""

    member: DisputeMember
    submission: Submission
    decision: Decision | None  # the latest decision on the claim
    paid: int  # net points the ledger holds for the claim
    award_decisions: set[str]  # decisions that already wrote an award for it
    captured_at: datetime | None  # the earliest capture time its files declare or record

    @property
    def live(self) -> bool:
        return self.submission.status in LIVE

    @property
    def approved(self) -> bool:
        return self.submission.status == SubmissionStatus.approved

    @property
    def payable(self) -> bool:
        """May be given a share now: approved, paid nothing, and its approval has not written
        an award yet (one award per decision). A claim not yet approved gets no share: what
        it is worth is not judged yet; approved after a settlement, it reopens the dispute."""
        if not self.approved or self.paid or self.decision is None:
            return False
        return self.decision.id not in self.award_decisions


@dataclass
class Worth:
    """What the target is worth: the approved (else claimed) target and outcome, priced by the
    rules in force at the earliest occurrence the footage supports."""

    points: int | None
    target_type: str
    outcome: str
    as_claimed: bool  # no member approved yet: priced as claimed
    value_at: datetime
    from_capture: bool  # value_at is a file's capture time, not the first claim's stated time
    rule_version_id: str | None
    rules_from: datetime | None
    fixed: bool = False  # fixed when money first moved; later approvals don't reprice it


@dataclass
class Contest:
    dispute: Dispute
    members: list[Contender]
    worth: Worth

    @property
    def paid(self) -> int:
        return sum(c.paid for c in self.members)

    @property
    def left(self) -> int | None:
        return None if self.worth.points is None else max(0, self.worth.points - self.paid)


def load(session: Session, dispute: Dispute) -> Contest:
    rows = session.execute(
        select(DisputeMember, Submission)
        .join(Submission, Submission.id == DisputeMember.submission_id)
        .where(DisputeMember.dispute_id == dispute.id)
        .order_by(Submission.created_at, Submission.id)
    ).all()
    ids = [s.id for _, s in rows]
    paid = paid_by_claim(session, ids)
    awards: dict[str, set[str]] = {}
    for sid, decision_id in session.execute(
        select(LedgerEntry.submission_id, LedgerEntry.decision_id).where(
            LedgerEntry.submission_id.in_(ids), LedgerEntry.entry_type == EntryType.award
        )
    ):
        if sid is not None and decision_id is not None:
            awards.setdefault(sid, set()).add(decision_id)
    # When the files say they were shot: their metadata, else their telemetry's first fix.
    captured: dict[str, datetime] = {}
    for sid, at, probe in session.execute(
        select(Media.submission_id, Media.captured_at, Media.probe).where(
            Media.submission_id.in_(ids), Media.status == MediaStatus.processed
        )
    ):
        when, _ = capture_time({"captured_at": at, "telemetry": (probe or {}).get("telemetry")})
        if when is not None and (sid not in captured or when < captured[sid]):
            captured[sid] = when
    latest = decisions.latest_decisions(session, submission_ids=ids)
    members = [
        Contender(m, s, latest.get(s.id), int(paid.get(s.id) or 0),
                  awards.get(s.id, set()), captured.get(s.id))
        for m, s in rows
    ]  # fmt: skip
    worth = _worth(session, members)
    if dispute.points is not None:
        # Fixed when money first moved (a settlement, or a paid claim it took in).
        worth.points, worth.rule_version_id, worth.fixed = (
            dispute.points,
            dispute.rule_version_id,
            True,
        )
    return Contest(dispute, members, worth)


def _worth(session: Session, members: list[Contender]) -> Worth:
    approved = [c for c in members if c.approved and c.decision is not None]
    if approved:
        basis = approved[0].decision
        assert basis is not None
        target_type, outcome, as_claimed = basis.target_type, basis.outcome, False
    else:
        first = members[0].submission
        target_type, outcome, as_claimed = first.target_type, first.outcome, True
    # A unit's stated time is only its word: a copier stating an earlier time must not reach
    # an older points table. The files' capture times are evidence; without any, the time
    # stated by the first claim on the target, made before any copy existed, stands.
    captured = [c.captured_at for c in members if c.captured_at is not None]
    value_at = min(captured) if captured else members[0].submission.occurred_at
    prices = rules.price_table(session, at=value_at)
    return Worth(
        points=prices.worth(target_type, outcome),
        target_type=target_type,
        outcome=outcome,
        as_claimed=as_claimed,
        value_at=value_at,
        from_capture=bool(captured),
        rule_version_id=prices.version.id if prices.version else None,
        rules_from=prices.version.effective_from if prices.version else None,
    )


def may_see(viewer: Principal, members: Iterable[Submission]) -> bool:
    """A dispute is about every claim in it: staff linked to any of their units (a conflict of
    interest) neither see nor settle it."""
    return all(policy.may_see_claim(viewer, claim_unit_id=s.unit_id) for s in members)


def open_disputes(session: Session, *, viewer: Principal) -> list[Contest]:
    """Open disputes the viewer may see, oldest first, as they stand now."""
    policy.require(viewer, Action.view_disputes)
    out = []
    for dispute in session.scalars(
        select(Dispute).where(Dispute.status == DisputeStatus.open).order_by(Dispute.created_at)
    ):
        contest = load(session, dispute)
        if contest.members and may_see(viewer, (c.submission for c in contest.members)):
            out.append(contest)
    return out


def signals_between(dispute: Dispute, a: str, b: str) -> list[dict[str, Any]]:
    """Why claims a and b are in the dispute together, from either one's side."""
    found = (dispute.evidence.get(a) or {}).get(b) or (dispute.evidence.get(b) or {}).get(a)
    # Disputes opened before signals were data stored a list of names.
    return [s if isinstance(s, dict) else {"kind": s} for s in found or []]


def describe(contest: Contest) -> dict[str, Any]:
    """The dispute as the API gives it: the target's worth, what is paid and left, and each
    claim with its standing and the signals tying it to the others."""
    worth = contest.worth
    ids = [c.submission.id for c in contest.members]
    return {
        "id": contest.dispute.id,
        "status": contest.dispute.status,
        "created_at": contest.dispute.created_at,
        "worth": {"points": worth.points, "target_type": worth.target_type,
                  "outcome": worth.outcome, "as_claimed": worth.as_claimed,
                  "value_at": worth.value_at, "from_capture": worth.from_capture,
                  "rules_from": worth.rules_from, "fixed": worth.fixed},
        "paid": contest.paid,
        "left": contest.left,
        "members": [
            {"submission_id": c.submission.id, "unit_id": c.member.unit_id,
             "status": c.submission.status,
             "decision": c.decision.decision if c.decision else None,
             "target_type": c.submission.target_type, "outcome": c.submission.outcome,
             "occurred_at": c.submission.occurred_at, "captured_at": c.captured_at,
             "lat": c.submission.lat, "lon": c.submission.lon, "paid": c.paid,
             "payable": c.payable, "share": c.member.share,
             "signals": [{"submission_id": other, **signal}
                         for other in ids if other != c.submission.id
                         for signal in signals_between(contest.dispute, c.submission.id, other)]}
            for c in contest.members
        ],
    }  # fmt: skip
