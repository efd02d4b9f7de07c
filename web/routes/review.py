"""The reviewers' pages: the queue, one item, decisions and stats. Each form posts here with
the session's CSRF token and calls the same service functions as the JSON API."""

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, Field

from api.deps import NowDep, SessionDep
from mvq.auth import policy
from mvq.auth.policy import Action
from mvq.errors import Conflict, Invalid
from mvq.flows import decisions
from mvq.review import inspection, queue, service, stats
from mvq.review.models import ItemState
from mvq.rules import service as rules
from mvq.rules.models import Outcome
from mvq.settings import get_settings
from web.deps import WebFormUserDep, WebUserDep
from web.templating import redirect, render

router = APIRouter(include_in_schema=False)
FLAG_KINDS = (
    "exact_duplicate",
    "near_duplicate",
    "cross_unit_duplicate",
    "no_capture_time",
    "capture_time_mismatch",
    "location_mismatch",
    "reencoded",
)


@router.get("/review", response_class=HTMLResponse)
def queue_page(
    request: Request,
    user: WebUserDep,
    session: SessionDep,
    now: NowDep,
    flag: str | None = None,
    unit_id: str | None = None,
    target_type: str | None = None,
    min_age_minutes: Annotated[int | None, Query(ge=0, le=1_000_000)] = None,
    message: str | None = None,
) -> HTMLResponse:
    policy.require(user.principal, Action.view_queue)
    filters = queue.QueueFilters(
        flag=flag or None,
        unit_id=unit_id or None,
        target_type=target_type or None,
        min_age_minutes=min_age_minutes,
    )
    return render(
        request,
        "queue.html",
        user=user,
        rows=queue.queue_rows(session, viewer=user.principal, filters=filters, now=now),
        counts=queue.state_counts(session),
        oldest=queue.oldest_waiting(session, now=now),
        filters=filters,
        flag_kinds=FLAG_KINDS,
        units=queue.units(session),
        target_types=sorted(rules.known_target_types(session, at=now)),
        can_claim=user.can(Action.review),
        message=message,
    )


@router.post("/review/claim", response_class=RedirectResponse)
def claim(
    request: Request, user: WebFormUserDep, session: SessionDep, now: NowDep
) -> RedirectResponse:
    claimed = service.claim_next(
        session, reviewer=user.principal, now=now, lease_seconds=get_settings().lease_seconds
    )
    session.commit()
    if claimed is None:
        return redirect(request, "queue_page", message="The queue is empty.")
    return redirect(request, "item_page", item_id=claimed[0].id)


@router.get("/review/stats", response_class=HTMLResponse)
def stats_page(
    request: Request,
    user: WebUserDep,
    session: SessionDep,
    now: NowDep,
    hours: Annotated[int, Query(ge=1, le=720)] = 24,
) -> HTMLResponse:
    policy.require(user.principal, Action.view_queue)
    rows = stats.reviewer_stats(session, since=now - timedelta(hours=hours), until=now)
    return render(request, "stats.html", user=user, stats=rows, hours=hours)


@router.get("/review/{item_id}", response_class=HTMLResponse)
def item_page(
    item_id: str,
    request: Request,
    user: WebUserDep,
    session: SessionDep,
    now: NowDep,
    message: str | None = None,
) -> HTMLResponse:
    policy.require(user.principal, Action.view_queue)
    view = inspection.item_view(session, viewer=user.principal, item_id=item_id)
    session.commit()  # the access event for the presigned GETs
    at = view.submission.occurred_at
    return render(
        request,
        "item.html",
        user=user,
        view=view,
        target_types=sorted(rules.known_target_types(session, at=at)),
        outcomes=[o.value for o in Outcome],
        reject_reasons=service.REJECT_REASONS,
        lease_seconds=get_settings().lease_seconds,
        can_overturn=user.can(Action.overturn) and view.item.state == ItemState.decided,
        message=message,
    )


@router.post("/review/{item_id}/decision", response_class=RedirectResponse)
def decide(
    item_id: str,
    request: Request,
    user: WebFormUserDep,
    session: SessionDep,
    now: NowDep,
    lease_token: Annotated[str, Form(max_length=64)],
    decision: Annotated[str, Form(max_length=20)],
    target_type: Annotated[str | None, Form(max_length=64)] = None,
    outcome: Annotated[str | None, Form(max_length=20)] = None,
    reason_code: Annotated[str | None, Form(max_length=40)] = None,
    comment: Annotated[str | None, Form(max_length=4000)] = None,
) -> RedirectResponse:
    try:
        record = decisions.decide(
            session,
            reviewer=user.principal,
            item_id=item_id,
            lease_token=lease_token,
            decision=decision,
            target_type=target_type or None,
            outcome=outcome or None,
            reason_code=reason_code or None,
            comment=comment or None,
            now=now,
        )
    except (Conflict, Invalid) as exc:
        session.rollback()
        return redirect(request, "item_page", item_id=item_id, message=exc.message)
    session.commit()
    done = {"approve": "approved", "reject": "rejected", "escalate": "escalated"}[record.decision]
    return redirect(request, "queue_page", message=f"Item {done}. Press n for the next.")


class Heartbeat(BaseModel):
    lease_token: str = Field(min_length=1, max_length=64)


@router.post("/review/{item_id}/heartbeat")
def heartbeat(
    item_id: str, body: Heartbeat, user: WebFormUserDep, session: SessionDep, now: NowDep
) -> dict[str, str]:
    expires = service.renew_lease(
        session,
        reviewer=user.principal,
        item_id=item_id,
        lease_token=body.lease_token,
        now=now,
        lease_seconds=get_settings().lease_seconds,
    )
    session.commit()
    return {"lease_expires_at": expires.isoformat()}


@router.post("/review/{item_id}/overturn", response_class=RedirectResponse)
def overturn(
    item_id: str,
    request: Request,
    user: WebFormUserDep,
    session: SessionDep,
    decision: Annotated[str, Form(max_length=20)],
    comment: Annotated[str, Form(min_length=1, max_length=4000)],
    reason_code: Annotated[str | None, Form(max_length=40)] = None,
) -> RedirectResponse:
    decisions.overturn(
        session,
        senior=user.principal,
        item_id=item_id,
        decision=decision,
        target_type=None,
        outcome=None,
        reason_code=reason_code or None,
        comment=comment,
    )
    session.commit()
    return redirect(request, "item_page", item_id=item_id, message="Decision overturned.")
