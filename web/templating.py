"""Server-rendered pages: one Jinja environment, autoescaped, with the few filters pages need
and a `url_for` that gives paths by route name."""

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context

from web import i18n, session
from web.deps import WebUser

templates = Jinja2Templates(
    directory=Path(__file__).parent / "templates",
    # Every page gets `lang` (for <html lang>) and `languages` (the header's switch).
    context_processors=[i18n.template_context],
)
# Every user-facing string goes through gettext (`_()` in templates), in the request's
# language (web.i18n).
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


def _age(value: timedelta | None) -> str:
    if value is None:
        return "-"
    minutes = int(value.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    return f"{hours // 24} d {hours % 24} h"


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "-"


templates.env.globals["url_for"] = _url_for
templates.env.globals["csrf_field_name"] = session.CSRF_FIELD
templates.env.filters["age"] = _age
templates.env.filters["when"] = _when


def render(
    request: Request, name: str, *, user: WebUser | None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        name,
        {"user": user, **context},
        status_code=status_code,
    )
