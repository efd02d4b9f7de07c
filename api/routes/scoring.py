from fastapi import APIRouter
from sqlalchemy.orm import Session

from edge.deps import NowDep, PrincipalDep
from edge.unit_of_work import SessionDep
from mvq.errors import Forbidden
from mvq.rules import service
from mvq.rules.models import RuleVersion
from mvq.scoring import ledger, preview
from mvq.scoring.schemas import (
    LeaderboardOut,
    LeaderboardRow,
    LedgerEntryOut,
    LedgerOut,
    PreviewIn,
    PreviewRowOut,
    RuleIn,
    RulesOut,
    RuleVersionIn,
    RuleVersionOut,
)
from mvq.submissions.schemas import BoundedDatetime

router = APIRouter(prefix="/api/v1", tags=["scoring"])


def _version_out(session: Session, version: RuleVersion) -> RuleVersionOut:
    rules = service.rules_of(session, version_id=version.id)
    return RuleVersionOut(
        id=version.id,
        effective_from=version.effective_from,
        rules=[
            RuleIn(target_type=r.target_type, outcome=r.outcome, points=r.points) for r in rules
        ],
        withdrawn_at=version.withdrawn_at,
    )


@router.get("/scoring/rules", response_model=RulesOut)
def get_rules(_: PrincipalDep, session: SessionDep, now: NowDep) -> RulesOut:
    in_force = service.version_in_force(session, at=now)
    return RulesOut(
        in_force=_version_out(session, in_force) if in_force else None,
        history=[_version_out(session, v) for v in service.history(session)],
    )


@router.post("/scoring/rules", status_code=201, response_model=RuleVersionOut)
def create_rules(
    body: RuleVersionIn,
    session: SessionDep,
    now: NowDep,
    principal: PrincipalDep,
) -> RuleVersionOut:
    version = service.create_version(
        session,
        editor=principal,
        effective_from=body.effective_from,
        rows=[service.RuleRow(r.target_type, r.outcome, r.points) for r in body.rules],
        now=now,
    )
    return _version_out(session, version)


@router.post("/scoring/rules/{version_id}/withdraw", response_model=RuleVersionOut)
def withdraw_rules(
    version_id: str,
    session: SessionDep,
    now: NowDep,
    principal: PrincipalDep,
) -> RuleVersionOut:
    """Withdraw a version scheduled for the future; 409 once it is in force (or withdrawn)."""
    version = service.withdraw(session, editor=principal, version_id=version_id, now=now)
    return _version_out(session, version)


@router.get("/units/me/ledger", response_model=LedgerOut)
def my_ledger(principal: PrincipalDep, session: SessionDep) -> LedgerOut:
    if principal.kind != "unit" or principal.unit_id is None:
        raise Forbidden("units only")
    rows = ledger.entries(session, unit_id=principal.unit_id, limit=500, offset=0)
    held = ledger.position(session, unit_id=principal.unit_id)
    return LedgerOut(
        unit_id=principal.unit_id,
        balance=held.balance,
        debt=held.debt,
        entries=[LedgerEntryOut.model_validate(r, from_attributes=True) for r in rows],
    )


@router.get("/leaderboard", response_model=LeaderboardOut)
def leaderboard(
    principal: PrincipalDep,
    session: SessionDep,
    since: BoundedDatetime | None = None,
    until: BoundedDatetime | None = None,
) -> LeaderboardOut:
    """Units by points earned in the period (whole UTC days; `until` exclusive)."""
    rows = ledger.leaderboard(session, viewer=principal, since=since, until=until)
    return LeaderboardOut(
        since=since,
        until=until,
        units=[LeaderboardRow(unit_id=r.unit_id, unit_name=r.unit_name, points=r.points)
               for r in rows],
    )  # fmt: skip


@router.post("/scoring/preview", response_model=list[PreviewRowOut])
def preview_rules(
    body: PreviewIn, session: SessionDep, principal: PrincipalDep
) -> list[PreviewRowOut]:
    """What a draft points table would have awarded over a past period; changes nothing."""
    rows = preview.preview(
        session,
        editor=principal,
        rows=[service.RuleRow(r.target_type, r.outcome, r.points) for r in body.rules],
        since=body.since,
        until=body.until,
    )
    return [PreviewRowOut(**r.__dict__, difference=r.difference) for r in rows]
