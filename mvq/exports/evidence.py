"""The evidence bundle of one claim: the sealed original media exactly as stored (its SHA-256
checked against the hash taken at ingest), the derived frames and sheets, the metadata with how each
derivative was made, every decision and ledger entry, and the chain-of-custody events, with a
signed manifest over all of it."""

import json
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from mvq import storage
from mvq.audit import service as audit
from mvq.audit import signing
from mvq.audit.models import AuditEvent
from mvq.auth.principal import Principal
from mvq.db import Base, utcnow
from mvq.errors import Conflict, NotFound
from mvq.exports import trail
from mvq.exports.dataset import sha256_file
from mvq.media.models import Frame, Media, MediaStatus
from mvq.review.models import Decision, ReviewItem
from mvq.scoring.models import LedgerEntry
from mvq.submissions import visibility
from mvq.submissions.models import Flag, Submission


def _row(obj: Base) -> dict[str, Any]:
    table = obj.__table__
    return {c.name: getattr(obj, c.key) for c in table.columns}


def _dump(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, indent=2, sort_keys=True, default=str, ensure_ascii=False))


def build(
    session: Session, *, submission_id: str, out: Path, actor: str, viewer: Principal
) -> dict[str, Any]:
    """The bundle as `viewer` may see it: another claim they may not see (a copy of this
    footage, a dispute's other member) is named nowhere in it, only said to exist."""
    submission = session.get(Submission, submission_id)
    if submission is None:
        raise NotFound("no such submission")
    scope = visibility.scope(session, viewer=viewer)
    traces = trail.hidden_traces(session, scope=scope, submission_id=submission_id)
    out.mkdir(parents=True, exist_ok=True)
    media = list(session.scalars(select(Media).where(Media.submission_id == submission_id)))
    for m in media:
        _fetch_media(session, m, out)
    item = session.scalar(select(ReviewItem).where(ReviewItem.submission_id == submission_id))
    decisions = list(session.scalars(
        select(Decision).where(Decision.submission_id == submission_id)
        .order_by(Decision.created_at)))  # fmt: skip
    entries = list(session.scalars(
        select(LedgerEntry).where(LedgerEntry.submission_id == submission_id)
        .order_by(LedgerEntry.created_at)))  # fmt: skip
    flags = session.scalars(select(Flag).where(Flag.submission_id == submission_id))
    _dump(out / "metadata.json", {
        "submission": _row(submission),
        "media": [_row(m) for m in media],
        "flags": [_row(f) | {"evidence": scope.evidence(f.evidence)} for f in flags],
        "review_item": _row(item) if item else None,
    })  # fmt: skip
    _dump(out / "decisions.json", [_row(d) for d in decisions])
    _dump(out / "ledger.json", [_row(e) for e in entries])
    # The same objects an auditor's search by claim covers: appeals and disputes included.
    ids = trail.claim_object_ids(session, submission_id=submission_id)
    audit.record(session, actor=actor, action="evidence.exported", object_type="submission",
                 object_id=submission_id, data={"media": [m.id for m in media]})  # fmt: skip
    session.flush()
    custody = session.scalars(
        select(AuditEvent).where(or_(AuditEvent.object_id.in_(ids))).order_by(AuditEvent.seq)
    )
    with (out / "custody.jsonl").open("w", encoding="utf-8") as fh:
        for event in custody:
            row = trail.without_traces(_row(event), traces)
            fh.write(json.dumps(row, default=str, sort_keys=True) + "\n")
    files = {
        str(p.relative_to(out)): {"sha256": sha256_file(p), "bytes": p.stat().st_size}
        for p in sorted(out.rglob("*"))
        if p.is_file() and p.name != "manifest.json"
    }
    manifest = signing.sign_manifest({
        "mvq_evidence": 1,
        "submission_id": submission_id,
        "created_at": utcnow().isoformat(),
        "originals": {m.id: {"sha256_at_ingest": m.sha256, "file": f"original/{m.id}"}
                      for m in media if m.sha256},
        "files": files,
        "chain_head": audit.chain_head(session),
    })  # fmt: skip
    _dump(out / "manifest.json", manifest)
    return manifest


def _fetch_media(session: Session, media: Media, out: Path) -> None:
    if media.status == MediaStatus.awaiting_upload:
        return  # never arrived: nothing stored to hand over
    if media.sha256 is None and storage.head(media.s3_key) is None:
        # Failed before a worker sealed it (wrong size, abandoned): only the unit's unverified
        # staging upload exists, and a bundle hands over sealed originals alone.
        return
    original = out / "original" / media.id
    original.parent.mkdir(exist_ok=True)
    storage.download(media.s3_key, original)
    if media.sha256 is not None and sha256_file(original) != media.sha256:
        raise Conflict(f"stored media {media.id} no longer matches its ingest hash",
                       code="media_altered")  # fmt: skip
    derived = out / "derived" / media.id
    derived.mkdir(parents=True, exist_ok=True)
    keys = [f.s3_key for f in session.scalars(select(Frame).where(Frame.media_id == media.id))]
    for key in [*keys, media.thumbnail_key, media.contact_sheet_key]:
        if key:
            storage.download(key, derived / key.rsplit("/", 1)[-1])
