"""Seniors' bulk actions from the queue page: the rows ticked, one action, and a page that
says what was done and, item by item, what was not and why."""

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from edge.deps import NowDep
from edge.errors import localised
from edge.i18n import gettext as _
from edge.unit_of_work import SessionDep, discard_so_far
from mvq.errors import Invalid
from mvq.flows import bulk
from mvq.settings import get_settings
from web.deps import WebFormUserDep
from web.templating import render

router = APIRouter(include_in_schema=False)


def failure_words(code: str | None, message: str | None) -> str:
    """Why one item was not done, in the senior's words and language."""
    plain = {
        "not_found": _("not found, or not yours to see"),
        "already_decided": _("it has been decided already; overturn it on its page instead"),
        "already_escalated": _("it is with the seniors already"),
        "held_by_other": _("someone else holds it; release it first"),
        "four_eyes": _("you gave its first approval, so someone else must judge it "
                       "(four-eyes)"),
        "not_leased": _("nobody holds it, so there is nothing to release"),
        "not_claimable": _("it can't be taken: someone holds it, it has been decided, or "
                           "it isn't theirs to judge (four-eyes, or an appeal they decided "
                           "before)"),
        "conflict_of_interest": _("its evidence involves the unit the reviewer is linked to"),
        "stale_lease": _("its lease changed while this ran; try it again"),
    }  # fmt: skip
    return plain.get(code or "", message or code or "?")


@router.post("/review/bulk", response_class=HTMLResponse)
def act_in_bulk(
    request: Request,
    user: WebFormUserDep,
    session: SessionDep,
    now: NowDep,
    action: Annotated[str, Form(max_length=20)],
    item_id: Annotated[list[str], Form(max_length=500)] = [],  # noqa: B006 (a form's default)
    reason_code: Annotated[str | None, Form(max_length=40)] = None,
    comment: Annotated[str | None, Form(max_length=4000)] = None,
    assignee_id: Annotated[str | None, Form(max_length=36)] = None,
) -> HTMLResponse:
    settings = get_settings()
    try:
        results = bulk.act(session, senior=user.principal, item_ids=[i[:36] for i in item_id],
                           action=action, now=now, lease_seconds=settings.lease_seconds,
                           reassign_lease_seconds=settings.reassign_lease_seconds,
                           reason_code=reason_code or None, comment=comment or None,
                           assignee_id=assignee_id or None)  # fmt: skip
    except Invalid as exc:
        discard_so_far(session)
        return render(request, "bulk_done.html", user=user, action=action, done=[], failed=[],
                      problem=localised(exc), status_code=422)  # fmt: skip
    return render(
        request,
        "bulk_done.html",
        user=user,
        action=action,
        done=[r for r in results if r.ok],
        failed=[(r, failure_words(r.code, r.message)) for r in results if not r.ok],
        problem=None,
    )
