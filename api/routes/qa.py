"""Quality checks over the API: marking golden items, the agreement and accuracy figures, and
a senior's ruling on a re-review disagreement."""

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from edge.deps import NowDep, PrincipalDep, StaffDep
from edge.unit_of_work import SessionDep
from mvq.flows import qa as qa_flow
from mvq.review.qa import figures, golden

router = APIRouter(prefix="/api/v1/qa", tags=["qa"])


class GoldenIn(BaseModel):
    submission_id: str = Field(max_length=36)
    decision: str = Field(max_length=20)
    reason_code: str | None = Field(default=None, max_length=40)


class GoldenOut(BaseModel):
    id: str
    submission_id: str
    decision: str
    reason_code: str | None


class RateOut(BaseModel):
    key: str = Field(description="reviewer e-mail, the right answer's reason code, or target type")
    correct: int
    total: int
    share: float
    low: float | None = Field(description="95 % Wilson interval")
    high: float | None


class PairOut(BaseModel):
    first: str
    second: str
    kappa: float | None
    items: int


class AgreementOut(BaseModel):
    fleiss_kappa: float | None
    fleiss_items: int
    pairs: list[PairOut] = Field(description="Cohen's kappa per pair; seniors only")
    accuracy_by_reviewer: list[RateOut]
    accuracy_by_reason: list[RateOut]
    accuracy_by_target_type: list[RateOut]


class RulingIn(BaseModel):
    decision: str = Field(max_length=20)
    reason_code: str | None = Field(default=None, max_length=40)
    comment: str = Field(min_length=1, max_length=4000)


class RulingOut(BaseModel):
    id: str
    rereview_id: str | None
    decision: str
    overturn_id: str | None


@router.post("/golden", response_model=GoldenOut, status_code=201)
def mark_golden(body: GoldenIn, principal: StaffDep, session: SessionDep, now: NowDep) -> GoldenOut:
    found = golden.mark(session, senior=principal, submission_id=body.submission_id,
                        decision=body.decision, reason_code=body.reason_code, now=now)  # fmt: skip
    return GoldenOut(id=found.id, submission_id=found.submission_id, decision=found.decision,
                     reason_code=found.reason_code)  # fmt: skip


def _rates(rates: list[figures.Rate]) -> list[RateOut]:
    out = []
    for r in rates:
        low, high = r.interval or (None, None)
        out.append(RateOut(key=r.key, correct=r.correct, total=r.total, share=r.share,
                           low=low, high=high))  # fmt: skip
    return out


@router.get("/agreement", response_model=AgreementOut)
def agreement(
    principal: PrincipalDep,
    session: SessionDep,
    now: NowDep,
    days: Annotated[int, Query(ge=1, le=365)] = 30,
) -> AgreementOut:
    """Seniors read everyone's figures; a reviewer only their own (and no pairs)."""
    found = figures.calibration(session, viewer=principal, since=now - timedelta(days=days))
    return AgreementOut(
        fleiss_kappa=found.fleiss,
        fleiss_items=found.fleiss_items,
        pairs=[PairOut(**p.__dict__) for p in found.pairs],
        accuracy_by_reviewer=_rates(found.by_reviewer),
        accuracy_by_reason=_rates(found.by_reason),
        accuracy_by_target_type=_rates(found.by_target),
    )


@router.post("/rereviews/{rereview_id}/ruling", response_model=RulingOut)
def rule(
    rereview_id: str, body: RulingIn, principal: StaffDep, session: SessionDep, now: NowDep
) -> RulingOut:
    record = qa_flow.rule(session, senior=principal, rereview_id=rereview_id,
                          decision=body.decision, reason_code=body.reason_code,
                          comment=body.comment, now=now)  # fmt: skip
    return RulingOut(id=record.id, rereview_id=record.rereview_id, decision=record.decision,
                     overturn_id=record.overturn_id)  # fmt: skip
