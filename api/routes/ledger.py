"""Balances and spending. Spends come from admins or the marketplace's service account."""

from typing import Annotated

from fastapi import APIRouter, Header, Response

from edge.deps import PrincipalDep
from edge.unit_of_work import SessionDep
from mvq.scoring import ledger
from mvq.scoring.schemas import DebitIn, DebitOut, LedgerEntryOut, LedgerOut

router = APIRouter(prefix="/api/v1/units", tags=["ledger"])


@router.get("/{unit_id}/ledger", response_model=LedgerOut)
def unit_ledger(
    unit_id: str,
    session: SessionDep,
    principal: PrincipalDep,
) -> LedgerOut:
    found = ledger.statement(session, reader=principal, unit_id=unit_id, limit=500)
    return LedgerOut(
        unit_id=unit_id,
        balance=found.balance,
        debt=found.debt,
        entries=[LedgerEntryOut.model_validate(r, from_attributes=True) for r in found.entries],
    )


@router.post("/{unit_id}/debits", status_code=201, response_model=DebitOut)
def spend(
    unit_id: str,
    body: DebitIn,
    response: Response,
    session: SessionDep,
    idempotency_key: Annotated[str, Header(min_length=1, max_length=200)],
    principal: PrincipalDep,
) -> DebitOut:
    """Records a spend; the same Idempotency-Key again returns the same spend (200)."""
    entry, created = ledger.debit(
        session,
        unit_id=unit_id,
        points=body.points,
        idempotency_key=idempotency_key,
        note=body.note,
        spender=principal,
    )
    if not created:
        response.status_code = 200
    return DebitOut(
        entry_id=entry.id,
        unit_id=unit_id,
        points=-entry.points,
        balance=ledger.balance(session, unit_id=unit_id),
    )
