"""The auditors' page: the chain's state, the latest events, exports and evidence bundles."""

from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, HTMLResponse

from api.deps import SessionDep
from api.downloads import streamed
from mvq.audit import service as audit
from mvq.audit import signing
from mvq.audit.service import verify_chain
from mvq.auth import policy
from mvq.auth.policy import Action
from mvq.exports import archive as exports
from web.deps import WebUserDep
from web.templating import render

router = APIRouter(include_in_schema=False)


def _auditor(user: WebUserDep) -> None:
    policy.require(user.principal, Action.read_audit)


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    user: WebUserDep,
    session: SessionDep,
    object_id: str | None = None,
) -> HTMLResponse:
    _auditor(user)
    events = audit.latest_events(session, object_id=object_id, limit=100)
    return render(request, "audit.html", user=user, report=verify_chain(session),
                  events=events, object_id=object_id or "",
                  public_key=signing.public_key_hex())  # fmt: skip


@router.get("/audit/export.zip")
def export_page(
    user: WebUserDep,
    session: SessionDep,
    since: date,
    until: date,
    format: Annotated[str, Query(pattern="^(csv|jsonl|parquet)$")] = "csv",
) -> FileResponse:
    _auditor(user)
    start = datetime(since.year, since.month, since.day, tzinfo=UTC)
    end = datetime(until.year, until.month, until.day, tzinfo=UTC) + timedelta(days=1)
    archive = exports.export_archive(
        session, actor=user.principal.actor, since=start, until=end, fmt=format
    )
    return streamed(archive, f"mvq-export-{format}.zip")
