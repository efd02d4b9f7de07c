"""Pages for points: the rules and their history (admins add versions and preview them), the
leaderboard with its chart."""

from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from api.deps import NowDep, SessionDep
from mvq.auth import policy
from mvq.auth import service as auth
from mvq.auth.policy import Action
from mvq.errors import DomainError, Invalid
from mvq.rules import service
from mvq.rules.models import Outcome
from mvq.scoring import ledger, preview
from web.deps import WebFormUserDep, WebUserDep
from web.templating import redirect, render

router = APIRouter(include_in_schema=False)
CHART_UNITS = 5
PERIODS = {"7d": 7, "30d": 30, "90d": 90, "365d": 365}


def parse_rules(text: str) -> list[service.RuleRow]:
    """One rule a line: `target_type outcome points`, e.g. `tank destroyed 40`."""
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 3 or parts[1] not in set(Outcome) or not parts[2].isdigit():
            raise Invalid(f"line {number}: write `target_type destroyed|damaged points`")
        rows.append(service.RuleRow(parts[0].lower(), parts[1], int(parts[2])))
    return rows


@router.get("/scoring/rules", response_class=HTMLResponse)
def rules_page(
    request: Request, user: WebUserDep, session: SessionDep, now: NowDep,
    message: str | None = None,
) -> HTMLResponse:  # fmt: skip
    policy.require(user.principal, Action.view_rules)
    versions = service.history(session)  # newest first
    shown = []
    for n, version in enumerate(versions):
        rules = service.rules_of(session, version_id=version.id)
        before = service.rules_of(session, version_id=versions[n + 1].id) if n + 1 < len(
            versions) else []  # fmt: skip
        shown.append((version, service.diff(before, rules), service.is_demo(version)))
    in_force = service.version_in_force(session, at=now)
    return render(request, "rules.html", user=user, versions=shown, now=now, message=message,
                  in_force_id=in_force.id if in_force else None,
                  can_edit=user.can(Action.edit_rules))  # fmt: skip


@router.post("/scoring/rules", response_class=RedirectResponse)
def create_rules(
    request: Request,
    user: WebFormUserDep,
    session: SessionDep,
    now: NowDep,
    effective_from: Annotated[datetime, Form()],
    rules: Annotated[str, Form(max_length=100_000)],
) -> RedirectResponse:
    policy.require(user.principal, Action.edit_rules)
    when = effective_from if effective_from.tzinfo else effective_from.replace(tzinfo=UTC)
    try:
        service.create_version(
            session, effective_from=when, rows=parse_rules(rules), actor_id=user.principal.id,
            actor=user.principal.actor, now=now,
        )  # fmt: skip
    except DomainError as exc:
        session.rollback()
        return redirect(request, "rules_page", message=exc.message)
    session.commit()
    return redirect(request, "rules_page", message="Version saved.")


@router.post("/scoring/preview", response_class=HTMLResponse)
def preview_page(
    request: Request,
    user: WebFormUserDep,
    session: SessionDep,
    since: Annotated[date, Form()],
    until: Annotated[date, Form()],
    rules: Annotated[str, Form(max_length=100_000)],
) -> HTMLResponse:
    policy.require(user.principal, Action.edit_rules)
    start = datetime(since.year, since.month, since.day, tzinfo=UTC)
    end = datetime(until.year, until.month, until.day, tzinfo=UTC) + timedelta(days=1)
    rows = preview.preview(session, rows=parse_rules(rules), since=start, until=end)
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
    policy.require(user.principal, Action.view_leaderboard)
    today = now.astimezone(UTC).date()
    days = PERIODS.get(period)
    since = (
        datetime.combine(today - timedelta(days=days - 1), datetime.min.time(), UTC)
        if days
        else None
    )
    standings = ledger.leaderboard(session, since=since, until=None)
    top = [s.unit_id for s in standings[:CHART_UNITS]]
    start = since.date() if since else today - timedelta(days=89)
    series = ledger.series(session, unit_ids=top, since=start, until=today + timedelta(days=1))
    names = auth.unit_names(session, ids=top)
    return render(request, "leaderboard.html", user=user, standings=standings, period=period,
                  periods=[*PERIODS, "all"], chart=_chart(series, names))  # fmt: skip
