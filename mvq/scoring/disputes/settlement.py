"""Paying and settling disputes: an approval's award while its claim is in a dispute, the
dispute that settles itself, and the senior's settlement (shares and reversals)."""

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from mvq.audit import service as audit
from mvq.auth import policy
from mvq.auth.policy import Action
from mvq.auth.principal import Principal
from mvq.db import utcnow
from mvq.errors import Conflict, Forbidden, Invalid, NotFound
from mvq.review.models import Decision
from mvq.rules import service as rules
from mvq.scoring import ledger
from mvq.scoring import service as scoring
from mvq.scoring.disputes.reading import Contender, Contest, load, may_see, member_of
from mvq.scoring.disputes.status import SYSTEM, move
from mvq.scoring.models import Dispute, DisputeMember, DisputeStatus, EntryType, LedgerEntry
from mvq.submissions.models import Submission


def award_approval(
    session: Session,
    *,
    submission: Submission,
    decision: Decision,
    actor: str,
    prices: rules.PriceTable,
) -> LedgerEntry | None:
    """The award for an approval: whole if the claim is in no dispute; otherwise held while
    the dispute is open (unless this claim is the only one left, which settles it), the
    settled share once it is settled, and held again, reopening the dispute, for a claim the
    settlement gave no share (it was rejected then, or joined later)."""
    found = member_of(session, submission_id=submission.id)
    if found is None:
        return scoring.award(
            session, submission=submission, decision=decision, actor=actor, prices=prices
        )
    dispute, member = found
    if dispute.status == DisputeStatus.settled and member.share is not None:
        return _award_share(session, dispute, member, decision, actor=actor)
    if dispute.status == DisputeStatus.settled:
        cause = "approved_after_settlement"
        move(session, dispute, to=DisputeStatus.open, cause=cause, actor=SYSTEM,
             data={"submissions": [submission.id], "cause": cause})  # fmt: skip
    elif (entry := settle_if_uncontested(session, dispute_id=dispute.id)) is not None:
        return entry[0]
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


def claim_closed(session: Session, *, submission: Submission) -> None:
    """A member was rejected: if one approved claim is all that is left, it is paid."""
    found = member_of(session, submission_id=submission.id)
    if found is not None and found[0].status == DisputeStatus.open:
        settle_if_uncontested(session, dispute_id=found[0].id)


def settle_if_uncontested(session: Session, *, dispute_id: str) -> tuple[LedgerEntry | None] | None:
    """Settles an open dispute whose every other claim is rejected: the one approved claim
    left gets what the target has left. Returns (its award or None) when it settled."""
    dispute = session.scalar(select(Dispute).where(Dispute.id == dispute_id).with_for_update())
    if dispute is None or dispute.status != DisputeStatus.open:
        return None
    contest = load(session, dispute)
    live = [c for c in contest.members if c.live]
    if len(live) != 1 or not live[0].approved or contest.worth.points is None:
        return None
    winner = live[0]
    share = (contest.left or 0) if winner.payable else 0
    _close(dispute, contest, by=None, note="uncontested", now=utcnow())
    for c in contest.members:
        c.member.share = share if c is winner else None
    move(session, dispute, to=DisputeStatus.settled, cause="uncontested", actor=SYSTEM,
         data={"automatic": True, "reason": "every other claim was rejected",
               "submission_id": winner.submission.id, "points": contest.worth.points,
               "paid_before": contest.paid, "share": share,
               "rejected": [c.submission.id for c in contest.members if c is not winner],
               "members": [c.submission.id for c in contest.members]})  # fmt: skip
    if share and winner.decision is not None:
        return (_award_share(session, dispute, winner.member, winner.decision, actor=SYSTEM),)
    return (None,)


def _close(
    dispute: Dispute, contest: Contest, *, by: str | None, note: str | None, now: datetime
) -> None:
    """What a settlement fixes besides the status (which `move` sets): the target's worth, the
    rules that priced it, the note, and who settled it when."""
    dispute.points, dispute.note = contest.worth.points, note
    dispute.rule_version_id = contest.worth.rule_version_id
    dispute.settled_by, dispute.settled_at = by, now


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


def _reverse_payment(
    session: Session, dispute: Dispute, contender: Contender, *, senior: Principal, reason: str
) -> LedgerEntry:
    last_award = session.scalar(
        select(LedgerEntry)
        .where(LedgerEntry.submission_id == contender.submission.id,
               LedgerEntry.entry_type == EntryType.award)
        .order_by(LedgerEntry.created_at.desc(), LedgerEntry.id.desc())
        .limit(1)
    )  # fmt: skip
    assert last_award is not None  # it was paid
    entry = LedgerEntry(
        unit_id=contender.submission.unit_id,
        entry_type=EntryType.reversal,
        points=-contender.paid,
        submission_id=contender.submission.id,
        decision_id=last_award.decision_id,
        rule_version_id=last_award.rule_version_id,
        dispute_id=dispute.id,
        actor_id=senior.id,
        note=reason,
    )
    return ledger.append(session, entry, actor=senior.actor)


def settle(
    session: Session,
    *,
    senior: Principal,
    dispute_id: str,
    shares: dict[str, int],
    note: str | None,
    now: datetime,
    reverse: Iterable[str] = (),
) -> list[LedgerEntry]:
    """Assigns what is left of the target's worth: `shares` (claim id -> points) go to claims
    that can still be paid, and what was already paid to any claim counts inside the worth, so
    the total never exceeds it. `reverse` names paid claims whose award the senior takes back,
    with `note` as the reason. Only approved claims get shares; one approved later reopens it."""
    policy.require(senior, Action.settle_disputes)
    dispute = session.scalar(select(Dispute).where(Dispute.id == dispute_id).with_for_update())
    if dispute is None:
        raise NotFound("no such dispute")
    contest = load(session, dispute)
    subs = {c.submission.id: c for c in contest.members}
    if not may_see(senior, (c.submission for c in contest.members)):
        raise NotFound("no such dispute")
    if dispute.status != DisputeStatus.open:
        raise Conflict("the dispute is settled", code="dispute_settled")
    if senior.unit_id is not None and any(c.submission.unit_id == senior.unit_id
                                          for c in contest.members):  # fmt: skip
        raise Forbidden("you may not settle a dispute involving your own unit")
    reverse = list(dict.fromkeys(reverse))
    unknown = (set(shares) | set(reverse)) - set(subs)
    if unknown or any(points < 0 for points in shares.values()):
        raise Invalid("shares name the dispute's claims with points of at least 0")
    note = (note or "").strip() or None
    if reverse and note is None:
        raise Invalid("say why the payment is reversed: the note is the reason",
                      code="reason_required")  # fmt: skip
    for sid in reverse:
        if subs[sid].paid <= 0:
            raise Invalid(f"claim {sid} has been paid nothing to reverse", code="bad_reversal")
    for sid, points in shares.items():
        if points and not subs[sid].payable:
            why = "was paid already" if subs[sid].paid or subs[sid].award_decisions else \
                f"is {subs[sid].submission.status}, not approved"  # fmt: skip
            raise Invalid(f"claim {sid} {why} and gets no share", code="bad_shares")
    if not any(c.approved for c in contest.members):
        raise Conflict("settle once at least one claim is approved", code="nothing_approved")
    worth = contest.worth
    if worth.points is None or worth.rule_version_id is None:
        raise Conflict(f"no points rule prices {worth.target_type} {worth.outcome}",
                       code="no_rule")  # fmt: skip
    kept = {c.submission.id: c.paid for c in contest.members if c.paid and c.submission.id
            not in reverse}  # fmt: skip
    total = sum(kept.values()) + sum(shares.values())
    if total > worth.points:
        paid_words = ", ".join(f"{p} to claim {sid}" for sid, p in kept.items()) or "nothing"
        raise Invalid(
            f"the target is worth {worth.points} points ({worth.target_type} {worth.outcome}, "
            f"rules in force at {worth.value_at:%Y-%m-%d %H:%M} UTC); already paid: "
            f"{paid_words}; these shares add "
            f"{' + '.join(str(p) for p in shares.values() if p) or 0} = {sum(shares.values())}: "
            f"{sum(kept.values())} + {sum(shares.values())} = {total} > {worth.points}",
            code="over_worth",
        )
    for sid in reverse:
        _reverse_payment(session, dispute, subs[sid], senior=senior, reason=note or "")
    _close(dispute, contest, by=senior.id, note=note, now=now)
    for c in contest.members:
        c.member.share = shares.get(c.submission.id, 0) if c.payable else None
    move(session, dispute, to=DisputeStatus.settled, cause="settled_by_senior",
         actor=senior.actor, data={"points": worth.points, "paid_before": kept,
                                   "shares": shares, "reversed": reverse,
                                   "note": note,
                                   "members": [c.submission.id
                                               for c in contest.members]})  # fmt: skip
    awarded = []
    for c in contest.members:
        if c.payable and c.approved and c.decision is not None:
            entry = _award_share(session, dispute, c.member, c.decision, actor=senior.actor)
            if entry is not None:
                awarded.append(entry)
    return awarded
