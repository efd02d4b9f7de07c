"""Balances and spending. Spends come from admins or the marketplace's service account."""

from typing import Annotated

from fastapi import APIRouter, Header, Response

from edge.deps import allowed
from edge.unit_of_work import SessionDep
from mvq.auth import service as auth
from mvq.auth.policy import Action
from mvq.auth.service import Principal
from mvq.scoring import ledger
from mvq.scoring.schemas import DebitIn, DebitOut, LedgerEntryOut, LedgerOut

router = APIRouter(prefix="/api/v1/units", tags=["ledger"])


@router.get("/{unit_id}/ledger", response_model=LedgerOut)
def unit_ledger(
    unit_id: str,
    session: SessionDep,
    _: Principal = allowed(Action.read_ledgers),
) -> LedgerOut:
    auth.get_unit(session, unit_id=unit_id)
    rows = ledger.entries(session, unit_id=unit_id, limit=500, offset=0)
    return LedgerOut(
        unit_id=unit_id,
        balance=ledger.balance(session, unit_id=unit_id),
        entries=[LedgerEntryOut.model_validate(r, from_attributes=True) for r in rows],
    )


@router.post("/{unit_id}/debits", status_code=201, response_model=DebitOut)
def spend(
    unit_id: str,
    body: DebitIn,
    response: Response,
    session: SessionDep,
    idempotency_key: Annotated[str, Header(min_length=1, max_length=200)],
    principal: Principal = allowed(Action.record_debits),
) -> DebitOut:
    """Records a spend; the same Idempotency-Key again returns the same spend (200)."""
    entry, created = ledger.debit(
        session,
        unit_id=unit_id,
        points=body.points,
        idempotency_key=idempotency_key,
        note=body.note,
        actor_id=principal.id,
        actor=principal.actor,
    )
    if not created:
        response.status_code = 200
    return DebitOut(
        entry_id=entry.id,
        unit_id=unit_id,
        points=-entry.points,
        balance=ledger.balance(session, unit_id=unit_id),
    )
