"""The whole claim as its readers see it: media with frames and flags, the latest decision,
the points it earned, and the copies of its footage found elsewhere. Reads only."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mvq.auth.principal import Principal
from mvq.errors import Conflict
from mvq.matching.duplicates import DUPLICATE_KINDS
from mvq.media.models import Frame, Media
from mvq.review import appeals, decisions, evidence
from mvq.scoring.disputes.detection import ALREADY_CREDITED
from mvq.scoring.models import LedgerEntry
from mvq.submissions import service, visibility
from mvq.submissions.models import Flag, Submission
from mvq.submissions.schemas import (
    AppealOut,
    DecisionOut,
    FlagOut,
    FrameOut,
    MatchesOut,
    MatchOut,
    MediaOut,
    SubmissionOut,
)
from mvq.submissions.visibility import Scope


def matches(session: Session, *, submission: Submission, viewer: Principal) -> MatchesOut:
    """Every copy of this claim's footage found elsewhere, with the frame evidence; a copy in a
    claim the viewer may not see is only said to exist."""
    scope = visibility.scope(session, viewer=viewer)
    found = [
        MatchOut(media_id=flag.media_id or "", kind=flag.kind, **match)
        if visibility.is_hidden(match)
        else MatchOut(
            media_id=flag.media_id or "",
            kind=flag.kind,
            other_media_id=match["media_id"],
            **{k: v for k, v in match.items() if k != "media_id"},
        )
        for flag in service.flags_of(session, submission_id=submission.id)
        if flag.kind in ("exact_duplicate", "near_duplicate")
        for match in evidence.live_evidence(session, flag, scope=scope).get("matches", [])
    ]
    return MatchesOut(submission_id=submission.id, matches=found)


def _flag_out(session: Session, flag: Flag, *, for_unit: bool, scope: Scope) -> FlagOut:
    # A unit learns that its footage matches other footage (or its target was credited), never
    # whose it is.
    if for_unit and flag.kind in (*DUPLICATE_KINDS, ALREADY_CREDITED):
        return FlagOut(kind=flag.kind, media_id=flag.media_id, evidence={})
    return FlagOut(kind=flag.kind, media_id=flag.media_id,
                   evidence=evidence.live_evidence(session, flag, scope=scope))  # fmt: skip


def detail(
    session: Session, submission: Submission, *, for_unit: bool, viewer: Principal
) -> SubmissionOut:
    scope = visibility.scope(session, viewer=viewer)
    flags = service.flags_of(session, submission_id=submission.id)
    media_rows = session.scalars(
        select(Media).where(Media.submission_id == submission.id).order_by(Media.created_at)
    )
    media = []
    for m in media_rows:
        frames = session.scalars(select(Frame).where(Frame.media_id == m.id).order_by(Frame.index))
        media.append(
            MediaOut(
                id=m.id,
                status=m.status,
                filename=m.filename,
                content_type=m.content_type,
                size=m.declared_size,
                sha256=m.sha256,
                failure_reason=m.failure_reason,
                metadata=m.probe or {},
                frames=[FrameOut.model_validate(f, from_attributes=True) for f in frames],
                flags=[
                    _flag_out(session, f, for_unit=for_unit, scope=scope)
                    for f in flags
                    if f.media_id == m.id
                ],
            )
        )
    decision = decisions.latest_decision(session, submission_id=submission.id)
    appeal = appeals.of_claim(session, submission_id=submission.id)
    points = session.scalar(
        select(func.sum(LedgerEntry.points)).where(LedgerEntry.submission_id == submission.id)
    )
    return SubmissionOut(
        id=submission.id,
        unit_id=submission.unit_id,
        status=submission.status,
        target_type=submission.target_type,
        outcome=submission.outcome,
        occurred_at=submission.occurred_at,
        occurred_at_source=submission.occurred_at_source,
        submitted_by=submission.submitted_by,
        lat=submission.lat,
        lon=submission.lon,
        note=submission.note,
        created_at=submission.created_at,
        media=media,
        flags=[_flag_out(session, f, for_unit=for_unit, scope=scope) for f in flags],
        decision=DecisionOut(
            decision=decision.decision,
            target_type=decision.target_type,
            outcome=decision.outcome,
            reason_code=decision.reason_code,
            decided_at=decision.created_at,
        )
        if decision
        else None,
        points=int(points) if points is not None else None,
        appeal=AppealOut(
            status=appeal.status,
            reason=appeal.reason,
            decided_at=appeal.decided_at,
            outcome=appeal.decision_reason,
        )
        if appeal
        else None,
    )


@dataclass(frozen=True)
class UnitClaim:
    """One row of a unit's "my claims": the claim as the unit may see it, the ledger entries
    that paid or took back its points, and until when it may still be appealed."""

    claim: SubmissionOut
    entries: list[LedgerEntry]
    appeal_until: datetime | None


def for_unit(
    session: Session,
    *,
    principal: Principal,
    status: str | None,
    limit: int,
    offset: int,
    now: datetime,
) -> tuple[list[UnitClaim], int]:
    """The unit's own claims, newest first, as its members read them."""
    rows, total = service.list_visible(
        session, principal=principal, status=status, limit=limit, offset=offset
    )
    paid: dict[str, list[LedgerEntry]] = {}
    for entry in session.scalars(
        select(LedgerEntry)
        .where(LedgerEntry.submission_id.in_([r.id for r in rows]))
        .order_by(LedgerEntry.created_at, LedgerEntry.id)
    ):
        paid.setdefault(str(entry.submission_id), []).append(entry)
    claims = []
    for row in rows:
        out = detail(session, row, for_unit=True, viewer=principal)
        claims.append(UnitClaim(out, paid.get(row.id, []), _appeal_until(session, row, now)))
    return claims, total


def _appeal_until(session: Session, claim: Submission, now: datetime) -> datetime | None:
    try:
        return appeals.open_window(session, submission=claim, now=now).closes
    except Conflict:
        return None
