from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Body
from pydantic import BaseModel, Field

from edge.deps import NowDep, allowed
from edge.unit_of_work import SessionDep
from mvq.auth import accounts
from mvq.auth import service as auth
from mvq.auth.policy import Action
from mvq.auth.service import Principal

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
    body: Annotated[RotateIn | None, Body()] = None,
    principal: Principal = allowed(Action.manage_units),
) -> UnitTokenOut:
    grace = timedelta(minutes=body.grace_minutes if body else 0)
    token = accounts.rotate_unit_token(
        session, unit_id=unit_id, grace=grace, actor=principal.actor, now=now
    )
    return UnitTokenOut(unit_id=unit_id, token=token)


@router.post("/{unit_id}/token/revoke", response_model=RevokedOut)
def revoke_tokens(
    unit_id: str,
    session: SessionDep,
    now: NowDep,
    principal: Principal = allowed(Action.manage_units),
) -> RevokedOut:
    count = auth.revoke_unit_tokens(session, unit_id=unit_id, actor=principal.actor, now=now)
    return RevokedOut(unit_id=unit_id, revoked=count)
