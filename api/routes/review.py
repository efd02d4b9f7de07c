from fastapi import APIRouter, Response
from sqlalchemy import func, select

from api.deps import NowDep, SessionDep, StaffDep
from mvq.review import service
from mvq.review.schemas import ClaimOut, DecisionIn, DecisionResult
from mvq.scoring.models import LedgerEntry
from mvq.settings import get_settings
from mvq.submissions.models import Submission

router = APIRouter(prefix="/api/v1/review", tags=["review"])


@router.post("/claim", response_model=ClaimOut, responses={204: {"description": "queue empty"}})
def claim(principal: StaffDep, session: SessionDep, now: NowDep) -> ClaimOut | Response:
    claimed = service.claim_next(
        session, reviewer=principal, now=now, lease_seconds=get_settings().lease_seconds
    )
    session.commit()
    if claimed is None:
        return Response(status_code=204)
    item, submission = claimed
    assert item.lease_token is not None and item.lease_expires_at is not None
    return ClaimOut(
        item_id=item.id,
        submission_id=submission.id,
        lease_token=item.lease_token,
        lease_expires_at=item.lease_expires_at,
    )


@router.post("/{item_id}/decision", response_model=DecisionResult)
def decide(
    item_id: str, body: DecisionIn, principal: StaffDep, session: SessionDep, now: NowDep
) -> DecisionResult:
    decision = service.decide(
        session, reviewer=principal, item_id=item_id, now=now, **body.model_dump()
    )
    session.commit()
    points = session.scalar(
        select(func.sum(LedgerEntry.points)).where(LedgerEntry.decision_id == decision.id)
    )
    status = session.scalar(
        select(Submission.status).where(Submission.id == decision.submission_id)
    )
    return DecisionResult(
        decision_id=decision.id,
        submission_id=decision.submission_id,
        status=status or "",
        points=points,
    )
