"""A unit member's home, "my claims": the unit's claims ten at a time (keyset pages, newest
first), each with its state and what became of it in words the unit can act on; then the
balance, the ledger with each entry's reason, and the unit's place on the leaderboard. Each
claim has its own page too: its files, the flags it may see, the decision and its reason, the
points and any reversal, and the appeal form while a rejection may be appealed. The pages'
words live in the templates (unit.html, unit_claim.html, _unit_claim.html) and in
edge.outcome_words, so they are translated with the rest."""

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from edge.deps import NowDep
from edge.unit_of_work import SessionDep, discard_so_far
from mvq import claims
from mvq.auth import service as auth
from mvq.errors import DomainError, Forbidden, Invalid
from mvq.review import appeals
from mvq.scoring import ledger, receipts
from mvq.submissions.models import SubmissionStatus
from web.deps import WebFormUserDep, WebUser, WebUserDep
from web.templating import render, url_for

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 10
LEDGER_ROWS = 50


def _member(user: WebUser) -> str:
    """The unit the signed-in member acts for; staff have no "my claims"."""
    if user.principal.kind != "unit" or user.principal.unit_id is None:
        raise Forbidden("this page is for members of a unit")
    return user.principal.unit_id


def _cursor(before: str | None) -> tuple[datetime, str] | None:
    """`before` is where the next page starts: the last claim's creation time and id."""
    if not before:
        return None
    at, _, claim_id = before.partition("~")
    try:
        return datetime.fromisoformat(at), claim_id
    except ValueError:
        raise Invalid("There is no such page of claims: start again from the newest.",
                      code="bad_page") from None  # fmt: skip


def _cursor_text(found: tuple[datetime, str] | None) -> str | None:
    return f"{found[0].isoformat()}~{found[1]}" if found else None


@router.get("/unit", response_class=HTMLResponse)
def unit_page(
    request: Request,
    user: WebUserDep,
    session: SessionDep,
    now: NowDep,
    status: Annotated[SubmissionStatus | Literal[""] | None, Query()] = None,
    before: Annotated[str | None, Query(max_length=120)] = None,
) -> HTMLResponse:
    unit_id = _member(user)
    shown = status or None  # "all claims" sends an empty status
    found = claims.for_unit(session, principal=user.principal, status=shown, limit=PAGE_SIZE,
                            before=_cursor(before), now=now)  # fmt: skip
    rank, ranked = ledger.place(session, unit_id=unit_id)
    return render(
        request,
        "unit.html",
        user=user,
        unit_name=auth.get_unit(session, unit_id=unit_id).name,
        rows=found.rows,
        total=found.total,
        older=_cursor_text(found.older),
        paged=before is not None,
        status=shown,
        statuses=list(SubmissionStatus),
        held=ledger.position(session, unit_id=unit_id),
        entries=ledger.entries(session, unit_id=unit_id, limit=LEDGER_ROWS, offset=0),
        rank=rank,
        ranked=ranked,
    )


@router.get("/unit/claims/{submission_id}", response_class=HTMLResponse)
def unit_claim_page(
    request: Request,
    submission_id: str,
    user: WebUserDep,
    session: SessionDep,
    now: NowDep,
    appealed: str | None = None,
    error: str | None = None,
) -> HTMLResponse:
    """One claim on a page of its own: everything "my claims" shows in brief, in full."""
    _member(user)
    row = claims.one_for_unit(session, principal=user.principal, submission_id=submission_id,
                              now=now)  # fmt: skip
    return render(request, "unit_claim.html", user=user, row=row, c=row.claim, appealed=appealed,
                  error=error)  # fmt: skip


@router.get("/unit/ledger/{entry_id}/receipt.json", response_class=JSONResponse)
def entry_receipt(entry_id: str, user: WebUserDep, session: SessionDep) -> JSONResponse:
    """A ledger entry's receipt as a file to keep (docs/RECEIPTS.md)."""
    _member(user)
    found = receipts.build(session, entry_id=entry_id, reader=user.principal)
    disposition = f'attachment; filename="receipt-{entry_id}.json"'
    return JSONResponse(found, headers={"Content-Disposition": disposition})


@router.post("/unit/claims/{submission_id}/appeal", response_class=RedirectResponse)
def appeal_claim(
    request: Request,
    submission_id: str,
    user: WebFormUserDep,
    session: SessionDep,
    now: NowDep,
    reason: Annotated[str, Form(max_length=4000)] = "",
) -> RedirectResponse:
    _member(user)
    target = url_for(request, "unit_claim_page", submission_id=submission_id)
    try:
        appeals.file(session, unit=user.principal, submission_id=submission_id, reason=reason,
                     now=now)  # fmt: skip
    except DomainError as exc:
        # The page names the refusal by its code, in the reader's language, at the claim.
        discard_so_far(session)
        if exc.status == 404:
            raise
        return RedirectResponse(f"{target}?error={exc.code}#appeal", 303)
    return RedirectResponse(f"{target}?appealed=1#appeal", 303)
