"""Appeals: a unit appeals its rejected claim once; seniors outside the case decide."""

from fastapi import APIRouter

from edge.deps import NowDep, PrincipalDep, UnitDep
from edge.unit_of_work import SessionDep
from mvq.flows import appeals as flow
from mvq.review import appeals
from mvq.review.schemas import (
    AppealDecided,
    AppealDecisionIn,
    AppealFiled,
    AppealIn,
    OriginalDecisionOut,
    PendingAppealOut,
)
from mvq.scoring import ledger
from mvq.submissions import service as submissions

router = APIRouter(prefix="/api/v1", tags=["appeals"])


@router.post("/submissions/{submission_id}/appeal", status_code=201, response_model=AppealFiled)
def file_appeal(
    submission_id: str, body: AppealIn, principal: UnitDep, session: SessionDep, now: NowDep
) -> AppealFiled:
    appeal = appeals.file(
        session, unit=principal, submission_id=submission_id, reason=body.reason, now=now
    )
    return AppealFiled(id=appeal.id, submission_id=appeal.submission_id, status=appeal.status,
                       created_at=appeal.created_at)  # fmt: skip


@router.get("/appeals", response_model=list[PendingAppealOut])
def pending_appeals(session: SessionDep, principal: PrincipalDep) -> list[PendingAppealOut]:
    return [
        PendingAppealOut(
            id=v.appeal.id,
            submission_id=v.submission.id,
            unit_id=v.appeal.unit_id,
            reason=v.appeal.reason,
            created_at=v.appeal.created_at,
            target_type=v.submission.target_type,
            outcome=v.submission.outcome,
            files_added=v.files_added,
            original_decision=OriginalDecisionOut(
                decision_id=v.rejection.id,
                decision=v.rejection.decision,
                reviewer_id=v.rejection.reviewer_id,
                reason_code=v.rejection.reason_code,
                comment=v.rejection.comment,
                decided_at=v.rejection.created_at,
            ),
            eligible=v.blocker is None,
            ineligible_reason=v.blocker,
        )
        for v in appeals.views(session, viewer=principal)
    ]


@router.post("/appeals/{appeal_id}/decision", response_model=AppealDecided)
def decide_appeal(
    appeal_id: str,
    body: AppealDecisionIn,
    session: SessionDep,
    now: NowDep,
    principal: PrincipalDep,
) -> AppealDecided:
    if body.decision == "uphold":
        appeal = flow.uphold(
            session,
            senior=principal,
            appeal_id=appeal_id,
            reason=body.reason,
            target_type=body.target_type,
            outcome=body.outcome,
            now=now,
        )
    else:
        appeal = flow.deny(
            session, senior=principal, appeal_id=appeal_id, reason=body.reason, now=now
        )
    claim = submissions.get_any(session, submission_id=appeal.submission_id)
    points = (
        ledger.points_for_decision(session, decision_id=appeal.decision_id)
        if appeal.decision_id
        else None
    )
    return AppealDecided(id=appeal.id, submission_id=claim.id, status=appeal.status,
                         claim_status=claim.status, decision_id=appeal.decision_id,
                         points=points)  # fmt: skip
