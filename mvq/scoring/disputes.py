"""Several units claiming one hit. Claims that look like the same target (a cross-unit
duplicate, or the same target type close in time and place) form a dispute; their awards wait
until a senior assigns the credit, to one unit or split with explicit shares."""

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mvq.audit import service as audit
from mvq.auth import policy
from mvq.auth.policy import Action
from mvq.auth.service import Principal
from mvq.errors import Conflict, Forbidden, Invalid, NotFound
from mvq.media.flags import distance_km
from mvq.review.models import Decision, DecisionKind
from mvq.rules import service as rules
from mvq.scoring import ledger
from mvq.scoring import service as scoring
from mvq.scoring.models import Dispute, DisputeMember, DisputeStatus, EntryType, LedgerEntry
from mvq.settings import get_settings
from mvq.submissions.models import Flag, Submission, SubmissionStatus

# Claims that may still earn points: waiting, in review, escalated or approved.
LIVE = (
    SubmissionStatus.in_queue,
    SubmissionStatus.in_review,
    SubmissionStatus.escalated,
    SubmissionStatus.approved,
)


def _look_alikes(session: Session, submission: Submission) -> dict[str, list[str]]:
    """Other units' live claims that look like this one: submission id -> signals."""
    found: dict[str, list[str]] = {}
    flags = session.scalars(
        select(Flag).where(Flag.submission_id == submission.id, Flag.kind == "cross_unit_duplicate")
    )
    for flag in flags:
        for match in flag.evidence.get("matches", []):
            found.setdefault(match["submission_id"], []).append("cross_unit_duplicate")
    settings = get_settings()
    if submission.lat is not None and submission.lon is not None:
        window = timedelta(minutes=settings.dispute_window_minutes)
        nearby = session.scalars(
            select(Submission).where(
                Submission.unit_id != submission.unit_id,
                Submission.target_type == submission.target_type,
                Submission.occurred_at.between(
                    submission.occurred_at - window, submission.occurred_at + window
                ),
                Submission.lat.is_not(None),
                Submission.lon.is_not(None),
            )
        )
        for other in nearby:
            here, there = (submission.lat, submission.lon), (other.lat or 0.0, other.lon or 0.0)
            if distance_km(here, there) <= settings.dispute_distance_km:
                found.setdefault(other.id, []).append("same_target_window")
    live = set(
        session.scalars(
            select(Submission.id).where(
                Submission.id.in_(list(found)),
                Submission.unit_id != submission.unit_id,
                Submission.status.in_(LIVE),
            )
        )
    )
    return {sid: sorted(set(signals)) for sid, signals in found.items() if sid in live}


def detect(session: Session, *, submission: Submission) -> Dispute | None:
    """Called as a claim enters the review queue: opens a dispute, or joins an open one."""
    alikes = _look_alikes(session, submission)
    if not alikes:
        return None
    ids = [submission.id, *alikes]
    taken = {
        m.submission_id: m
        for m in session.scalars(select(DisputeMember).where(DisputeMember.submission_id.in_(ids)))
    }
    open_ids = {
        d.id
        for d in session.scalars(
            select(Dispute).where(
                Dispute.id.in_({m.dispute_id for m in taken.values()}),
                Dispute.status == DisputeStatus.open,
            )
        )
    }
    # A claim already settled elsewhere keeps its settlement; its duplicate flag tells the
    # reviewer the target was credited already.
    free = [sid for sid in ids if sid not in taken]
    if submission.id not in free:
        return None
    if open_ids:
        dispute = session.get_one(Dispute, sorted(open_ids)[0])
    else:
        if len(free) < 2:
            return None
        dispute = Dispute(status=DisputeStatus.open, evidence={})
        session.add(dispute)
        session.flush()
    units = {
        sid: unit_id
        for sid, unit_id in session.execute(
            select(Submission.id, Submission.unit_id).where(Submission.id.in_(free))
        )
    }
    for sid in free:
        session.add(DisputeMember(dispute_id=dispute.id, submission_id=sid, unit_id=units[sid]))
    dispute.evidence = {**dispute.evidence, submission.id: alikes}
    session.flush()
    audit.record(
        session,
        actor="system:disputes",
        action="dispute.opened" if not open_ids else "dispute.joined",
        object_type="dispute",
        object_id=dispute.id,
        data={"submissions": free, "signals": alikes},
    )
    return dispute


def member_of(session: Session, *, submission_id: str) -> tuple[Dispute, DisputeMember] | None:
    row = session.execute(
        select(Dispute, DisputeMember)
        .join(DisputeMember, DisputeMember.dispute_id == Dispute.id)
        .where(DisputeMember.submission_id == submission_id)
    ).first()
    return (row[0], row[1]) if row else None


def award_approval(
    session: Session,
    *,
    submission: Submission,
    decision: Decision,
    actor: str,
    prices: rules.PriceTable,
) -> LedgerEntry | None:
    """The award for an approval: whole if the claim is in no dispute, held while its dispute
    is open, and the settled share once it is settled."""
    found = member_of(session, submission_id=submission.id)
    if found is None:
        return scoring.award(
            session, submission=submission, decision=decision, actor=actor, prices=prices
        )
    dispute, member = found
    if dispute.status == DisputeStatus.open:
        audit.record(
            session,
            actor=actor,
            action="ledger.award_held",
            object_type="dispute",
            object_id=dispute.id,
            data={"submission_id": submission.id, "decision_id": decision.id},
        )
        return None
    return _award_share(session, dispute, member, decision, actor=actor)


def _award_share(
    session: Session, dispute: Dispute, member: DisputeMember, decision: Decision, *, actor: str
) -> LedgerEntry | None:
    if not member.share:
        return None
    entry = LedgerEntry(
        unit_id=member.unit_id,
        entry_type=EntryType.award,
        points=member.share,
        submission_id=member.submission_id,
        decision_id=decision.id,
        rule_version_id=dispute.rule_version_id,
        dispute_id=dispute.id,
        actor_id=decision.reviewer_id,
    )
    return ledger.append(session, entry, actor=actor)


def _approval(session: Session, submission_id: str) -> Decision | None:
    """The decision that currently approves the claim, if it stands approved."""
    latest = session.scalar(
        select(Decision)
        .where(Decision.submission_id == submission_id)
        .order_by(Decision.created_at.desc(), Decision.id.desc())
        .limit(1)
    )
    return latest if latest and latest.decision == DecisionKind.approve else None


def settle(
    session: Session,
    *,
    senior: Principal,
    dispute_id: str,
    shares: dict[str, int],
    note: str | None,
    now: datetime,
) -> list[LedgerEntry]:
    """Assigns the target's points across the claims: shares (submission id -> points) must
    sum to what the first approved claim is worth. Approved claims are awarded their share
    now; claims approved later receive theirs then."""
    policy.require(senior, Action.settle_disputes)
    dispute = session.scalar(select(Dispute).where(Dispute.id == dispute_id).with_for_update())
    if dispute is None:
        raise NotFound("no such dispute")
    if dispute.status != DisputeStatus.open:
        raise Conflict("the dispute is settled", code="dispute_settled")
    members = list(
        session.scalars(select(DisputeMember).where(DisputeMember.dispute_id == dispute.id))
    )
    ids = [m.submission_id for m in members]
    subs = {s.id: s for s in session.scalars(select(Submission).where(Submission.id.in_(ids)))}
    if not _may_see(senior, subs.values()):
        raise NotFound("no such dispute")
    if senior.unit_id is not None and any(s.unit_id == senior.unit_id for s in subs.values()):
        raise Forbidden("you may not settle a dispute involving your own unit")
    unknown = set(shares) - set(subs)
    if unknown or any(points < 0 for points in shares.values()):
        raise Invalid("shares name the dispute's claims with points of at least 0")
    approved = sorted(
        (s for s in subs.values() if s.status == SubmissionStatus.approved),
        key=lambda s: s.occurred_at,
    )
    if not approved:
        raise Conflict("settle once at least one claim is approved", code="nothing_approved")
    first = approved[0]
    basis = _approval(session, first.id)
    assert basis is not None
    prices = rules.price_table(session, at=first.occurred_at)
    total = prices.worth(basis.target_type, basis.outcome)
    if total is None or prices.version is None:
        raise Conflict("no points rule prices this target", code="no_rule")
    if sum(shares.values()) != total:
        raise Invalid(f"the shares must add up to the target's {total} points", code="bad_shares")
    for sid, points in shares.items():
        if points and subs[sid].status == SubmissionStatus.rejected:
            raise Invalid("a rejected claim gets no share", code="bad_shares")
    dispute.status, dispute.points, dispute.note = DisputeStatus.settled, total, note
    dispute.settled_by, dispute.settled_at = senior.id, now
    dispute.rule_version_id = prices.version.id
    for member in members:
        member.share = shares.get(member.submission_id, 0)
    session.flush()
    audit.record(
        session,
        actor=senior.actor,
        action="dispute.settled",
        object_type="dispute",
        object_id=dispute.id,
        data={"points": total, "shares": shares, "note": note},
    )
    awarded = []
    for member in members:
        decision = _approval(session, member.submission_id)
        if decision is not None:
            entry = _award_share(session, dispute, member, decision, actor=senior.actor)
            if entry is not None:
                awarded.append(entry)
    return awarded


def _may_see(viewer: Principal, members: Iterable[Submission]) -> bool:
    """A dispute is about every claim in it: staff linked to any of their units (a conflict of
    interest) neither see nor settle it."""
    return all(policy.may_see_claim(viewer, claim_unit_id=s.unit_id) for s in members)


def open_disputes(
    session: Session, *, viewer: Principal
) -> list[tuple[Dispute, list[tuple[DisputeMember, Submission]]]]:
    disputes = list(
        session.scalars(
            select(Dispute).where(Dispute.status == DisputeStatus.open).order_by(Dispute.created_at)
        )
    )
    out: list[tuple[Dispute, list[tuple[DisputeMember, Submission]]]] = []
    for dispute in disputes:
        rows = session.execute(
            select(DisputeMember, Submission)
            .join(Submission, Submission.id == DisputeMember.submission_id)
            .where(DisputeMember.dispute_id == dispute.id)
            .order_by(Submission.occurred_at)
        ).all()
        if _may_see(viewer, (s for _, s in rows)):
            out.append((dispute, [(m, s) for m, s in rows]))
    return out


def describe(members: list[tuple[DisputeMember, Submission]]) -> list[dict[str, Any]]:
    return [
        {"submission_id": s.id, "unit_id": m.unit_id, "status": s.status,
         "target_type": s.target_type, "outcome": s.outcome,
         "occurred_at": s.occurred_at, "share": m.share}
        for m, s in members
    ]  # fmt: skip
