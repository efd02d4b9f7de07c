from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response

from edge import outcome_words
from edge.deps import NowDep, PrincipalDep, StaffDep, UnitDep
from edge.unit_of_work import SessionDep
from mvq import claims, ratelimit
from mvq.auth import service as auth
from mvq.flows import intake
from mvq.media.schemas import MediaCreate, MediaCreated, UploadedPart, UploadInstructions
from mvq.settings import get_settings
from mvq.submissions import service
from mvq.submissions.schemas import (
    MatchesOut,
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
    request: Request, submission_id: str, principal: PrincipalDep, session: SessionDep
) -> SubmissionOut:
    """The claim; `result.message` tells its outcome in the request's `Accept-Language`
    (else the member's stored language, else the default)."""
    found = claims.qa_detail(session, alias_id=submission_id, viewer=principal)
    if found is None:
        submission = service.get_visible(session, principal=principal,
                                         submission_id=submission_id)  # fmt: skip
        found = claims.detail(session, submission, for_unit=principal.kind == "unit",
                              viewer=principal)  # fmt: skip
    if found.result is None:
        return found
    stored = auth.language_of(session, user_id=principal.user_id)
    language = outcome_words.reader_language(request.headers.get("accept-language"), stored)
    told = outcome_words.told_in(session, found.result, language=language)
    return found.model_copy(update={"result": told})


@router.get("/{submission_id}/matches", response_model=MatchesOut)
def get_matches(submission_id: str, principal: StaffDep, session: SessionDep) -> MatchesOut:
    """Every copy of this claim's footage found elsewhere, with the frame evidence."""
    submission = service.get_visible(session, principal=principal, submission_id=submission_id)
    return claims.matches(session, submission=submission, viewer=principal)


@router.post("/{submission_id}/media", status_code=201, response_model=MediaCreated)
def add_media(
    submission_id: str, body: MediaCreate, principal: UnitDep, session: SessionDep
) -> MediaCreated:
    # Before processing starts, or later for the claim's pending appeal.
    plan = intake.register_media(
        session, principal=principal, submission_id=submission_id, **body.model_dump()
    )
    return MediaCreated(
        media_id=plan.media.id,
        status=plan.media.status,
        upload=UploadInstructions(
            mode=plan.mode,
            part_size=plan.part_size,
            urls=plan.urls,
            headers=plan.headers,
            expires_in=get_settings().presign_ttl_seconds,
            uploaded_parts=[UploadedPart(**p) for p in plan.uploaded_parts],
        ),
    )
