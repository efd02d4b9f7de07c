"""The web login: a form, a signed session cookie, and logout."""

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.deps import NowDep, SessionDep, client_address
from mvq.auth import service as auth
from mvq.auth.models import Role
from mvq.errors import RateLimited, Unauthenticated
from web import session as web_session
from web.deps import WebFormUserDep
from web.templating import redirect, render, url_for

router = APIRouter(include_in_schema=False)
PRELOGIN_COOKIE = "mvq_login_csrf"


def _local(request: Request, path: str | None, *, home: str = "queue_page") -> str:
    # Only a path on this site: "next" must not become an open redirect. Browsers read "/\\host"
    # as "//host" and drop tabs and newlines, so those are refused too.
    if path and path.startswith("/") and not path.startswith(("//", "/\\")) and path.isprintable():
        return path
    return url_for(request, home)


@router.get("/", response_class=RedirectResponse)
def home(request: Request, session: SessionDep, now: NowDep) -> RedirectResponse:
    # A unit's member lands on the unit's claims, everyone else on the queue (or the login).
    token = web_session.token_from_cookie(request.cookies.get(web_session.COOKIE))
    try:
        kind = (
            auth.resolve_token(session, token=token, now=now, purpose="session").kind
            if token
            else None
        )
    except Unauthenticated:
        kind = None
    return redirect(request, "unit_page" if kind == "unit" else "queue_page")


def _login_page(request: Request, next: str | None, *, error: str | None = None, status: int = 200
                ) -> HTMLResponse:  # fmt: skip
    # Before a session exists the form is guarded by a double-submit token: the cookie and the
    # field must agree, which a page on another site cannot arrange.
    token = secrets.token_urlsafe(24)
    page = render(request, "login.html", user=None, next=_local(request, next), error=error,
                  login_csrf=token, status_code=status)  # fmt: skip
    page.set_cookie(PRELOGIN_COOKIE, token, max_age=3600, httponly=True, samesite="strict")
    return page


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> HTMLResponse:
    return _login_page(request, next)


@router.post("/login", response_model=None)
def login(
    request: Request,
    session: SessionDep,
    now: NowDep,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=1000)],
    next: Annotated[str | None, Form(max_length=2000)] = None,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    expected = request.cookies.get(PRELOGIN_COOKIE, "")
    if not expected or not hmac.compare_digest(expected, csrf_token):
        return _login_page(request, next, error="The form expired; log in again.", status=403)
    try:
        user = auth.login(session, email=email, password=password, client=client_address(request))
    except (Unauthenticated, RateLimited) as exc:
        status = 429 if isinstance(exc, RateLimited) else 401
        page = _login_page(request, next, error=exc.message, status=status)
        if isinstance(exc, RateLimited):
            page.headers["Retry-After"] = str(exc.retry_after)
        return page
    token = auth.issue_staff_token(session, user=user, now=now, purpose="session")
    session.commit()
    if user.role == Role.unit:
        # A unit's member has no staff pages; "next" may still lead to one of the unit's own.
        unit_pages = (url_for(request, "unit_page"), url_for(request, "unit_upload_page"))
        wanted = next if next and next.split("?")[0] in unit_pages else None
        target = _local(request, wanted, home="unit_page")
    else:
        target = _local(request, next)
    response = RedirectResponse(target, status_code=303)
    web_session.set_cookie(response, token)
    response.delete_cookie(PRELOGIN_COOKIE)
    return response


@router.post("/logout", response_class=RedirectResponse)
def logout(
    request: Request, user: WebFormUserDep, session: SessionDep, now: NowDep
) -> RedirectResponse:
    auth.end_session(session, token=user.session_token, now=now)
    session.commit()
    response = redirect(request, "login_form")
    web_session.clear_cookie(response)
    return response
