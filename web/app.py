"""The HTML sub-application: the staff's pages, their static files and their error pages.

Whatever goes wrong on one of its paths is answered with a page, never JSON: a missing or
ended session with a redirect to the login, anything else with the error page and its status.
Every page, error pages included, is in the request's language (edge.i18n).
"""

from pathlib import Path
from urllib.parse import urlencode, urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from edge import i18n
from edge.errors import HANDLED, message_in, problem
from mvq.db import utcnow
from mvq.errors import Unauthenticated
from web.deps import signed_in_or_none
from web.routes import (
    account,
    admin,
    admin_people,
    admin_webhooks,
    appeals,
    audit,
    auth,
    bulk,
    disputes,
    notes,
    policies,
    qa,
    review,
    review_warnings,
    scoring,
    unit,
    unit_upload,
)
from web.static_files import HashedStatic
from web.templating import render, url_for

STATIC = Path(__file__).parent / "static"


def _came_from(request: Request) -> str | None:
    """The page a form or a script was posted from: the Referer, when it is this site's own
    (the login then checks it again as a local path, so it is never an open redirect)."""
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc != request.url.netloc or referer.scheme != request.url.scheme:
        return None
    return referer.path + (f"?{referer.query}" if referer.query else "")


async def _to_login(request: Request, exc: Exception) -> RedirectResponse:
    # After the login, back to the page the person was on: a GET's own URL; a form's URL
    # answers only POST, so the page it was posted from (else the queue).
    if request.method == "GET":
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    else:
        target = _came_from(request) or url_for(request, "queue_page")
    query = {"next": target}
    if getattr(exc, "code", None) == "session_ended":
        query["ended"] = "1"  # the login page says so, instead of a bare form
    login = url_for(request, "login_form")
    return RedirectResponse(f"{login}?{urlencode(query)}", status_code=303)


async def error_page(request: Request, exc: Exception) -> Response:
    found = problem(exc)
    message = message_in(found, i18n.lang())
    # Known when the page's handler had found the signed-in person before it failed; else
    # read from the cookie, so an unknown address still leads them somewhere they may go.
    user = signed_in_or_none(request, now=utcnow())
    page = render(request, "error.html", user=user, problem=found, error_message=message,
                  status_code=found.status)  # fmt: skip
    page.headers.update(found.headers)
    return page


async def _favicon() -> FileResponse:
    # Browsers ask for /favicon.ico whatever the page links; the SVG answers both.
    return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml",
                        headers={"Cache-Control": "public, max-age=86400"})  # fmt: skip


def create_app() -> FastAPI:
    i18n.default_language()  # a default we have no pages in stops the start, not each page
    i18n.default_time_zone()  # and so does a time zone that does not exist
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    # Outside the exception handlers, so the error pages speak the request's language too.
    app.add_middleware(i18n.LanguageMiddleware)
    for kind in HANDLED:
        app.add_exception_handler(kind, error_page)
    app.add_exception_handler(Unauthenticated, _to_login)
    for module in (auth, review, review_warnings, policies, notes, bulk, qa, scoring, disputes,
                   appeals, audit, unit, unit_upload, admin, admin_people, admin_webhooks,
                   account):  # fmt: skip
        app.include_router(module.router)
    app.add_api_route("/favicon.ico", _favicon, include_in_schema=False)
    app.mount("/static", HashedStatic(), name="static")
    return app
