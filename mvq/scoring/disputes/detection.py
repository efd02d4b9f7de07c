"""Forming disputes: as a claim enters the review queue, the live claims that plausibly show
the same target, the "already credited" flag, and the dispute the claim joins or opens."""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mvq.audit import service as audit
from mvq.matching.duplicates import DUPLICATE_KINDS
from mvq.media.flags import distance_km
from mvq.scoring.disputes.reading import LIVE, load, member_ids, member_of, paid_by_claim
from mvq.scoring.disputes.status import SYSTEM, move
from mvq.scoring.models import Dispute, DisputeMember, DisputeStatus
from mvq.settings import get_settings
from mvq.submissions.models import Flag, Submission, SubmissionStatus

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
    paid = paid_by_claim(session, [*rivals, *member_ids(session, dispute.id)])
    has_paid = any(paid.get(sid, 0) > 0 for sid in member_ids(session, dispute.id))
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
    data = {"submissions": joining, "signals": dispute.evidence[submission.id]}
    if reopened:
        move(session, dispute, to=DisputeStatus.open, cause="claim_joined", actor=SYSTEM,
             data=data)  # fmt: skip
    else:
        action = "dispute.joined" if len(types) > len(joining) else "dispute.opened"
        audit.record(session, actor=SYSTEM, action=action, object_type="dispute",
                     object_id=dispute.id, data=data)  # fmt: skip
    return dispute
