"""Audit: the public key that signs exports, the chain check, events, exports and evidence
bundles, each download streamed from disk as a zip."""

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from fastapi.responses import FileResponse, PlainTextResponse

from edge.deps import PrincipalDep
from edge.downloads import streamed
from edge.unit_of_work import SessionDep
from mvq.audit import signing
from mvq.exports import archive as exports
from mvq.exports import log, tiles
from mvq.submissions.schemas import BoundedDatetime

router = APIRouter(prefix="/api/v1", tags=["audit"])


@router.get("/audit/public-key")
def public_key() -> dict[str, str]:
    """The Ed25519 key that signs export manifests and evidence bundles (hex, raw 32 bytes)."""
    return {"algorithm": "Ed25519", "public_key": signing.public_key_hex()}


@router.get("/audit/log/checkpoint", response_class=PlainTextResponse)
def log_checkpoint(session: SessionDep, principal: PrincipalDep) -> PlainTextResponse:
    """The newest checkpoint of the audit log with its witnesses' cosignatures (C2SP
    tlog-checkpoint in a signed note); tiles below are read against it."""
    return PlainTextResponse(tiles.checkpoint_note(session, reader=principal))


@router.get("/audit/log/tile/entries/{index:path}", response_class=Response)
def log_entries(index: str, session: SessionDep, principal: PrincipalDep) -> Response:
    """A C2SP tlog-tiles entry bundle: the events' exact bytes, the Merkle tree's leaves."""
    n, width = tiles.parse_index(index)
    body = tiles.entries(session, reader=principal, index=n, width=width)
    return Response(body, media_type="application/octet-stream")


@router.get("/audit/log/tile/{level}/{index:path}", response_class=Response)
def log_tile(
    level: Annotated[int, Path(ge=0, le=7)], index: str, session: SessionDep,
    principal: PrincipalDep,
) -> Response:  # fmt: skip
    """A C2SP tlog-tiles hash tile: up to 256 hashes of tree level 8·level."""
    n, width = tiles.parse_index(index)
    body = tiles.hashes(session, reader=principal, level=level, index=n, width=width)
    return Response(body, media_type="application/octet-stream")


@router.get("/audit/verify")
def verify(principal: PrincipalDep) -> dict[str, Any]:
    """The check `mvq audit verify` and the /audit page run: the chain, the rows bound to it,
    and the Merkle tree against every checkpoint the witnesses hold."""
    result = log.check(auditor=principal)
    return {"ok": result.ok, "events": result.events, "head": result.head,
            "first_bad_seq": result.first_bad_seq, "problem": result.problem,
            "witnessed": result.witnessed}  # fmt: skip


@router.get("/audit/events")
def events(
    session: SessionDep,
    principal: PrincipalDep,
    object_id: str | None = None,
    after_seq: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[dict[str, Any]]:
    return [
        {"seq": e.seq, "occurred_at": e.occurred_at, "actor": e.actor, "action": e.action,
         "object_type": e.object_type, "object_id": e.object_id, "data": e.data,
         "prev_hash": e.prev_hash, "hash": e.hash}
        for e in log.events(session, auditor=principal, object_id=object_id,
                            after_seq=after_seq, limit=limit)
    ]  # fmt: skip


@router.get("/audit/export")
def export_download(
    session: SessionDep,
    principal: PrincipalDep,
    since: BoundedDatetime | None = None,
    until: BoundedDatetime | None = None,
    format: Annotated[str, Query(pattern="^(csv|jsonl|parquet)$")] = "csv",
) -> FileResponse:
    archive = exports.export_archive(
        session, auditor=principal, since=since, until=until, fmt=format
    )
    return streamed(archive, f"mvq-export-{format}.zip")


@router.get("/submissions/{submission_id}/evidence")
def evidence_download(
    submission_id: str,
    session: SessionDep,
    principal: PrincipalDep,
) -> FileResponse:
    archive = exports.evidence_archive(session, requester=principal, submission_id=submission_id)
    return streamed(archive, f"evidence-{submission_id}.zip")
