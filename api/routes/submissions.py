from typing import Annotated

from fastapi import APIRouter, Header, Query, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.deps import NowDep, PrincipalDep, SessionDep, StaffDep, UnitDep
from mvq import ratelimit
from mvq.matching.duplicates import DUPLICATE_KINDS
from mvq.media import uploads
from mvq.media.models import Frame, Media
from mvq.media.schemas import MediaCreate, MediaCreated, UploadedPart, UploadInstructions
from mvq.review import service as review
from mvq.scoring.models import LedgerEntry
from mvq.settings import get_settings
from mvq.submissions import service
from mvq.submissions.models import Flag, Submission
from mvq.submissions.schemas import (
    DecisionOut,
    FlagOut,
    FrameOut,
    MatchesOut,
    MatchOut,
    MediaOut,
    SubmissionCreate,
    SubmissionCreated,
    SubmissionOut,
    SubmissionPage,
    SubmissionSummary,
)

router = APIRouter(prefix="/api/v1/submissions", tags=["submissions"])


@router.post("", status_code=201, response_model=SubmissionCreated)
def create_submission(
    body: SubmissionCreate,
    principal: UnitDep,
    session: SessionDep,
    now: NowDep,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> SubmissionCreated:
    ratelimit.check(
        bucket="create", subject=principal.id, per_minute=get_settings().create_rate_per_minute
    )
    submission, created = service.create(
        session,
        principal=principal,
        idempotency_key=idempotency_key,
        now=now,
        **body.model_dump(),
    )
    session.commit()
    if not created:
        response.status_code = 200
    return SubmissionCreated(id=submission.id, status=submission.status)


@router.get("", response_model=SubmissionPage)
def list_submissions(
    principal: PrincipalDep,
    session: SessionDep,
    status: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**62)] = 0,
) -> SubmissionPage:
    rows, total = service.list_visible(
        session, principal=principal, status=status, limit=limit, offset=offset
    )
    return SubmissionPage(
        items=[SubmissionSummary.model_validate(r, from_attributes=True) for r in rows],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.get("/{submission_id}", response_model=SubmissionOut)
def get_submission(
    submission_id: str, principal: PrincipalDep, session: SessionDep
) -> SubmissionOut:
    submission = service.get_visible(session, principal=principal, submission_id=submission_id)
    return detail(session, submission, for_unit=principal.kind == "unit")


@router.get("/{submission_id}/matches", response_model=MatchesOut)
def get_matches(submission_id: str, principal: StaffDep, session: SessionDep) -> MatchesOut:
    """Every copy of this claim's footage found elsewhere, with the frame evidence."""
    submission = service.get_visible(session, principal=principal, submission_id=submission_id)
    found = [
        MatchOut(
            media_id=flag.media_id or "",
            kind=flag.kind,
            other_media_id=match["media_id"],
            **{k: v for k, v in match.items() if k != "media_id"},
        )
        for flag in service.flags_of(session, submission_id=submission.id)
        if flag.kind in ("exact_duplicate", "near_duplicate")
        for match in flag.evidence.get("matches", [])
    ]
    return MatchesOut(submission_id=submission.id, matches=found)


@router.post("/{submission_id}/media", status_code=201, response_model=MediaCreated)
def add_media(
    submission_id: str, body: MediaCreate, principal: UnitDep, session: SessionDep
) -> MediaCreated:
    plan = uploads.register(
        session, principal=principal, submission_id=submission_id, **body.model_dump()
    )
    session.commit()
    return MediaCreated(
        media_id=plan.media.id,
        status=plan.media.status,
        upload=UploadInstructions(
            mode=plan.mode,
            part_size=plan.part_size,
            urls=plan.urls,
            expires_in=get_settings().presign_ttl_seconds,
            uploaded_parts=[UploadedPart(**p) for p in plan.uploaded_parts],
        ),
    )


def _flag_out(flag: Flag, *, for_unit: bool) -> FlagOut:
    # A unit learns that its footage matches other footage, never whose it is.
    hidden = for_unit and flag.kind in DUPLICATE_KINDS
    return FlagOut(kind=flag.kind, media_id=flag.media_id, evidence={} if hidden else flag.evidence)


def detail(session: Session, submission: Submission, *, for_unit: bool) -> SubmissionOut:
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
                flags=[_flag_out(f, for_unit=for_unit) for f in flags if f.media_id == m.id],
            )
        )
    decision = review.latest_decision(session, submission_id=submission.id)
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
        lat=submission.lat,
        lon=submission.lon,
        note=submission.note,
        created_at=submission.created_at,
        media=media,
        flags=[_flag_out(f, for_unit=for_unit) for f in flags],
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
    )
