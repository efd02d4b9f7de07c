"""The calibration page (/qa): golden accuracy, agreement and time per item, drawn on the
server; each reviewer's own golden results with the right answers; and, for seniors, the
re-review disagreements to rule on."""

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from edge.deps import NowDep
from edge.errors import localised
from edge.i18n import gettext as _
from edge.unit_of_work import SessionDep, discard_so_far
from mvq.errors import Conflict, Invalid
from mvq.flows import qa as qa_flow
from mvq.review.decisions import REJECT_REASONS
from mvq.review.qa import figures, rereview
from web import qa_charts
from web.deps import WebFormUserDep, WebUserDep
from web.templating import redirect, render

router = APIRouter(include_in_schema=False)


@router.get("/qa", response_class=HTMLResponse)
def calibration_page(
    request: Request,
    user: WebUserDep,
    session: SessionDep,
    now: NowDep,
    days: Annotated[int, Query(ge=1, le=365)] = 30,
    message: str | None = None,
) -> HTMLResponse:
    found = figures.calibration(session, viewer=user.principal, since=now - timedelta(days=days))
    return render(
        request,
        "qa.html",
        user=user,
        days=days,
        figures=found,
        reviewer_bars=qa_charts.rate_bars(found.by_reviewer),
        reason_bars=qa_charts.rate_bars(found.by_reason),
        target_bars=qa_charts.rate_bars(found.by_target),
        kappa_bars=qa_charts.kappa_bars(found.pairs),
        scatter=qa_charts.time_scatter(found.timing),
        chart_width=qa_charts.WIDTH,
        scatter_size=qa_charts.SCATTER,
        disputed=rereview.disputed(session, viewer=user.principal),
        reject_reasons=REJECT_REASONS,
        message=message,
    )


@router.post("/qa/rereviews/{rereview_id}/ruling", response_class=RedirectResponse)
def rule(
    rereview_id: str,
    request: Request,
    user: WebFormUserDep,
    session: SessionDep,
    now: NowDep,
    decision: Annotated[str, Form(max_length=20)],
    comment: Annotated[str, Form(min_length=1, max_length=4000)],
    reason_code: Annotated[str | None, Form(max_length=40)] = None,
) -> RedirectResponse:
    """A senior rules on a re-review disagreement; an overturn follows where they differ."""
    try:
        record = qa_flow.rule(session, senior=user.principal, rereview_id=rereview_id,
                              decision=decision, reason_code=reason_code or None,
                              comment=comment, now=now)  # fmt: skip
    except (Conflict, Invalid) as exc:
        discard_so_far(session)
        return redirect(request, "calibration_page", message=localised(exc))
    said = (_("Ruling recorded; the claim's decision is overturned.") if record.overturn_id
            else _("Ruling recorded."))  # fmt: skip
    return redirect(request, "calibration_page", message=said)
