from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Body
from pydantic import BaseModel, Field

from edge.deps import NowDep, PrincipalDep
from edge.unit_of_work import SessionDep
from mvq.auth import accounts

router = APIRouter(prefix="/api/v1/units", tags=["units"])


class RotateIn(BaseModel):
    grace_minutes: float = Field(default=0, ge=0, le=7 * 24 * 60)


class UnitTokenOut(BaseModel):
    unit_id: str
    token: str


class RevokedOut(BaseModel):
    unit_id: str
    revoked: int


@router.post("/{unit_id}/token/rotate", response_model=UnitTokenOut)
def rotate_token(
    unit_id: str,
    session: SessionDep,
    now: NowDep,
    principal: PrincipalDep,
    body: Annotated[RotateIn | None, Body()] = None,
) -> UnitTokenOut:
    grace = timedelta(minutes=body.grace_minutes if body else 0)
    token = accounts.rotate_unit_token(
        session, principal=principal, unit_id=unit_id, grace=grace, now=now
    )
    return UnitTokenOut(unit_id=unit_id, token=token)


@router.post("/{unit_id}/token/revoke", response_model=RevokedOut)
def revoke_tokens(
    unit_id: str,
    session: SessionDep,
    now: NowDep,
    principal: PrincipalDep,
) -> RevokedOut:
    count = accounts.revoke_unit_tokens(session, principal=principal, unit_id=unit_id, now=now)
    return RevokedOut(unit_id=unit_id, revoked=count)
