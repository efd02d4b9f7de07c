from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from api import web_session
from mvq.auth import policy
from mvq.auth import service as auth
from mvq.auth.models import StaffUser
from mvq.auth.service import Principal
from mvq.db import session_factory, utcnow
from mvq.errors import Forbidden, Unauthenticated


def get_session() -> Iterator[Session]:
    # Handlers commit explicitly, so jobs are enqueued before the response is sent;
    # anything left uncommitted is rolled back here.
    session = session_factory()()
    try:
        yield session
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(get_session)]


def get_now() -> datetime:
    return utcnow()


NowDep = Annotated[datetime, Depends(get_now)]


def get_principal(request: Request, session: SessionDep, now: NowDep) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("send Authorization: Bearer <token>", code="missing_token")
    principal = auth.resolve_token(session, token=token.strip(), now=now)
    # The resolve may have read rows; this request's own transaction starts clean.
    session.rollback()
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def allowed(action: policy.Action):  # type: ignore[no-untyped-def]
    """A route's dependency: the caller must be allowed `action` (mvq.auth.policy)."""

    def check(principal: PrincipalDep) -> Principal:
        policy.require(principal, action)
        return principal

    return Depends(check)


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


class LoginRequired(Unauthenticated):
    """A web page asked for without a live session: answered with a redirect to /login."""

    code = "login_required"


@dataclass(frozen=True)
class WebUser:
    principal: Principal
    email: str
    session_token: str

    @property
    def csrf(self) -> str:
        return web_session.csrf_for(self.session_token)

    def can(self, action: str) -> bool:
        """For templates: `user.can("overturn")` asks the one policy."""
        return policy.allows(self.principal, policy.Action(action))


def get_web_user(request: Request, session: SessionDep, now: NowDep) -> WebUser:
    token = web_session.token_from_cookie(request.cookies.get(web_session.COOKIE))
    if token is None:
        raise LoginRequired("log in first")
    try:
        principal = auth.resolve_token(session, token=token, now=now, purpose="session")
    except Unauthenticated as exc:
        raise LoginRequired("your session has ended; log in again") from exc
    email = session.get_one(StaffUser, principal.id).email
    session.rollback()
    return WebUser(principal=principal, email=email, session_token=token)


WebUserDep = Annotated[WebUser, Depends(get_web_user)]


async def csrf_checked(request: Request, user: WebUserDep) -> WebUser:
    """For every state-changing web request: the form field or the header must carry the
    session's CSRF token."""
    submitted = request.headers.get(web_session.CSRF_HEADER)
    if submitted is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get(web_session.CSRF_FIELD)
        submitted = value if isinstance(value, str) else None
    if not web_session.csrf_ok(user.session_token, submitted):
        raise Forbidden("the form's CSRF token is missing or wrong; reload the page", code="csrf")
    return user


WebFormUserDep = Annotated[WebUser, Depends(csrf_checked)]
