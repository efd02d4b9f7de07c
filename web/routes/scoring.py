"""Pages for points: the rules and their history (admins add versions and preview them), the
leaderboard with its chart."""

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from edge.deps import NowDep
from edge.errors import localised
from edge.i18n import gettext
from edge.unit_of_work import SessionDep, discard_so_far
from mvq.auth import service as auth
from mvq.auth.policy import Action
from mvq.errors import Conflict, DomainError, Forbidden, NotFound
from mvq.rules import service
from mvq.rules.models import Outcome
from mvq.scoring import ledger, preview
from mvq.submissions.schemas import BoundedDay, BoundedLocalDatetime
from web.deps import WebFormUserDep, WebUser, WebUserDep
from web.templating import redirect, render

router = APIRouter(include_in_schema=False)
CHART_UNITS = 5
PERIODS = {"7d": 7, "30d": 30, "90d": 90, "365d": 365}


class DraftError(Exception):
    """A line of a draft the parser cannot read: shown next to the draft, never a lost page."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def parse_rules(text: str) -> list[service.RuleRow]:
    """One rule a line: `target_type outcome points`, e.g. `tank destroyed 40`."""
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 3 or parts[1] not in set(Outcome) or not parts[2].isdigit():
            raise DraftError(gettext(
                "Line %(number)s (%(line)s): write `target_type destroyed|damaged points`, "
                "e.g. `tank destroyed 40`.", number=number, line=line.strip()[:80],
            ))  # fmt: skip
        rows.append(service.RuleRow(parts[0].lower(), parts[1], int(parts[2])))
    if not rows:
        raise DraftError(gettext("The draft has no rules: write at least one line."))
    return rows


def _removal_key(changes: list[service.RuleChange]) -> str:
    """What a confirmation covers: exactly these rules removed. A draft edited after the
    confirmation that removes others asks again."""
    return ",".join(f"{c.target_type}/{c.outcome}" for c in changes if c.kind == "removed")


def _rules_page(
    request: Request,
    user: WebUser,
    session: Session,
    now: datetime,
    *,
    status_code: int = 200,
    message: str | None = None,
    **form: Any,
) -> HTMLResponse:
    versions = service.changes_by_version(session, viewer=user.principal)
    in_force = service.version_in_force(session, at=now)
    in_force_rules = service.rules_of(session, version_id=in_force.id) if in_force else []
    # The editor starts from the version in force: a change is an edit of it, not a retyping.
    form.setdefault("draft", service.as_text(in_force_rules))
    return render(request, "rules.html", user=user, versions=versions, now=now,
                  message=message, in_force_id=in_force.id if in_force else None,
                  can_edit=user.can(Action.edit_rules), status_code=status_code,
                  **form)  # fmt: skip


@router.get("/scoring/rules", response_class=HTMLResponse)
def rules_page(
    request: Request, user: WebUserDep, session: SessionDep, now: NowDep,
    message: str | None = None,
) -> HTMLResponse:  # fmt: skip
    return _rules_page(request, user, session, now, message=message)


@router.post("/scoring/rules", response_class=HTMLResponse)
def create_rules(
    request: Request,
    user: WebFormUserDep,
    session: SessionDep,
    now: NowDep,
    effective_from: Annotated[BoundedLocalDatetime, Form()],
    rules: Annotated[str, Form(max_length=100_000)],
    action: Annotated[str, Form(pattern="^(review|save)$")] = "save",
    confirm_removal: Annotated[str | None, Form(max_length=100_000)] = None,
) -> Response:
    when = effective_from  # a naive value (datetime-local) is read as UTC
    # What was typed comes back on every answer but the saved one.
    typed = {"draft": rules, "effective_from": when.strftime("%Y-%m-%dT%H:%M")}
    try:
        rows = parse_rules(rules)
        # A draft that cannot be saved says so before anything asks about removed rules.
        service.check_version(session, editor=user.principal, effective_from=when, rows=rows,
                              now=now)  # fmt: skip
    except Forbidden:
        raise  # the policy's refusal is the answer, not a draft's error
    except DraftError as exc:
        return _rules_page(request, user, session, now, status_code=422, rules_error=exc.message,
                           **typed)  # fmt: skip
    except DomainError as exc:
        return _rules_page(request, user, session, now, status_code=exc.status,
                           rules_error=localised(exc), **typed)  # fmt: skip
    # Against the version the draft would follow: the one in force at its start.
    follows = service.version_in_force(session, at=when)
    changes = service.diff(
        service.rules_of(session, version_id=follows.id) if follows else [], rows
    )
    removed = _removal_key(changes)
    if action == "review" or (removed and confirm_removal != removed):
        # Nothing is saved until the diff was seen: always for a review, and for a save that
        # drops rules until the admin ticks that these very rules go.
        return _rules_page(request, user, session, now, status_code=200, draft_changes=changes,
                           follows=follows, removal_key=removed,
                           needs_confirmation=bool(removed) and action == "save",
                           **typed)  # fmt: skip
    try:
        service.create_version(session, editor=user.principal, effective_from=when, rows=rows,
                               now=now)  # fmt: skip
    except DomainError as exc:
        discard_so_far(session)
        return _rules_page(request, user, session, now, status_code=exc.status,
                           rules_error=localised(exc), **typed)  # fmt: skip
    return redirect(request, "rules_page", message=gettext("Version saved."))


@router.post("/scoring/rules/{version_id}/withdraw", response_class=RedirectResponse)
def withdraw_rules(
    version_id: str, request: Request, user: WebFormUserDep, session: SessionDep, now: NowDep
) -> RedirectResponse:
    try:
        version = service.withdraw(session, editor=user.principal, version_id=version_id,
                                   now=now)  # fmt: skip
    except (Conflict, NotFound) as exc:
        discard_so_far(session)
        message = {
            "rules_in_force": gettext("This version is in force, or takes effect within "
                                      "minutes, and cannot be withdrawn; save a new version "
                                      "instead."),
            "rules_withdrawn": gettext("This version was already withdrawn."),
        }.get(exc.code, gettext("No such rules version."))  # fmt: skip
        return redirect(request, "rules_page", message=message)
    return redirect(request, "rules_page", message=gettext(
        "The version scheduled from %(when)s is withdrawn; it will not take effect.",
        when=version.effective_from.strftime("%Y-%m-%d %H:%M UTC"),
    ))  # fmt: skip


@router.post("/scoring/preview", response_class=HTMLResponse)
def preview_page(
    request: Request,
    user: WebFormUserDep,
    session: SessionDep,
    now: NowDep,
    since: Annotated[BoundedDay, Form()],
    until: Annotated[BoundedDay, Form()],
    rules: Annotated[str, Form(max_length=100_000)],
) -> HTMLResponse:
    try:
        rows_in = parse_rules(rules)
    except DraftError as exc:
        # Back to the rules page with the draft and its period as typed, the error beside it.
        return _rules_page(request, user, session, now, status_code=422,
                           preview_error=exc.message, preview_draft=rules, since=since,
                           until=until)  # fmt: skip
    start = datetime(since.year, since.month, since.day, tzinfo=UTC)
    end = datetime(until.year, until.month, until.day, tzinfo=UTC) + timedelta(days=1)
    rows = preview.preview(session, editor=user.principal, rows=rows_in, since=start, until=end)
    return render(request, "preview.html", user=user, rows=rows, since=since, until=until,
                  rules=rules)  # fmt: skip


def _chart(series: dict[str, list[tuple[date, int]]], names: dict[str, str]) -> dict:  # type: ignore[type-arg]
    """Polylines for an SVG drawn on the server: one per unit, cumulative points by day."""
    width, height, pad = 640, 240, 30
    days = max((len(points) for points in series.values()), default=0)
    top = max((p for points in series.values() for _, p in points), default=0) or 1
    lines = []
    for unit_id, points in series.items():
        coords = " ".join(
            f"{pad + i * (width - 2 * pad) / max(days - 1, 1):.1f},"
            f"{height - pad - p * (height - 2 * pad) / top:.1f}"
            for i, (_, p) in enumerate(points)
        )
        lines.append({"unit": names.get(unit_id, "?"), "points": coords,
                      "last": points[-1][1] if points else 0})  # fmt: skip
    first = next(iter(series.values()), [])
    return {
        "width": width, "height": height, "pad": pad, "top": top, "lines": lines,
        "start": first[0][0] if first else None, "end": first[-1][0] if first else None,
    }  # fmt: skip


@router.get("/leaderboard", response_class=HTMLResponse)
def leaderboard_page(
    request: Request,
    user: WebUserDep,
    session: SessionDep,
    now: NowDep,
    period: Annotated[str, Query(pattern="^(7d|30d|90d|365d|all)$")] = "30d",
) -> HTMLResponse:
    today = now.astimezone(UTC).date()
    days = PERIODS.get(period)
    since = (
        datetime.combine(today - timedelta(days=days - 1), datetime.min.time(), UTC)
        if days
        else None
    )
    standings = ledger.leaderboard(session, viewer=user.principal, since=since, until=None)
    top = [s.unit_id for s in standings[:CHART_UNITS]]
    start = since.date() if since else today - timedelta(days=89)
    series = ledger.series(session, unit_ids=top, since=start, until=today + timedelta(days=1))
    names = auth.unit_names(session, ids=top)
    return render(request, "leaderboard.html", user=user, standings=standings, period=period,
                  periods=[*PERIODS, "all"], chart=_chart(series, names))  # fmt: skip
