"""Several units claiming one hit. Claims that plausibly show the same target (a compatible
target type, and matching footage or the same place and time) form one dispute per target.
The target is worth one award however many claim it: points already paid to any member count
inside it, and a senior shares only what is left (or reverses a payment, with a reason). A
dispute whose other claims are all rejected settles itself.

Signals are stored as data ({"kind": "same_footage", "share": 1.0, "min_distance": 4}); the
pages put them in words, in the reader's language."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mvq.audit import service as audit
from mvq.auth import policy
from mvq.auth.policy import Action
from mvq.auth.service import Principal
from mvq.db import utcnow
from mvq.errors import Conflict, Forbidden, Invalid, NotFound
from mvq.matching.duplicates import DUPLICATE_KINDS
from mvq.media.flags import capture_time, distance_km
from mvq.media.models import Media, MediaStatus
from mvq.review import decisions
from mvq.review.models import Decision
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
SYSTEM = "system:disputes"
ALREADY_CREDITED = "already_credited"


def compatible(a: str, b: str) -> bool:
    """Whether two target types may be one target: the same, or listed together in
    `target_compatibility`. Not transitive: tank~armoured_vehicle~apc does not make tank~apc."""
    if a == b:
        return True
    return any(a in group and b in group for group in get_settings().target_compatibility)


def _compatible_types(target_type: str) -> set[str]:
    groups = get_settings().target_compatibility
    return {target_type, *(t for group in groups if target_type in group for t in group)}


@dataclass(frozen=True)
class LookAlike:
    """Another live claim that plausibly shows the same target, and why."""

    submission_id: str
    unit_id: str
    status: str
    signals: list[dict[str, Any]]


def look_alikes(session: Session, *, submission: Submission) -> list[LookAlike]:
    """Live claims of any unit, of a compatible target type, whose footage matches this claim's
    or that were made close by in place and time."""
    signals: dict[str, dict[str, dict[str, Any]]] = {}
    flags = session.scalars(
        select(Flag).where(Flag.submission_id == submission.id, Flag.kind.in_(DUPLICATE_KINDS))
    )
    for flag in flags:
        for match in flag.evidence.get("matches", []):
            exact = flag.kind == "exact_duplicate" or "share_this" not in match
            share = 1.0 if exact else max(match["share_this"], match["share_other"])
            found = {"kind": "same_footage", "share": round(share, 2),
                     "min_distance": 0 if exact else match.get("min_distance")}  # fmt: skip
            best = signals.setdefault(match["submission_id"], {}).get("same_footage")
            if best is None or found["share"] > best["share"]:
                signals[match["submission_id"]]["same_footage"] = found
    settings = get_settings()
    if submission.lat is not None and submission.lon is not None:
        window = timedelta(minutes=settings.dispute_window_minutes)
        nearby = session.scalars(
            select(Submission).where(
                Submission.id != submission.id,
                Submission.target_type.in_(_compatible_types(submission.target_type)),
                Submission.occurred_at.between(
                    submission.occurred_at - window, submission.occurred_at + window
                ),
                Submission.lat.is_not(None),
                Submission.lon.is_not(None),
            )
        )
        for other in nearby:
            here, there = (submission.lat, submission.lon), (other.lat or 0.0, other.lon or 0.0)
            km = distance_km(here, there)
            if km <= settings.dispute_distance_km:
                minutes = abs((other.occurred_at - submission.occurred_at).total_seconds()) / 60
                signals.setdefault(other.id, {})["same_place_time"] = {
                    "kind": "same_place_time", "distance_m": round(km * 1000),
                    "minutes": round(minutes)}  # fmt: skip
    signals.pop(submission.id, None)
    rows = session.execute(
        select(Submission.id, Submission.unit_id, Submission.status, Submission.target_type)
        .where(Submission.id.in_(list(signals)), Submission.status.in_(LIVE))
        .order_by(Submission.created_at, Submission.id)
    )
    return [
        LookAlike(sid, unit_id, status, sorted(signals[sid].values(), key=lambda s: s["kind"]))
        for sid, unit_id, status, target_type in rows
        if compatible(submission.target_type, target_type)
    ]


def flag_already_credited(
    session: Session, *, submission: Submission, alikes: list[LookAlike]
) -> Flag | None:
    """A new claim on a target an approved claim already covers goes to the reviewer with
    that claim as evidence (whose it is and where it stands are read live when shown)."""
    credited = [a for a in alikes if a.status == SubmissionStatus.approved]
    if not credited:
        return None
    flag = Flag(
        submission_id=submission.id,
        kind=ALREADY_CREDITED,
        evidence={"claims": [{"submission_id": a.submission_id, "unit_id": a.unit_id,
                              "signals": a.signals} for a in credited]},
    )  # fmt: skip
    session.add(flag)
    session.flush()
    return flag


def _member_types(session: Session, dispute_id: str) -> list[str]:
    return list(
        session.scalars(
            select(Submission.target_type)
            .join(DisputeMember, DisputeMember.submission_id == Submission.id)
            .where(DisputeMember.dispute_id == dispute_id)
        )
    )


def detect(session: Session, *, submission: Submission, alikes: list[LookAlike]) -> Dispute | None:
    """Called as a claim enters the review queue: it joins the dispute about its target, or
    opens one with other units' look-alikes that are in none. A dispute admits a claim only
    if its type is compatible with every member's, so disputes never merge across types; a
    settled dispute that gains a claim opens again (what it paid stands).

    Rivals are other units' look-alikes, and the unit's own claims on the same footage (one hit
    claimed twice); a unit's own claims merely near in place and time may be two vehicles, so
    they are left to the reviewer (the "already credited" flag). A dispute takes in at most one
    claim already paid: two paid claims were judged two targets, and one new claim resembling
    both does not make them one."""
    rivals = {
        a.submission_id: a
        for a in alikes
        if a.unit_id != submission.unit_id or any(s["kind"] == "same_footage" for s in a.signals)
    }
    if not rivals or member_of(session, submission_id=submission.id) is not None:
        return None
    taken = {
        m.submission_id: m.dispute_id
        for m in session.scalars(
            select(DisputeMember).where(DisputeMember.submission_id.in_(list(rivals)))
        )
    }
    dispute = None
    for candidate in session.scalars(
        select(Dispute)
        .where(Dispute.id.in_(set(taken.values())))
        .order_by(Dispute.created_at, Dispute.id)
        .with_for_update()
    ):
        if all(compatible(submission.target_type, t) for t in _member_types(session, candidate.id)):
            dispute = candidate
            break
    types = [submission.target_type]
    if dispute is None:
        dispute = Dispute(status=DisputeStatus.open, evidence={})
        session.add(dispute)
        session.flush()
    else:
        types += _member_types(session, dispute.id)
    joining = [submission.id]
    paid = _paid(session, [*rivals, *_member_ids(session, dispute.id)])
    has_paid = any(paid.get(sid, 0) > 0 for sid in _member_ids(session, dispute.id))
    for sid in rivals:
        target_type = session.scalar(select(Submission.target_type).where(Submission.id == sid))
        if sid in taken or not target_type or not all(compatible(target_type, t) for t in types):
            continue
        if paid.get(sid, 0) > 0:
            if has_paid:
                continue
            has_paid = True
        joining.append(sid)
        types.append(target_type)
    if len(joining) == 1 and not _member_types(session, dispute.id):
        session.delete(dispute)  # nobody free to dispute with
        session.flush()
        return None
    units = dict(
        session.execute(
            select(Submission.id, Submission.unit_id).where(Submission.id.in_(joining))
        ).all()
    )
    for sid in joining:
        session.add(DisputeMember(dispute_id=dispute.id, submission_id=sid, unit_id=units[sid]))
    reopened = dispute.status == DisputeStatus.settled
    dispute.status = DisputeStatus.open
    dispute.evidence = {
        **dispute.evidence,
        submission.id: {sid: rivals[sid].signals for sid in rivals},
    }
    session.flush()
    if dispute.points is None and has_paid:
        # Money has moved for this target: its worth is fixed now, so no later approval or
        # overturn can price it below what was paid (an award already made stands).
        contest = load(session, dispute)
        dispute.points = max(contest.worth.points or 0, contest.paid)
        dispute.rule_version_id = contest.worth.rule_version_id
        session.flush()
    action = "dispute.reopened" if reopened else "dispute.joined" if len(types) > len(joining) \
        else "dispute.opened"  # fmt: skip
    audit.record(
        session,
        actor=SYSTEM,
        action=action,
        object_type="dispute",
        object_id=dispute.id,
        data={"submissions": joining, "signals": dispute.evidence[submission.id]},
    )
    return dispute


def _member_ids(session: Session, dispute_id: str) -> list[str]:
    return list(
        session.scalars(
            select(DisputeMember.submission_id).where(DisputeMember.dispute_id == dispute_id)
        )
    )


def _paid(session: Session, submission_ids: list[str]) -> dict[str, int]:
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
    paid = _paid(session, ids)
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
        dispute.status = DisputeStatus.open
        audit.record(
            session,
            actor=SYSTEM,
            action="dispute.reopened",
            object_type="dispute",
            object_id=dispute.id,
            data={"submissions": [submission.id], "cause": "approved_after_settlement"},
        )
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
    session.flush()
    audit.record(
        session,
        actor=SYSTEM,
        action="dispute.settled",
        object_type="dispute",
        object_id=dispute.id,
        data={"automatic": True, "reason": "every other claim was rejected",
              "submission_id": winner.submission.id, "points": contest.worth.points,
              "paid_before": contest.paid, "share": share,
              "rejected": [c.submission.id for c in contest.members if c is not winner]},
    )  # fmt: skip
    if share and winner.decision is not None:
        return (_award_share(session, dispute, winner.member, winner.decision, actor=SYSTEM),)
    return (None,)


def _close(
    dispute: Dispute, contest: Contest, *, by: str | None, note: str | None, now: datetime
) -> None:
    dispute.status, dispute.points, dispute.note = DisputeStatus.settled, contest.worth.points, note
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
    if not _may_see(senior, (c.submission for c in contest.members)):
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
    session.flush()
    audit.record(
        session,
        actor=senior.actor,
        action="dispute.settled",
        object_type="dispute",
        object_id=dispute.id,
        data={"points": worth.points, "paid_before": kept, "shares": shares,
              "reversed": reverse, "note": note},
    )  # fmt: skip
    awarded = []
    for c in contest.members:
        if c.payable and c.approved and c.decision is not None:
            entry = _award_share(session, dispute, c.member, c.decision, actor=senior.actor)
            if entry is not None:
                awarded.append(entry)
    return awarded


def _may_see(viewer: Principal, members: Iterable[Submission]) -> bool:
    """A dispute is about every claim in it: staff linked to any of their units (a conflict of
    interest) neither see nor settle it."""
    return all(policy.may_see_claim(viewer, claim_unit_id=s.unit_id) for s in members)


def open_disputes(session: Session, *, viewer: Principal) -> list[Contest]:
    """Open disputes the viewer may see, oldest first, as they stand now."""
    out = []
    for dispute in session.scalars(
        select(Dispute).where(Dispute.status == DisputeStatus.open).order_by(Dispute.created_at)
    ):
        contest = load(session, dispute)
        if contest.members and _may_see(viewer, (c.submission for c in contest.members)):
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
