"""The chain's state for the auditors' page, without walking the chain on every view.

Only a walk from genesis finds an old event whose row was edited: its successor's `prev_hash`
still matches, only recomputing its own hash shows it. An incremental check (from the last
verified head onwards) would skip exactly those rows, so it is not offered as "verified". A
full walk reads and hashes every event (50 000 took 2.2 s on SQLite here: some 45 s for a
million), far too slow for each page view. So the page walks when an auditor asks (its button runs
`mvq.exports.integrity`, the check `mvq audit verify` runs and only prints, against the
witnesses), and the result is itself an audit event,
`audit.verified`: the page shows the newest one (who ran it, when, up to which seq, intact or
broken where), how many events came after it, and the newest signed checkpoint from S3
checked against the database (one lookup and a count).
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mvq.audit import checkpoint
from mvq.audit import service as audit
from mvq.audit.models import AuditEvent

VERIFIED = "audit.verified"


@dataclass(frozen=True)
class Verification:
    seq: int  # of the audit.verified event
    at: datetime
    actor: str
    ok: bool
    events: int
    up_to: int | None  # the last seq walked
    first_bad_seq: int | None
    problem: str | None
    seconds: float
    since: int  # events appended after the walk's end
    witnesses: int  # configured when it ran
    witnessed: int  # of them, those holding a checkpoint it was checked against


def record(session: Session, *, actor: str, data: dict[str, Any]) -> Verification:
    """Records a verification's result (`mvq.exports.integrity`'s, the one check there is) as
    an `audit.verified` event; the caller commits."""
    audit.record(session, actor=actor, action=VERIFIED, object_type="audit_log",
                 object_id="chain", data=data)  # fmt: skip
    found = last(session)
    assert found is not None
    return found


def last(session: Session) -> Verification | None:
    event = session.scalar(
        select(AuditEvent).where(AuditEvent.action == VERIFIED).order_by(AuditEvent.seq.desc())
        .limit(1))  # fmt: skip
    if event is None:
        return None
    d = event.data
    up_to = d.get("up_to")
    # Events after the walk, besides its own record: a count over an index range, from seq on.
    since = session.scalar(select(func.count()).where(AuditEvent.seq > event.seq)) or 0
    return Verification(
        seq=event.seq, at=event.occurred_at, actor=event.actor, ok=bool(d.get("ok")),
        events=int(d.get("events") or 0), up_to=None if up_to is None else int(up_to),
        first_bad_seq=d.get("first_bad_seq"), problem=d.get("problem"),
        seconds=float(d.get("seconds") or 0), since=int(since),
        witnesses=int(d.get("witnesses") or 0), witnessed=len(d.get("witnessed") or {}),
    )  # fmt: skip


@dataclass(frozen=True)
class Anchor:
    checkpoint: checkpoint.Checkpoint | None
    problem: str | None  # the database against the checkpoint, or the checkpoint itself


def anchor(session: Session) -> Anchor:
    try:
        latest = checkpoint.latest(session)
    except checkpoint.CheckpointInvalid as exc:
        return Anchor(None, exc.message)
    if latest is None:
        return Anchor(None, None)
    return Anchor(latest[0], checkpoint.check(session, latest[0]))
