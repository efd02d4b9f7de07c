"""The whole claim as its readers see it: media with frames and flags, the latest decision,
the points it earned, and the copies of its footage found elsewhere. Reads only."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mvq import outcome
from mvq.auth.principal import Principal
from mvq.errors import Conflict, NotFound
from mvq.matching.duplicates import DUPLICATE_KINDS
from mvq.media.models import Frame, Media
from mvq.review import appeals, blinding, decisions, evidence, provenance
from mvq.review.models import ReviewItem
from mvq.review.qa import tasks as qa_tasks
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
    for match in found:
        if match.submission_id and match.submission_id != submission.id:
            _rank(session, submission.id, match)
    return MatchesOut(submission_id=submission.id, matches=found)


def _rank(session: Session, this: str, match: MatchOut) -> None:
    """Which of the two claims' files is the source of the other (mvq.review.provenance)."""
    assert match.submission_id is not None
    verdict = provenance.for_pair(session, this, match.submission_id)
    if verdict is None:
        return
    sides = {this: "this", match.submission_id: "other"}
    match.original = sides.get(verdict.original or "")
    match.provenance = {sides[s]: [r.code for r in rs] for s, rs in verdict.reasons.items()}


# What a unit is told of any copy of its footage: that it was submitted before. Whether the
# copy is the same file, a re-encode, or another unit's is for the reviewers: "another unit's
# footage" would tell a unit who else was there.
ALREADY_SUBMITTED = "already_submitted"


def _flag_out(session: Session, flag: Flag, *, for_unit: bool, scope: Scope) -> FlagOut:
    # A unit learns that its footage was submitted before (or its target was credited), never
    # whose it is.
    if for_unit and flag.kind in DUPLICATE_KINDS:
        return FlagOut(kind=ALREADY_SUBMITTED, media_id=flag.media_id, evidence={})
    if for_unit and flag.kind == ALREADY_CREDITED:
        return FlagOut(kind=flag.kind, media_id=flag.media_id, evidence={})
    return FlagOut(kind=flag.kind, media_id=flag.media_id,
                   evidence=evidence.live_evidence(session, flag, scope=scope))  # fmt: skip


def _flags_out(
    session: Session, flags: list[Flag], *, for_unit: bool, scope: Scope
) -> list[FlagOut]:
    told: dict[tuple[str, str | None], FlagOut] = {}
    for flag in flags:
        out = _flag_out(session, flag, for_unit=for_unit, scope=scope)
        # Three kinds of copy become one for a unit: told once per file.
        told.setdefault((out.kind, out.media_id), out)
    return list(told.values())


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
                flags=_flags_out(
                    session,
                    [f for f in flags if f.media_id == m.id],
                    for_unit=for_unit,
                    scope=scope,
                ),
            )
        )
    decision = decisions.latest_decision(session, submission_id=submission.id)
    result = outcome.of_claim(session, submission=submission)
    item = session.scalar(select(ReviewItem).where(ReviewItem.submission_id == submission.id))
    if not for_unit and item is not None and blinding.blind_to_first(viewer, item):
        # A possible second approver reads it as a claim nobody has judged yet.
        decision = None
        result = result.model_copy(update={"kind": "undecided"})
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
        flags=_flags_out(session, flags, for_unit=for_unit, scope=scope),
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
        result=result,
    )


def qa_detail(session: Session, *, alias_id: str, viewer: Principal) -> SubmissionOut | None:
    """The claim behind a golden or re-review item the viewer holds, as its item shows it: the
    real claim's files and flags under the fresh claim id, in review, with no decision yet. So
    the claim's own address answers for it as for a live item's; None for any other id."""
    task = qa_tasks.by_alias(session, alias_id=alias_id, reviewer=viewer)
    if task is None:
        return None
    real = session.get_one(Submission, task.submission_id)
    found = detail(session, real, for_unit=False, viewer=viewer)
    _, shown = qa_tasks.masked(session, task=task)
    return found.model_copy(update={
        "id": shown.id, "status": shown.status, "created_at": shown.created_at,
        "occurred_at": shown.occurred_at,
        "decision": None, "points": None, "appeal": None,
        "result": outcome.of_claim(session, submission=shown),
    })  # fmt: skip


@dataclass(frozen=True)
class UnitClaim:
    """One row of a unit's "my claims": the claim as the unit may see it, the ledger entries
    that paid or took back its points, and until when it may still be appealed."""

    claim: SubmissionOut
    entries: list[LedgerEntry]
    appeal_until: datetime | None


@dataclass(frozen=True)
class UnitPage:
    rows: list[UnitClaim]
    total: int
    older: tuple[datetime, str] | None


def for_unit(
    session: Session,
    *,
    principal: Principal,
    status: str | None,
    limit: int,
    before: tuple[datetime, str] | None,
    now: datetime,
) -> UnitPage:
    """One keyset page of the unit's own claims, newest first, as its members read them."""
    page = service.page_visible(session, principal=principal, status=status, limit=limit,
                                before=before)  # fmt: skip
    paid = _paid(session, [r.id for r in page.rows])
    rows = [_unit_claim(session, row, paid.get(row.id, []), principal=principal, now=now)
            for row in page.rows]  # fmt: skip
    return UnitPage(rows, page.total, page.older)


def one_for_unit(
    session: Session, *, principal: Principal, submission_id: str, now: datetime
) -> UnitClaim:
    """One of the unit's claims in full; another unit's is "not found" (it leaks nothing)."""
    row = service.get_visible(session, principal=principal, submission_id=submission_id)
    if row.unit_id != principal.unit_id:
        raise NotFound("no such submission")
    return _unit_claim(session, row, _paid(session, [row.id]).get(row.id, []),
                       principal=principal, now=now)  # fmt: skip


def _unit_claim(
    session: Session, row: Submission, entries: list[LedgerEntry], *, principal: Principal,
    now: datetime,
) -> UnitClaim:  # fmt: skip
    out = detail(session, row, for_unit=True, viewer=principal)
    return UnitClaim(out, entries, _appeal_until(session, row, now))


def _paid(session: Session, submission_ids: list[str]) -> dict[str, list[LedgerEntry]]:
    paid: dict[str, list[LedgerEntry]] = {}
    for entry in session.scalars(
        select(LedgerEntry)
        .where(LedgerEntry.submission_id.in_(submission_ids))
        .order_by(LedgerEntry.created_at, LedgerEntry.id)
    ):
        paid.setdefault(str(entry.submission_id), []).append(entry)
    return paid


def _appeal_until(session: Session, claim: Submission, now: datetime) -> datetime | None:
    try:
        return appeals.open_window(session, submission=claim, now=now).closes
    except Conflict:
        return None
