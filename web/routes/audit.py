"""The auditors' page: the chain's state, the log a page at a time with filters in the URL, a
claim's whole story, and exports and evidence bundles downloaded within the session.

Downloads are POST forms with the session's CSRF token: each one appends an audit event (as the
API's do), and a GET that writes could be set off by another site's <img> or a prefetch."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from pydantic import TypeAdapter, ValidationError

from edge import i18n
from edge.downloads import streamed
from edge.unit_of_work import SessionDep
from mvq.audit import query, signing, status
from mvq.errors import Invalid
from mvq.exports import archive as exports
from mvq.exports import log, trail
from mvq.submissions.schemas import BoundedDay
from web import audit_words
from web.deps import WebFormUserDep, WebUserDep
from web.templating import render, url_for

router = APIRouter(include_in_schema=False)
PAGE = 100
Text = Annotated[str, Query(max_length=200)]
Cursor = Annotated[int | None, Query(ge=0, le=2**62)]
# The search form sends its empty date fields too: "" is no bound.
Day = Annotated[str, Query(pattern=r"^(\d{4}-\d{2}-\d{2})?$")]
_DAY: TypeAdapter[date] = TypeAdapter(BoundedDay)


def _day(value: date) -> datetime:
    """The start of a day in the reader's zone, the zone the page shows times in."""
    return datetime(value.year, value.month, value.day, tzinfo=i18n.time_zone()).astimezone(UTC)


def _date(value: str) -> date | None:
    try:
        return _DAY.validate_python(value) if value else None
    except ValidationError as exc:  # 2026-02-31 has the shape but is no day; 0001-01-01 is out
        raise Invalid(f"{value}: {exc.errors()[0]['msg']}", code="invalid_value") from exc


@dataclass(frozen=True)
class Asked:
    """The page's filters as typed, to fill the form and to build the paging links."""

    claim: str = ""
    actor: str = ""
    action: str = ""
    match: str = "prefix"
    object_type: str = ""
    object_id: str = ""
    since: date | None = None
    until: date | None = None

    def query(self, **cursor: int) -> str:
        pairs = {k: str(v) for k, v in self.__dict__.items() if v not in ("", None)}
        if self.match == "prefix":
            pairs.pop("match")
        return urlencode(pairs | {k: str(v) for k, v in cursor.items()})


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    user: WebUserDep,
    session: SessionDep,
    claim: Text = "",
    actor: Text = "",
    action: Text = "",
    match: Literal["prefix", "exact"] = "prefix",
    object_type: Text = "",
    object_id: Text = "",
    since: Day = "",
    until: Day = "",
    before: Cursor = None,
    after: Cursor = None,
    verified: bool = False,
) -> HTMLResponse:
    asked = Asked(claim.strip(), actor.strip(), action.strip(), match, object_type.strip(),
                  object_id.strip(), _date(since), _date(until))  # fmt: skip
    where = query.Filters(
        actor=trail.actor_of(session, asked.actor) if asked.actor else None,
        action=asked.action or None,
        action_prefix=match == "prefix",
        object_type=asked.object_type or None,
        object_ids=[asked.object_id] if asked.object_id else [],
        since=_day(asked.since) if asked.since else None,
        until=_day(asked.until + timedelta(days=1)) if asked.until else None,
    )
    search = (trail.find_claim(session, text=asked.claim, hidden_unit=user.principal.unit_id)
              if asked.claim else None)  # fmt: skip
    if search is not None and search.submission_id is None:
        found = query.EventPage(events=[], newer=None, older=None)
    else:
        found = log.page(session, auditor=user.principal, where=where,
                         claim=search.submission_id if search else None,
                         before=before, after=after, limit=PAGE)  # fmt: skip
    verification = status.last(session)
    named = {e.actor for e in found.events} | ({verification.actor} if verification else set())
    actors = trail.actor_names(session, named)
    return render(request, "audit.html", user=user, asked=asked, page=found, actors=actors,
                  search=search, words=audit_words,
                  resolved_actor=where.actor, verification=verification,
                  anchor=status.anchor(session), verified=verified,
                  zone=i18n.time_zone().key,
                  public_key=signing.public_key_hex())  # fmt: skip


@router.post("/audit/verify", response_class=RedirectResponse)
def verify_now(user: WebFormUserDep, session: SessionDep, request: Request) -> RedirectResponse:
    """Walks the whole chain now; the result is recorded and shown at the top of the page."""
    log.verify_now(session, auditor=user.principal)
    return RedirectResponse(f"{url_for(request, 'audit_page')}?verified=1", status_code=303)


@router.post("/audit/export.zip")
def export_page(
    user: WebFormUserDep,
    session: SessionDep,
    since: Annotated[BoundedDay, Form()],
    until: Annotated[BoundedDay, Form()],
    format: Annotated[str, Form(pattern="^(csv|jsonl|parquet)$")] = "csv",
) -> FileResponse:
    archive = exports.export_archive(
        session,
        auditor=user.principal,
        since=_day(since),
        until=_day(until + timedelta(days=1)),
        fmt=format,
    )
    return streamed(archive, f"mvq-export-{format}.zip")


@router.post("/audit/evidence.zip")
def evidence_page(
    user: WebFormUserDep,
    session: SessionDep,
    submission_id: Annotated[str, Form(min_length=1, max_length=64)],
) -> FileResponse:
    archive = exports.evidence_archive(
        session, requester=user.principal, submission_id=submission_id
    )
    return streamed(archive, f"evidence-{submission_id}.zip")
