"""The seniors' appeals page: every pending appeal with the claim, its earlier decisions and the
unit's reason, and the forms to uphold or deny it; for a senior in the case, why not. A refused
decision re-renders the page with what was typed and why. The page's words live in the
template (appeals.html), so they are translated with the rest of it."""

from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session

from edge.deps import NowDep
from edge.unit_of_work import SessionDep, discard_so_far
from mvq.errors import Conflict, Forbidden, Invalid
from mvq.flows import appeals as flow
from mvq.review import appeals
from mvq.rules import service as rules
from mvq.rules.models import Outcome
from mvq.settings import get_settings
from mvq.submissions import service as submissions
from mvq.submissions.models import SubmissionStatus
from web import told
from web.deps import WebFormUserDep, WebUser, WebUserDep
from web.templating import render, url_for

router = APIRouter(include_in_schema=False)
Done = Literal["upheld", "upheld_held", "upheld_four_eyes", "denied"]


def _page(
    request: Request,
    session: Session,
    user: WebUser,
    *,
    now_targets: set[str],
    done: str | None = None,
    typed: dict[str, str] | None = None,
    error: Exception | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    views = appeals.views(session, viewer=user.principal)
    targets = sorted(now_targets | {v.submission.target_type for v in views})
    # An error about an appeal that has left the list (decided meanwhile) shows at the top.
    inline = typed is not None and any(
        v.appeal.id == typed.get("appeal_id") and v.blocker is None for v in views
    )
    return render(
        request,
        "appeals.html",
        user=user,
        views=views,
        target_types=targets,
        outcomes=[o.value for o in Outcome],
        four_eyes_points=get_settings().four_eyes_points,
        took_part=appeals.TOOK_PART,
        done=done,
        typed=typed or {},
        error=error,
        top_error=None if inline else error,
        status_code=status_code,
    )


@router.get("/appeals", response_class=HTMLResponse)
def appeals_page(
    request: Request, user: WebUserDep, session: SessionDep, now: NowDep, done: Done | None = None
) -> HTMLResponse:
    targets = rules.known_target_types(session, at=now)
    return _page(request, session, user, now_targets=targets, done=done)


@router.post("/appeals/{appeal_id}/decision", response_model=None)
def decide_appeal(
    appeal_id: str,
    request: Request,
    user: WebFormUserDep,
    session: SessionDep,
    now: NowDep,
    decision: Annotated[Literal["uphold", "deny"], Form()],
    reason: Annotated[str, Form(max_length=4000)] = "",
    target_type: Annotated[str | None, Form(max_length=64)] = None,
    outcome: Annotated[str | None, Form(max_length=20)] = None,
) -> HTMLResponse | RedirectResponse:
    try:
        if decision == "uphold":
            appeal = flow.uphold(session, senior=user.principal, appeal_id=appeal_id,
                                 reason=reason, target_type=target_type or None,
                                 outcome=outcome or None, now=now)  # fmt: skip
        else:
            appeal = flow.deny(session, senior=user.principal, appeal_id=appeal_id,
                               reason=reason, now=now)  # fmt: skip
    except (Conflict, Forbidden, Invalid) as exc:
        discard_so_far(session)
        typed = {"appeal_id": appeal_id, "decision": decision, "reason": reason,
                 "target_type": target_type or "", "outcome": outcome or ""}  # fmt: skip
        targets = rules.known_target_types(session, at=now)
        return _page(request, session, user, now_targets=targets, typed=typed, error=exc,
                     status_code=exc.status)  # fmt: skip
    claim = submissions.get_any(session, submission_id=appeal.submission_id)
    done = "denied" if appeal.status == "denied" else "upheld"
    if claim.status == SubmissionStatus.escalated:
        done = "upheld_four_eyes"
    elif done == "upheld" and told.held_in_dispute(session, submission_id=claim.id):
        done = "upheld_held"  # approved, but the award waits for the dispute's settlement
    # The notice is named, not written out here, so the page says it in the reader's language.
    target = f"{url_for(request, 'appeals_page')}?{urlencode({'done': done})}"
    return RedirectResponse(target, status_code=303)
