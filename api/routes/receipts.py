"""A ledger entry's receipt (docs/RECEIPTS.md): for its unit, the marketplace for its own
debits, and auditors; others get 404, as for an entry that does not exist."""

from typing import Any

from fastapi import APIRouter

from edge.deps import PrincipalDep
from edge.unit_of_work import SessionDep
from mvq.scoring import receipts

router = APIRouter(prefix="/api/v1/ledger", tags=["ledger"])


@router.get("/{entry_id}/receipt")
def receipt(entry_id: str, session: SessionDep, principal: PrincipalDep) -> dict[str, Any]:
    """The entry, its audit event's leaf and index, an RFC 9162 inclusion proof and the newest
    witnessed checkpoint; 409 `receipt_not_ready` until a checkpoint covers the entry."""
    return receipts.build(session, entry_id=entry_id, reader=principal)
