"""Audit: the public key that signs exports, the chain check, events, exports and evidence
bundles, each download streamed from disk as a zip."""

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse

from edge.deps import allowed
from edge.downloads import streamed
from edge.unit_of_work import SessionDep
from mvq.audit import service as audit
from mvq.audit import signing
from mvq.audit.service import verify_chain
from mvq.auth.policy import Action
from mvq.auth.service import Principal
from mvq.exports import archive as exports
from mvq.submissions import service as submissions
from mvq.submissions.schemas import BoundedDatetime

router = APIRouter(prefix="/api/v1", tags=["audit"])


@router.get("/audit/public-key")
def public_key() -> dict[str, str]:
    """The Ed25519 key that signs export manifests and evidence bundles (hex, raw 32 bytes)."""
    return {"algorithm": "Ed25519", "public_key": signing.public_key_hex()}


@router.get("/audit/verify")
def verify(session: SessionDep, _: Principal = allowed(Action.read_audit)) -> dict[str, Any]:
    report = verify_chain(session)
    return {"ok": report.first_bad_seq is None, "events": report.events, "head": report.head,
            "first_bad_seq": report.first_bad_seq, "problem": report.problem}  # fmt: skip


@router.get("/audit/events")
def events(
    session: SessionDep,
    _: Principal = allowed(Action.read_audit),
    object_id: str | None = None,
    after_seq: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[dict[str, Any]]:
    return [
        {"seq": e.seq, "occurred_at": e.occurred_at, "actor": e.actor, "action": e.action,
         "object_type": e.object_type, "object_id": e.object_id, "data": e.data,
         "prev_hash": e.prev_hash, "hash": e.hash}
        for e in audit.events(session, object_id=object_id, after_seq=after_seq, limit=limit)
    ]  # fmt: skip


@router.get("/audit/export")
def export_download(
    session: SessionDep,
    principal: Principal = allowed(Action.read_audit),
    since: BoundedDatetime | None = None,
    until: BoundedDatetime | None = None,
    format: Annotated[str, Query(pattern="^(csv|jsonl|parquet)$")] = "csv",
) -> FileResponse:
    archive = exports.export_archive(
        session, actor=principal.actor, since=since, until=until, fmt=format
    )
    return streamed(archive, f"mvq-export-{format}.zip")


@router.get("/submissions/{submission_id}/evidence")
def evidence_download(
    submission_id: str,
    session: SessionDep,
    principal: Principal = allowed(Action.download_evidence),
) -> FileResponse:
    # A senior linked to a unit does not hand out that unit's evidence: not found.
    submissions.get_visible(session, principal=principal, submission_id=submission_id)
    archive = exports.evidence_archive(session, submission_id=submission_id, actor=principal.actor)
    return streamed(archive, f"evidence-{submission_id}.zip")
