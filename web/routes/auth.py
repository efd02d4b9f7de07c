"""The web login: a form, the second factor where the role needs one, a signed session
cookie, and logout.

After the password, a person with a second factor gets no session yet: only a short-lived,
signed pending-login cookie (their id and a fingerprint of their password hash), good for the
code page, or the enrolment page if they have no factor yet, and nothing else.
"""

import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Annotated
from urllib.parse import urlencode

import segno
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from markupsafe import Markup
from sqlalchemy.orm import Session

from edge import web_session
from edge.deps import NowDep, client_address
from edge.errors import localised
from edge.i18n import gettext
from edge.unit_of_work import SessionDep
from mvq.auth import policy, second_factor, sign_in
from mvq.auth import service as auth
from mvq.auth.models import StaffUser
from mvq.errors import RateLimited, Unauthenticated
from mvq.settings import get_settings
from web.deps import WebFormUserDep
from web.templating import redirect, render, url_for

router = APIRouter(include_in_schema=False)
PRELOGIN_COOKIE = "mvq_login_csrf"
PENDING_COOKIE = "mvq_login_pending"
PENDING_SECONDS = 600


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


# Where "sign in to go back to …" leads, named by the path's start (longest first).
def _place_names() -> list[tuple[str, str]]:
    return [
        ("/review/stats", gettext("your statistics")),
        ("/review/", gettext("the item you were working on")),
        ("/review", gettext("the review queue")),
        ("/disputes", gettext("the disputes")),
        ("/appeals", gettext("the appeals")),
        ("/audit", gettext("the audit log")),
        ("/admin", gettext("the administration pages")),
        ("/scoring", gettext("the scoring rules")),
        ("/unit", gettext("your unit's pages")),
    ]


def _place(path: str) -> str:
    bare = path.split("?")[0]
    for start, name in _place_names():
        if bare == start or bare.startswith(start if start.endswith("/") else start + "/"):
            return name
    return gettext("the page you were on")


def _login_page(request: Request, next: str | None, *, error: str | None = None, status: int = 200,
                ended: bool = False) -> HTMLResponse:  # fmt: skip
    # Before a session exists the form is guarded by a double-submit token: the cookie and the
    # field must agree, which a page on another site cannot arrange.
    token = secrets.token_urlsafe(24)
    target = _local(request, next)
    ended_text = gettext("Your session ended. Sign in to go back to %(place)s.",
                         place=_place(target)) if ended else None  # fmt: skip
    page = render(request, "login.html", user=None, next=target, error=error, ended=ended_text,
                  login_csrf=token, status_code=status)  # fmt: skip
    page.set_cookie(PRELOGIN_COOKIE, token, max_age=3600, httponly=True, samesite="strict")
    return page


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None, ended: str | None = None) -> HTMLResponse:
    return _login_page(request, next, ended=ended == "1")


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
        expired = gettext("The form expired. Reload the page and try again.")
        return _login_page(request, next, error=expired, status=403)
    try:
        user, then = sign_in.check_password(session, email=email, password=password,
                                            client=client_address(request))  # fmt: skip
    except (Unauthenticated, RateLimited) as exc:
        status = 429 if isinstance(exc, RateLimited) else 401
        page = _login_page(request, next, error=localised(exc), status=status)
        if isinstance(exc, RateLimited):
            page.headers["Retry-After"] = str(exc.retry_after)
        return page
    if then is not sign_in.Next.signed_in:
        step = "login_code_form" if then is sign_in.Next.code else "login_enrol_form"
        response = _step(request, step, next)
        response.set_cookie(
            PENDING_COOKIE,
            _pending_serializer().dumps(_pending_claim(user)),
            max_age=PENDING_SECONDS,
            httponly=True,
            samesite="strict",
            secure=get_settings().env == "production",
        )
        response.delete_cookie(PRELOGIN_COOKIE)
        return response
    return _signed_in(request, session, user=user, next=next, now=now, second_factor_given=False)


def _target(request: Request, user: StaffUser, next: str | None) -> str:
    if policy.is_member(user.role):
        # A unit's member has no staff pages; "next" may still lead to one of the unit's own.
        unit_pages = (url_for(request, "unit_page"), url_for(request, "unit_upload_page"))
        wanted = next if next and next.split("?")[0] in unit_pages else None
        return _local(request, wanted, home="unit_page")
    return _local(request, next)


def _signed_in(
    request: Request,
    session: Session,
    *,
    user: StaffUser,
    next: str | None,
    now: datetime,
    second_factor_given: bool,
    page: Response | None = None,
) -> Response:
    """The session, at last: its cookie on a redirect to where the person was going (or on
    `page`, the recovery codes shown once)."""
    token = sign_in.issue_token(session, user=user, now=now, purpose="session",
                                second_factor=second_factor_given)  # fmt: skip
    response = page or RedirectResponse(_target(request, user, next), status_code=303)
    web_session.set_cookie(response, token)
    response.delete_cookie(PRELOGIN_COOKIE)
    response.delete_cookie(PENDING_COOKIE)
    return response


# The second step ---------------------------------------------------------------------------


def _pending_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(get_settings().secret("secret_key"), salt="mvq-pending-login")


def _pending_claim(user: StaffUser) -> dict[str, str]:
    # A new password (or a disabled account) ends a pending login at once.
    return {"u": user.id, "p": hashlib.sha256(user.password_hash.encode()).hexdigest()[:32]}


def _pending_user(request: Request, session: Session) -> tuple[StaffUser, str] | None:
    """The person half-way through signing in, and the cookie's value (for the CSRF token)."""
    value = request.cookies.get(PENDING_COOKIE)
    if not value:
        return None
    try:
        claim = _pending_serializer().loads(value, max_age=PENDING_SECONDS)
    except BadSignature:  # also covers SignatureExpired
        return None
    user = session.get(StaffUser, claim.get("u")) if isinstance(claim, dict) else None
    if user is None or user.disabled_at is not None or _pending_claim(user) != claim:
        return None
    return user, value


def _pending_csrf(cookie_value: str) -> str:
    return web_session.csrf_for("pending-login:" + cookie_value)


def _pending_form(
    request: Request, session: Session, *, csrf_token: str, enrolled: bool, next: str | None
) -> tuple[StaffUser, str] | Response:
    """A second step's form: the person half-way through signing in, whose form carries the
    pending login's CSRF token and who is at the step that fits them (`enrolled`: the code
    page, else enrolment); otherwise the answer that sends them where they belong."""
    pending = _pending_user(request, session)
    if pending is None or not hmac.compare_digest(_pending_csrf(pending[1]), csrf_token):
        return _start_over(request, next)
    if second_factor.enrolled(pending[0]) != enrolled:
        other = "login_enrol_form" if enrolled else "login_code_form"
        return RedirectResponse(url_for(request, other), status_code=303)
    return pending


def _step(request: Request, name: str, next: str | None) -> RedirectResponse:
    target = url_for(request, name) + "?" + urlencode({"next": _local(request, next)})
    return RedirectResponse(target, status_code=303)


def _start_over(request: Request, next: str | None) -> RedirectResponse:
    response = _step(request, "login_form", next)
    response.delete_cookie(PENDING_COOKIE)
    return response


def _no_store(page: Response) -> Response:
    # Secrets and recovery codes must not stay in a cache.
    page.headers["Cache-Control"] = "no-store"
    return page


def _code_page(
    request: Request, cookie: str, next: str | None, *, error: str | None = None, status: int = 200
) -> Response:
    return _no_store(
        render(
            request,
            "login_code.html",
            user=None,
            next=_local(request, next),
            error=error,
            login_csrf=_pending_csrf(cookie),
            status_code=status,
        )
    )


def _enrol_page(
    request: Request,
    session: Session,
    user: StaffUser,
    cookie: str,
    next: str | None,
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    secret = second_factor.pending_secret(session, user=user)
    uri = second_factor.provisioning_uri(secret, email=user.email)
    qr = segno.make(uri, error="m").svg_inline(
        scale=5, border=3, light="#fff", svgclass="qr", omitsize=False
    )
    return _no_store(
        render(
            request,
            "login_enrol.html",
            user=None,
            next=_local(request, next),
            error=error,
            login_csrf=_pending_csrf(cookie),
            qr=Markup(qr),  # noqa: S704 (segno's own SVG of our URI)
            secret=" ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
            email=user.email,
            status_code=status,
        )
    )


def _refused(exc: Unauthenticated | RateLimited, page: Callable[[str, int], Response]) -> Response:
    """A wrong code shows the same step again (401); too many tries say so (429) and when to
    come back."""
    if isinstance(exc, RateLimited):
        shown = page("rate_limited", 429)
        shown.headers["Retry-After"] = str(exc.retry_after)
        return shown
    return page("bad_otp", 401)


@router.get("/login/code", response_model=None)
def login_code_form(request: Request, session: SessionDep, next: str | None = None) -> Response:
    pending = _pending_user(request, session)
    if pending is None:
        return _start_over(request, next)
    user, cookie = pending
    if not second_factor.enrolled(user):
        return _step(request, "login_enrol_form", next)
    return _code_page(request, cookie, next)


@router.post("/login/code", response_model=None)
def login_code(
    request: Request,
    session: SessionDep,
    now: NowDep,
    code: Annotated[str, Form(max_length=40)],
    next: Annotated[str | None, Form(max_length=2000)] = None,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    pending = _pending_form(request, session, csrf_token=csrf_token, enrolled=True, next=next)
    if isinstance(pending, Response):
        return pending
    user, cookie = pending
    try:
        sign_in.check_code(
            session, user=user, code=code, client=client_address(request), now=now, via="web"
        )
    except (Unauthenticated, RateLimited) as exc:
        return _refused(
            exc, lambda error, status: _code_page(request, cookie, next, error=error, status=status)
        )
    return _signed_in(request, session, user=user, next=next, now=now, second_factor_given=True)


@router.get("/login/enrol", response_model=None)
def login_enrol_form(request: Request, session: SessionDep, next: str | None = None) -> Response:
    pending = _pending_user(request, session)
    if pending is None:
        return _start_over(request, next)
    user, cookie = pending
    if second_factor.enrolled(user):
        return _step(request, "login_code_form", next)
    return _enrol_page(request, session, user, cookie, next)


@router.post("/login/enrol", response_model=None)
def login_enrol(
    request: Request,
    session: SessionDep,
    now: NowDep,
    code: Annotated[str, Form(max_length=40)],
    next: Annotated[str | None, Form(max_length=2000)] = None,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    pending = _pending_form(request, session, csrf_token=csrf_token, enrolled=False, next=next)
    if isinstance(pending, Response):
        return pending
    user, cookie = pending
    try:
        codes = sign_in.enrol(
            session, user=user, code=code, client=client_address(request), now=now
        )
    except (Unauthenticated, RateLimited) as exc:
        return _refused(
            exc,
            lambda error, status: _enrol_page(
                request, session, user, cookie, next, error=error, status=status
            ),
        )
    shown = render(
        request, "login_recovery.html", user=None, codes=codes, target=_target(request, user, next)
    )
    return _signed_in(
        request,
        session,
        user=user,
        next=next,
        now=now,
        second_factor_given=True,
        page=_no_store(shown),
    )


@router.post("/logout", response_class=RedirectResponse)
def logout(
    request: Request, user: WebFormUserDep, session: SessionDep, now: NowDep
) -> RedirectResponse:
    auth.end_session(session, token=user.session_token, now=now)
    response = redirect(request, "login_form")
    web_session.clear_cookie(response)
    return response
