"""The reviewers' pages: the queue, one item, decisions and stats. Each form posts here with
the session's CSRF token and calls the same service functions as the JSON API."""

import contextlib
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from edge.deps import NowDep
from edge.errors import localised
from edge.i18n import gettext as _
from edge.unit_of_work import SessionDep, discard_so_far, keep_so_far
from mvq import storage
from mvq.auth.policy import Action
from mvq.errors import Conflict, Forbidden, Invalid
from mvq.flows import bulk, decisions
from mvq.flows import qa as qa_flow
from mvq.review import (
    inspection,
    leases,
    notes,
    pace,
    provenance,
    queue,
    stats,
    viewing,
    warnings,
)
from mvq.review.decisions import REJECT_REASONS
from mvq.review.models import ItemState, ReviewItem
from mvq.review.qa import golden as qa_golden
from mvq.review.qa import tasks as qa_tasks
from mvq.review.qa import undo as qa_undo
from mvq.review.qa import view as qa_view
from mvq.rules import service as rules
from mvq.rules.models import Outcome
from mvq.settings import get_settings
from web import provenance_words, told
from web.deps import WebFormUserDep, WebUser, WebUserDep
from web.templating import redirect, render, url_for

router = APIRouter(include_in_schema=False)
FLAG_KINDS = (
    "exact_duplicate",
    "near_duplicate",
    "cross_unit_duplicate",
    "no_capture_time",
    "capture_time_mismatch",
    "location_mismatch",
    "osd_mismatch",
    "reencoded",
)
# Approving a claim with one of these takes a second, deliberate key press.
CONFIRM_FLAGS = ("cross_unit_duplicate", "exact_duplicate", "already_credited")
# A reviewer who would rather land on the queue after each decision sets this cookie to "0"
# (the queue page's checkbox does); by default a decision leads straight to the next item.
AUTO_NEXT_COOKIE = "mvq_auto_next"
# The queue lists the notes that name the reader from this many days back.
MENTIONS_DAYS = 14


def lease_error(exc: Conflict | Forbidden) -> str:
    """A lease or undo refusal in the reviewer's words and language."""
    plain = {
        "stale_lease": _("You no longer hold this item: your time ran out or it was released, "
                         "so nothing was saved. Claim it again to continue."),
        "not_claimable": _("This item can't be claimed: someone else holds it, it has been "
                           "decided, or it isn't yours to judge."),
        "conflict_of_interest": _("You may not judge this claim: its evidence involves the "
                                  "unit you are linked to."),
        "undo_expired": _("Too late to undo: that decision is final now."),
        "undo_moved": _("That decision can't be undone: someone else has taken the item up."),
        "undo_disputed": _("That decision can't be undone because the claim is in a dispute; "
                           "ask a senior to overturn it."),
    }  # fmt: skip
    return plain.get(exc.code or "", exc.message)


def too_fast_words(exc: warnings.TooFast) -> str:
    """A refused too-fast verdict in the reviewer's words (a page without its script)."""
    found = exc.haste
    why = []
    if "not_viewed" in found.reasons:
        why.append(_("the footage has not been shown yet"))
    if "too_fast" in found.reasons:
        elapsed, floor = int(found.elapsed_seconds), int(found.floor_seconds)
        why.append(_("%(elapsed)s s on this item is under its floor of %(floor)s s",
                     elapsed=elapsed, floor=floor))  # fmt: skip
    return _("Not saved: too fast (%(why)s). Look at the footage, then decide again; to decide "
             "anyway, confirm with the second key.", why="; ".join(why))  # fmt: skip


def _see(
    request: Request, name: str, /, *, query: dict[str, str], **params: Any
) -> RedirectResponse:
    target = url_for(request, name, **params)
    if query:
        target += "?" + urlencode(query)
    return RedirectResponse(target, status_code=303)


def _undo_offer(session: Session, user: WebUser, now: datetime) -> dict[str, Any] | None:
    """The toast after a decision: which one may still be undone and for how long."""
    if not user.can(Action.review):
        return None
    seconds = get_settings().undo_seconds
    window: tuple[Any, float] | None = decisions.undo_offer(
        session, reviewer=user.principal, now=now, undo_seconds=seconds)  # fmt: skip
    # A golden or re-review decision is offered back exactly as a live one is.
    qa = qa_undo.offer(session, reviewer=user.principal, now=now, undo_seconds=seconds)
    if qa is not None and (window is None or qa[0].created_at > window[0].created_at):
        window = qa
    if window is None:
        return None
    decision, left = window
    return {"decision": decision, "seconds_left": int(left + 0.999)}


@router.get("/review", response_class=HTMLResponse)
def queue_page(
    request: Request,
    user: WebUserDep,
    session: SessionDep,
    now: NowDep,
    flag: str | None = None,
    unit_id: str | None = None,
    target_type: str | None = None,
    # A string: the filter form sends an empty field as "", which means no filter, not an error.
    min_age_minutes: Annotated[str | None, Query(max_length=7, pattern=r"^\d*$")] = None,
    sort: Annotated[str, Query(max_length=10)] = "claim",
    after: Annotated[str | None, Query(max_length=400)] = None,
    message: str | None = None,
) -> HTMLResponse:
    filters = queue.QueueFilters(
        flag=flag or None,
        unit_id=unit_id or None,
        target_type=target_type or None,
        min_age_minutes=int(min_age_minutes) if min_age_minutes else None,
        sort=sort if sort in queue.SORTS else "claim",
    )
    # One row more than a page tells whether there is a next one.
    rows = queue.queue_rows(session, viewer=user.principal, filters=filters, now=now,
                            limit=queue.PAGE_SIZE + 1, after=after or None)  # fmt: skip
    more = len(rows) > queue.PAGE_SIZE
    rows = rows[: queue.PAGE_SIZE]
    kept = {k: v for k, v in {
        "flag": filters.flag, "unit_id": filters.unit_id, "target_type": filters.target_type,
        "min_age_minutes": filters.min_age_minutes, "sort": filters.sort,
    }.items() if v not in (None, "", "claim")}  # fmt: skip
    mine = qa_flow.held_items(session, reviewer=user.principal, now=now)
    in_bulk = user.can(Action.act_in_bulk)
    return render(
        request,
        "queue.html",
        user=user,
        rows=rows,
        noted=notes.noted_items(session, viewer=user.principal, item_ids=[r.item_id for r in rows]),
        mentions=notes.mentions_of(
            session, viewer=user.principal, since=now - timedelta(days=MENTIONS_DAYS)
        ),
        in_bulk=in_bulk,
        assignees=bulk.assignees(session) if in_bulk else [],
        reject_reasons=REJECT_REASONS,
        # Short-lived presigned stills; the veil (review.css) blurs them like the footage.
        thumbs={
            r.item_id: storage.presign_get(r.thumb_key, content_type="image/jpeg")
            for r in rows
            if r.thumb_key
        },
        next_page=("?" + urlencode({**kept, "after": rows[-1].cursor})) if more else None,
        first_page=("?" + urlencode(kept)) if after else None,
        sorts=queue.SORTS,
        mine=mine,
        recent=queue.recent_decisions(session, reviewer_id=user.principal.id),
        undo=_undo_offer(session, user, now),
        counts=queue.state_counts(session, viewer=user.principal),
        oldest=queue.oldest_waiting(session, viewer=user.principal, now=now),
        filters=filters,
        flag_kinds=FLAG_KINDS,
        units=queue.units(session, viewer=user.principal),
        target_types=sorted(rules.known_target_types(session, at=now)),
        can_claim=user.can(Action.review),
        message=message,
        worked=warnings.break_due(session, reviewer=user.principal, now=now),
    )


@router.post("/review/claim", response_class=RedirectResponse)
def claim(
    request: Request, user: WebFormUserDep, session: SessionDep, now: NowDep
) -> RedirectResponse:
    claimed = qa_flow.claim_next(
        session, reviewer=user.principal, now=now, lease_seconds=get_settings().lease_seconds
    )
    if claimed is None:
        return redirect(request, "queue_page", message=_("The queue is empty."))
    return redirect(request, "item_page", item_id=claimed[0].id)


@router.post("/review/{item_id}/claim", response_class=RedirectResponse)
def claim_item(
    item_id: str, request: Request, user: WebFormUserDep, session: SessionDep, now: NowDep
) -> RedirectResponse:
    """ "Claim this item" on a listed item's page, and "claim again" after a lost lease."""
    try:
        task = qa_tasks.find(session, item_id=item_id, reviewer=user.principal)
        if task is not None:
            qa_tasks.relet(session, reviewer=user.principal, task=task, now=now,
                           lease_seconds=get_settings().lease_seconds)  # fmt: skip
        else:
            leases.claim_item(session, reviewer=user.principal, item_id=item_id, now=now,
                              lease_seconds=get_settings().lease_seconds)  # fmt: skip
    except (Conflict, Forbidden) as exc:
        if isinstance(exc, Forbidden) and exc.code != "conflict_of_interest":
            raise  # the role's refusal is the answer; a conflict is told on the item's page
        discard_so_far(session)
        return redirect(request, "item_page", item_id=item_id, message=lease_error(exc))
    return redirect(request, "item_page", item_id=item_id)


class LeaseToken(BaseModel):
    lease_token: str = Field(min_length=1, max_length=64)
    reason: str = Field(default="left", pattern="^(idle|left)$")


@router.post("/review/{item_id}/release")
def release(
    item_id: str, body: LeaseToken, user: WebFormUserDep, session: SessionDep, now: NowDep
) -> JSONResponse:
    """The page gives its lease back: after `review_idle_seconds` without input, or when the
    reviewer lets the item go."""
    try:
        if qa_tasks.find(session, item_id=item_id, reviewer=user.principal) is not None:
            qa_tasks.release(session, reviewer=user.principal, task_id=item_id,
                             lease_token=body.lease_token, now=now)  # fmt: skip
        else:
            leases.release(session, reviewer=user.principal, item_id=item_id,
                           lease_token=body.lease_token, now=now, reason=body.reason)  # fmt: skip
    except Conflict as exc:
        discard_so_far(session)
        return JSONResponse({"code": exc.code, "message": lease_error(exc)}, status_code=409)
    return JSONResponse({"released": True})


@router.post("/review/undo", response_class=RedirectResponse)
def undo(
    request: Request,
    user: WebFormUserDep,
    session: SessionDep,
    now: NowDep,
    decision_id: Annotated[str, Form(max_length=36)],
    from_item: Annotated[str | None, Form(max_length=36)] = None,
    from_token: Annotated[str | None, Form(max_length=64)] = None,
) -> RedirectResponse:
    """Takes back the reviewer's last decision and opens that item again, leased to them. The
    item the decision led to (if the undo is pressed there) goes back to the queue."""
    settings = get_settings()
    try:
        if qa_undo.is_qa_record(session, decision_id=decision_id, reviewer=user.principal):
            back = qa_undo.undo(session, reviewer=user.principal, record_id=decision_id,
                                now=now, lease_seconds=settings.lease_seconds,
                                undo_seconds=settings.undo_seconds).id  # fmt: skip
        else:
            back = decisions.undo(session, reviewer=user.principal, decision_id=decision_id,
                                  now=now, lease_seconds=settings.lease_seconds,
                                  undo_seconds=settings.undo_seconds).item.id  # fmt: skip
    except Conflict as exc:
        discard_so_far(session)
        return _see(request, "queue_page", query={"message": lease_error(exc)})
    if from_item and from_token and from_item != back:
        # Already gone (expired, released): nothing to give back. The refusal writes nothing.
        with contextlib.suppress(Conflict):
            if qa_tasks.find(session, item_id=from_item, reviewer=user.principal) is not None:
                qa_tasks.release(session, reviewer=user.principal, task_id=from_item,
                                 lease_token=from_token, now=now)  # fmt: skip
            else:
                leases.release(session, reviewer=user.principal, item_id=from_item,
                               lease_token=from_token, now=now, reason="undo")  # fmt: skip
    return redirect(request, "item_page", item_id=back,
                    message=_("Decision undone. The item is yours again."))  # fmt: skip


@router.get("/review/stats", response_class=HTMLResponse)
def stats_page(
    request: Request,
    user: WebUserDep,
    session: SessionDep,
    now: NowDep,
    hours: Annotated[int, Query(ge=1, le=720)] = 24,
) -> HTMLResponse:
    rows = stats.reviewer_stats(session, viewer=user.principal,
                                since=now - timedelta(hours=hours), until=now)  # fmt: skip
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
    task = qa_tasks.find(session, item_id=item_id, reviewer=user.principal)
    if task is not None:
        view = qa_view.item_view(session, viewer=user.principal, task=task, now=now)
    else:
        view = inspection.item_view(session, viewer=user.principal, item_id=item_id)
    at = view.submission.occurred_at
    state = view.item.state
    claimable = user.can(Action.review) and state in (ItemState.pending, ItemState.escalated)
    return render(
        request,
        "item.html",
        user=user,
        view=view,
        claimable=claimable,
        confirm_flags=sorted({f.kind for f in view.flags} & set(CONFIRM_FLAGS)),
        idle_seconds=get_settings().review_idle_seconds,
        now=now,
        undo=_undo_offer(session, user, now),
        target_types=sorted(rules.known_target_types(session, at=at)),
        outcomes=[o.value for o in Outcome],
        reject_reasons=REJECT_REASONS,
        lease_seconds=get_settings().lease_seconds,
        can_overturn=user.can(Action.overturn)
        and view.item.state == ItemState.decided
        and task is None,
        golden=_golden_of(session, user, view) if task is None else None,
        message=message,
        origins=_origins(session, view),
        # A QA copy's thread holds the notes written on that copy (mvq.review.notes).
        notes=notes.thread(session, viewer=user.principal, item_id=item_id),
        pace=_pace(
            session,
            user,
            view,
            paced=qa_tasks.paced(session, task=task) if task is not None else view.item,
        ),
        worked=warnings.break_due(session, reviewer=user.principal, now=now),
    )


def _pace(
    session: Session, user: WebUser, view: inspection.ItemView, *, paced: ReviewItem
) -> dict[str, Any] | None:
    """What the page needs to ask for the second key before a too-fast verdict (review.pace):
    the floor, when the lease began, and whether the footage was shown already. `paced`: the
    lease as the rule reads it (a QA item's is its real claim's footage under its own lease)."""
    if not view.lease_is_mine or not get_settings().fast_decision_warnings:
        return None
    length = pace.footage_seconds(session, submission_id=paced.submission_id)
    viewed = length is None or pace.viewed_since(session, reviewer=user.principal, item=paced)
    return {"floor": pace.floor_seconds(length), "since": paced.leased_at, "viewed": viewed}


def _golden_of(session: Session, user: WebUser, view: inspection.ItemView) -> dict[str, Any] | None:
    """The golden-item control on a decided claim's page, for seniors: its current mark."""
    if not user.can(Action.mark_golden) or view.item.state != ItemState.decided:
        return None
    marked = qa_golden.of_claim(session, submission_id=view.submission.id)
    return {"marked": marked}


# Ranking a pair reads both claims' files and frame links: a few queries, so only the rows a
# reviewer sees first are ranked (the disputes page ranks every member).
RANKED_ROWS = 6


def _origins(session: Session, view: inspection.ItemView) -> dict[str, tuple[str, list[str]]]:
    """For each matching claim shown first: which of the two files is the likely source
    ("this", "other" or "unknown") and the evidence in the reader's words."""
    found: dict[str, tuple[str, list[str]]] = {}
    for claim in view.claims[:RANKED_ROWS]:
        verdict = provenance.for_pair(session, view.submission.id, claim.submission_id)
        if verdict is None:
            continue
        if verdict.original is None:
            found[claim.submission_id] = ("unknown", [])
        else:
            side = "this" if verdict.original == view.submission.id else "other"
            found[claim.submission_id] = (side, provenance_words.reasons(verdict, verdict.original))
    return found


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
    override: Annotated[str | None, Form(max_length=1)] = None,
) -> RedirectResponse:
    try:
        record = qa_flow.decide(
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
            override=override == "1",
        )
    except warnings.TooFast as exc:
        keep_so_far(session)  # the warning stays on record; the verdict was not given
        return redirect(request, "item_page", item_id=item_id, message=too_fast_words(exc))
    except Conflict as exc:
        discard_so_far(session)
        return redirect(request, "item_page", item_id=item_id, message=lease_error(exc))
    except Invalid as exc:
        discard_so_far(session)
        return redirect(request, "item_page", item_id=item_id, message=localised(exc))
    if isinstance(record, qa_tasks.QaDecided):
        done = told.qa_outcome(record)
    else:
        done = told.decision_outcome(session, record=record)
    if request.cookies.get(AUTO_NEXT_COOKIE) != "0":
        # Straight on to the next item: one key, one page load per decision.
        claimed = qa_flow.claim_next(session, reviewer=user.principal, now=now,
                                     lease_seconds=get_settings().lease_seconds)  # fmt: skip
        if claimed is not None:
            return redirect(request, "item_page", item_id=claimed[0].id, message=done)
        return redirect(request, "queue_page", message=done + " " + _("The queue is empty."))
    return redirect(request, "queue_page", message=done + " " + _("Press n for the next."))


@router.post("/review/{item_id}/viewed", status_code=204)
def footage_viewed(item_id: str, user: WebFormUserDep, session: SessionDep) -> Response:
    """The page's script reports the footage shown (unveiled or played): the view's audit
    event, written by a POST with the CSRF token, never by the page's GET."""
    task = qa_tasks.find(session, item_id=item_id, reviewer=user.principal)
    # A QA item's footage is the real claim's: its view is recorded against that claim.
    real_id = qa_tasks.real_item_id(session, task=task) if task is not None else item_id
    viewing.record_footage_view(session, viewer=user.principal, item_id=real_id)
    return Response(status_code=204)


class Heartbeat(BaseModel):
    lease_token: str = Field(min_length=1, max_length=64)


@router.post("/review/{item_id}/heartbeat")
def heartbeat(
    item_id: str, body: Heartbeat, user: WebFormUserDep, session: SessionDep, now: NowDep
) -> JSONResponse:
    try:
        if qa_tasks.find(session, item_id=item_id, reviewer=user.principal) is not None:
            expires = qa_tasks.renew(session, reviewer=user.principal, task_id=item_id,
                                     lease_token=body.lease_token, now=now,
                                     lease_seconds=get_settings().lease_seconds)  # fmt: skip
            return JSONResponse({"lease_expires_at": expires.isoformat(),
                                 "now": now.isoformat()})  # fmt: skip
        expires = leases.renew_lease(
            session,
            reviewer=user.principal,
            item_id=item_id,
            lease_token=body.lease_token,
            now=now,
            lease_seconds=get_settings().lease_seconds,
        )
    except Conflict as exc:
        discard_so_far(session)
        return JSONResponse({"code": exc.code, "message": lease_error(exc)}, status_code=409)
    # The server's clock with the expiry, so the page's countdown does not trust its own.
    return JSONResponse({"lease_expires_at": expires.isoformat(), "now": now.isoformat()})


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
    record = decisions.overturn(
        session,
        senior=user.principal,
        item_id=item_id,
        decision=decision,
        target_type=None,
        outcome=None,
        reason_code=reason_code or None,
        comment=comment,
    )
    return redirect(request, "item_page", item_id=item_id,
                    message=told.decision_outcome(session, record=record))  # fmt: skip


@router.post("/review/{item_id}/golden", response_class=RedirectResponse)
def mark_golden(
    item_id: str,
    request: Request,
    user: WebFormUserDep,
    session: SessionDep,
    now: NowDep,
    decision: Annotated[str, Form(max_length=20)],
    reason_code: Annotated[str | None, Form(max_length=40)] = None,
) -> RedirectResponse:
    """A senior marks this decided claim as a golden item, with the right answer."""
    view = inspection.item_view(session, viewer=user.principal, item_id=item_id)
    try:
        qa_golden.mark(session, senior=user.principal, submission_id=view.submission.id,
                       decision=decision, reason_code=reason_code or None, now=now)  # fmt: skip
    except (Conflict, Invalid) as exc:
        discard_so_far(session)
        return redirect(request, "item_page", item_id=item_id, message=localised(exc))
    return redirect(request, "item_page", item_id=item_id,
                    message=_("Marked as a golden item."))  # fmt: skip
