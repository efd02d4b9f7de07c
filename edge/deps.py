"""What the API's routes and the pages both depend on: the clock, and the principal a request
acts for (a bearer token, or a page's cookie with its CSRF token)."""

from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from edge import web_session
from edge.unit_of_work import SessionDep, discard_so_far
from mvq.auth import policy
from mvq.auth import service as auth
from mvq.auth.principal import Principal
from mvq.db import utcnow
from mvq.errors import Forbidden, Unauthenticated


def get_now() -> datetime:
    return utcnow()


NowDep = Annotated[datetime, Depends(get_now)]


def get_principal(request: Request, session: SessionDep, now: NowDep) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if not header and web_session.COOKIE in request.cookies:
        principal = _from_page(request, session, now)
    elif scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("send Authorization: Bearer <token>", code="missing_token")
    else:
        principal = auth.resolve_token(session, token=token.strip(), now=now)
    # The resolve only read: end its transaction, so the handler's own starts clean (and on
    # SQLite, whose transactions take the write lock, the lock is not held meanwhile).
    discard_so_far(session)
    return principal


def _from_page(request: Request, session: Session, now: datetime) -> Principal:
    """A page's script calls the API with the signed-in person's cookie. Every such request,
    reads included, must carry the page's CSRF token in a header, which a page on another
    site can neither read nor send: the cookie alone authorises nothing here."""
    token = web_session.token_from_cookie(request.cookies.get(web_session.COOKIE))
    if token is None:
        raise Unauthenticated("your session has ended; log in again", code="login_required")
    if not web_session.csrf_ok(token, request.headers.get(web_session.CSRF_HEADER)):
        raise Forbidden("send the page's CSRF token in X-CSRF-Token", code="csrf")
    return auth.resolve_token(session, token=token, now=now, purpose="session")


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def staff(principal: PrincipalDep) -> Principal:
    if not policy.is_staff(principal):
        raise Forbidden("staff only")
    return principal


StaffDep = Annotated[Principal, Depends(staff)]


def unit(principal: PrincipalDep) -> Principal:
    if principal.kind != "unit":
        raise Forbidden("units only")
    return principal


UnitDep = Annotated[Principal, Depends(unit)]


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"
