"""Server-rendered pages: one Jinja environment, autoescaped, with the few filters pages need
and a `url_for` that gives paths by route name."""

import functools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlencode

from babel.core import Locale
from babel.dates import format_skeleton, format_timedelta
from babel.numbers import format_decimal
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from edge import i18n, outcome_words, web_session
from mvq.submissions.schemas import OutcomeOut
from web import diagnosis_words, evidence_words, position_map, static_files
from web.deps import WebUser

templates = Jinja2Templates(
    directory=Path(__file__).parent / "templates",
    # Every page gets `lang` (for <html lang>) and `languages` (the header's switch).
    context_processors=[i18n.template_context],
)
# Every user-facing string goes through gettext (`_()` in templates), in the request's
# language (edge.i18n).
i18n.install(templates.env)


def url_for(request: Request, name: str, /, **path_params: Any) -> str:
    """The path of one of the web app's routes. Looked up in the web app alone, because the
    JSON API has handlers of the same names; and a path rather than Starlette's absolute URL,
    so links keep the scheme the browser used behind a TLS-terminating proxy."""
    path = request.app.url_path_for(name, **path_params)
    return f"{request.scope.get('root_path', '')}{path}"


def redirect(request: Request, name: str, /, *, message: str | None = None,
             **path_params: Any) -> RedirectResponse:  # fmt: skip
    """After a form: see the page `name`, with an optional notice shown at its top."""
    target = url_for(request, name, **path_params)
    if message is not None:
        target += "?" + urlencode({"message": message})
    return RedirectResponse(target, status_code=303)


@pass_context
def _url_for(context: dict[str, Any], name: str, /, **path_params: Any) -> str:
    return url_for(context["request"], name, **path_params)


# Dates, numbers and spans of time in the reader's language (Babel's CLDR data), and times
# in the reader's zone: an English reader sees "Nov 28, 2026, 14:05", a Ukrainian the same in
# CLDR's Ukrainian (day, abbreviated month, year, time). Both 24-hour.
NONE = "\N{EN DASH}"  # what a page shows for no value
# CLDR's skeletons: the date and the time each in the locale's own order, joined the locale's
# way ("{1}, {0}").
_WHEN_PARTS = {"minutes": ("yMMMd", "Hm"), "seconds": ("yMMMd", "Hms"), "time": (None, "Hms"),
               "date": ("yMMMd", None)}  # fmt: skip


def _when_text(value: datetime | None, precision: str = "minutes") -> str:
    """A moment as plain text in the reader's zone and language: for attributes (a region's
    label, a title), where `when`'s markup would end the attribute and show as text."""
    if value is None:
        return NONE
    utc = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
    locale, zone = i18n.lang(), i18n.time_zone()
    date_part, time_part = _WHEN_PARTS[precision]
    parts = [format_skeleton(skeleton, utc, tzinfo=zone, locale=locale) if skeleton else None
             for skeleton in (date_part, time_part)]  # fmt: skip
    if all(parts):
        joined = Locale.parse(locale).datetime_formats["medium"]
        return str(joined).replace("{1}", str(parts[0])).replace("{0}", str(parts[1]))
    return str(next(p for p in parts if p))


def _when(value: datetime | None, precision: str = "minutes") -> Markup | str:
    """A moment as `<time>`: the reader's zone in the text, the exact UTC on hover and in
    `datetime` (for scripts and tests). Naive values are UTC, as the database stores them.
    `precision`: minutes (the default), seconds, time (of day, with seconds), date."""
    if value is None:
        return NONE
    utc = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
    return Markup('<time datetime="{iso}" title="{utc}">{text}</time>').format(
        iso=utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        utc=utc.strftime("%Y-%m-%d %H:%M:%S UTC"),
        text=_when_text(value, precision),
    )


Unit = Literal["year", "month", "week", "day", "hour", "minute", "second"]


def _duration(
    amount: timedelta, unit: Unit, *, style: Literal["narrow", "short", "long"] = "short"
) -> str:
    # `threshold` high enough that Babel never rounds up into a larger unit than `unit`.
    return format_timedelta(amount, granularity=unit, threshold=10**9, format=style,
                            locale=i18n.lang())  # fmt: skip


def _age(value: timedelta | None) -> str:
    """How long something has waited, to the minute: "2 hr 5 min", "3 days 4 hr"."""
    if value is None:
        return NONE
    seconds = max(0, int(value.total_seconds()))
    if seconds < 60:
        return _duration(timedelta(seconds=seconds), "second")
    minutes = seconds // 60
    if minutes < 60:
        return _duration(timedelta(minutes=minutes), "minute")
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        parts = [_duration(timedelta(hours=hours), "hour")]
        if minutes:
            parts.append(_duration(timedelta(minutes=minutes), "minute"))
        return " ".join(parts)
    days, hours = divmod(hours, 24)
    parts = [_duration(timedelta(days=days), "day")]
    if hours:
        parts.append(_duration(timedelta(hours=hours), "hour"))
    return " ".join(parts)


def _span(minutes: float | None) -> str:
    """How far apart two times are, in the largest unit that reads well: "95 minutes",
    "3 hours", "4 days"."""
    m = abs(int(minutes or 0))
    unit: Unit = "minute" if m < 120 else "hour" if m < 72 * 60 else "day"
    return _duration(timedelta(minutes=m), unit, style="long")


def _ago(value: datetime | None, now: datetime) -> str:
    """A past moment from `now`: "5 minutes ago", "2 hours ago"."""
    if value is None:
        return NONE
    if value > now - timedelta(minutes=1):
        return i18n.gettext("just now")
    return format_timedelta(value - now, add_direction=True, threshold=1.5, format="long",
                            locale=i18n.lang())  # fmt: skip


def _number(value: float | int | None, decimals: int | None = None) -> str:
    """A number in the reader's notation (a decimal comma in Ukrainian); `decimals` fixes
    the digits after the point."""
    if value is None:
        return NONE
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "") if decimals is not None else None
    return format_decimal(value, format=pattern, locale=i18n.lang())


def labels(kind: str) -> dict[str, str]:
    """Code -> what the reader calls it, for one kind of labelled code: the admins' labels
    that the session dependency read for this request (web.deps), over the defaults."""
    cache = i18n.cached() or {}
    return outcome_words.labels(kind, cache.get(f"labels:{kind}", {}))


def _outcome_sentences(outcome: OutcomeOut | None) -> list[str]:
    """A claim's outcome in the reader's words (edge.outcome_words), as the claim's JSON says
    it."""
    if outcome is None:
        return []
    return outcome_words.sentences(outcome, reasons=labels("reject_reason"))


def _code(text: str, tag: str = "code") -> Markup:
    """A command, address or stored code (or a key's name, tag="kbd") inside a sentence: the
    same in every language, and skipped by the Ukrainian crawl as a translator's tools skip it."""
    if tag == "kbd":
        return Markup("<kbd>{}</kbd>").format(text)
    if tag != "code":
        raise ValueError(f"not a code tag: {tag}")
    return Markup("<code>{}</code>").format(text)


templates.env.globals["code"] = _code
templates.env.globals["evidence_words"] = evidence_words
templates.env.globals["diagnosis"] = diagnosis_words.in_words
templates.env.globals["labels"] = labels
templates.env.globals["outcome_sentences"] = _outcome_sentences
templates.env.globals["url_for"] = _url_for


@pass_context
def _policy_url(context: dict[str, Any], reason_code: str, /) -> str:
    """Where a decision reason's current written policy is read (web/routes/policies.py): the
    decision panel's links, and any page that names a reason."""
    return url_for(context["request"], "policy_page", reason_code=reason_code)


templates.env.globals["policy_url"] = _policy_url


@pass_context
def _asset(context: dict[str, Any], path: str, /) -> str:
    """A static file by its install's hashed name (cached a year), else its plain name."""
    return url_for(context["request"], "static", path=static_files.asset(path))


templates.env.globals["asset"] = _asset
# The position map partial (templates/_map.html): its grid and each place's bearing.
templates.env.globals["map_grid"] = position_map.grid_for
templates.env.globals["from_claim"] = position_map.from_claim
templates.env.globals["csrf_field_name"] = web_session.CSRF_FIELD


def _per_request(function: Callable[..., Any]) -> Callable[..., Any]:
    """A filter whose result depends on the request (its language, its zone): marked so that
    Jinja never folds a call with constant arguments into the compiled template, which would
    keep the first request's language for every later one."""

    @pass_context  # Jinja folds no filter that takes the context
    @functools.wraps(function)
    def per_request(_: Context, /, *args: Any, **kwargs: Any) -> Any:
        return function(*args, **kwargs)

    return per_request


templates.env.filters["age"] = _per_request(_age)
templates.env.filters["when"] = _per_request(_when)
templates.env.filters["when_text"] = _per_request(_when_text)
templates.env.filters["span"] = _per_request(_span)
templates.env.filters["ago"] = _per_request(_ago)
templates.env.filters["number"] = _per_request(_number)


def render(
    request: Request, name: str, *, user: WebUser | None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        name,
        {"user": user, **context},
        status_code=status_code,
    )
