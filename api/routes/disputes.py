"""Disputes: several units' claims on one target, settled by a senior."""

from fastapi import APIRouter

from edge.deps import NowDep, PrincipalDep
from edge.unit_of_work import SessionDep
from mvq.review import provenance
from mvq.scoring.disputes import reading, settlement
from mvq.scoring.disputes.suggestion import suggest
from mvq.scoring.schemas import DisputeOut, LedgerEntryOut, ProvenanceOut, SettleIn, SettleOut

router = APIRouter(prefix="/api/v1/disputes", tags=["disputes"])


@router.get("", response_model=list[DisputeOut])
def open_disputes(session: SessionDep, principal: PrincipalDep) -> list[DisputeOut]:
    out = []
    for contest in reading.open_disputes(session, viewer=principal):
        ranking = provenance.for_claims(session, [c.submission.id for c in contest.members])
        found = suggest(contest, ranking)
        pairs = [{"a": v.a, "b": v.b, "original": v.original,
                  "reasons": {side: [r.code for r in rs] for side, rs in v.reasons.items()}}
                 for v in ranking.verdicts]  # fmt: skip
        told = ProvenanceOut.model_validate(
            {"original": ranking.original, "copies": ranking.copies, "pairs": pairs,
             "suggestion": vars(found)})  # fmt: skip
        out.append(DisputeOut.model_validate(reading.describe(contest) | {"provenance": told}))
    return out


@router.post("/{dispute_id}/settle", response_model=SettleOut)
def settle(
    dispute_id: str,
    body: SettleIn,
    session: SessionDep,
    now: NowDep,
    principal: PrincipalDep,
) -> SettleOut:
    awarded = settlement.settle(
        session, senior=principal, dispute_id=dispute_id, shares=body.shares, note=body.note,
        now=now, reverse=body.reverse,
    )  # fmt: skip
    points = sum(e.points for e in awarded)
    return SettleOut(
        dispute_id=dispute_id,
        points=points,
        awarded=[LedgerEntryOut.model_validate(e, from_attributes=True) for e in awarded],
    )
