"""Audit: the public key that signs exports, the chain check, events, exports and evidence
bundles. Downloads are built in a temporary directory and streamed from disk as a zip."""

import shutil
import tempfile
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from api.deps import SessionDep, allowed
from mvq.audit import service as audit
from mvq.audit import signing
from mvq.audit.service import verify_chain
from mvq.auth.policy import Action
from mvq.auth.service import Principal
from mvq.exports import dataset as export
from mvq.exports import evidence
from mvq.submissions import service as submissions

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


def zipped(directory: Path, name: str) -> FileResponse:
    """The directory as one zip on disk, streamed, then both removed."""
    archive = directory.with_suffix(".zip")
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(directory))
    shutil.rmtree(directory, ignore_errors=True)
    return FileResponse(archive, media_type="application/zip", filename=name,
                        background=BackgroundTask(archive.unlink, missing_ok=True))  # fmt: skip


def export_zip(
    session: SessionDep, actor: Principal, since: datetime | None, until: datetime | None, fmt: str
) -> FileResponse:
    work = Path(tempfile.mkdtemp(prefix="mvq-export-")) / "export"
    export.record_download(session, actor=actor.actor, fmt=fmt, since=since, until=until)
    session.commit()
    export.export(session, out=work, fmt=fmt, since=since, until=until)
    session.commit()
    return zipped(work, f"mvq-export-{fmt}.zip")


@router.get("/audit/export")
def export_download(
    session: SessionDep,
    principal: Principal = allowed(Action.read_audit),
    since: datetime | None = None,
    until: datetime | None = None,
    format: Annotated[str, Query(pattern="^(csv|jsonl|parquet)$")] = "csv",
) -> FileResponse:
    return export_zip(session, principal, since, until, format)


@router.get("/submissions/{submission_id}/evidence")
def evidence_download(
    submission_id: str,
    session: SessionDep,
    principal: Principal = allowed(Action.download_evidence),
) -> FileResponse:
    # A senior linked to a unit does not hand out that unit's evidence: not found.
    submissions.get_visible(session, principal=principal, submission_id=submission_id)
    work = Path(tempfile.mkdtemp(prefix="mvq-evidence-")) / submission_id
    evidence.build(session, submission_id=submission_id, out=work, actor=principal.actor)
    session.commit()
    return zipped(work, f"evidence-{submission_id}.zip")
