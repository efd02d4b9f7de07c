from collections.abc import Iterator
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from mvq.auth import policy
from mvq.auth import service as auth
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
