"""What the reviewer's page reports of the warnings it showed: a verdict about to be given too
fast (the server checks it itself before recording), and a break suggested. Posts with the
session's CSRF token; the page's GET writes nothing."""

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from edge.deps import NowDep
from edge.unit_of_work import SessionDep
from mvq.flows import qa as qa_flow
from mvq.review import warnings
from web.deps import WebFormUserDep

router = APIRouter(include_in_schema=False)


class AboutToDecide(BaseModel):
    lease_token: str = Field(min_length=1, max_length=64)
    decision: str = Field(pattern="^(approve|reject)$")


@router.post("/review/{item_id}/too-fast")
def too_fast_shown(
    item_id: str, body: AboutToDecide, user: WebFormUserDep, session: SessionDep, now: NowDep
) -> JSONResponse:
    """The page showed the too-fast warning (mvq.review.warnings.page_warned)."""
    found = qa_flow.page_warned(
        session, reviewer=user.principal, item_id=item_id, lease_token=body.lease_token,
        decision=body.decision, now=now,
    )  # fmt: skip
    if found is None:
        return JSONResponse({"warned": False})
    return JSONResponse({"warned": True, "reasons": found.reasons})


@router.post("/review/break-suggested", status_code=204)
def break_suggested(user: WebFormUserDep, session: SessionDep, now: NowDep) -> Response:
    """The page suggested a break: on record once per stretch of work."""
    warnings.break_shown(session, reviewer=user.principal, now=now)
    return Response(status_code=204)
