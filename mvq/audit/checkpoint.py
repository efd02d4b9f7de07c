"""Signed checkpoints of the audit chain's head, kept outside the database.

A checkpoint follows the C2SP tlog-checkpoint format that Trillian, Sigstore Rekor and Go's
checksum database use for a log's signed tree head, wrapped in a signed note:

    mvq/audit-log/3f9c0a1b2c3d4e5f     origin: which log
    1234                               size: events in the chain up to the head
    q2Vx...=                           base64 of the head event's hash (our "root hash")
    seq 1290                           extension: the head event's sequence number
    time 2026-11-27T15:40:00.123456+00:00

    — mvq/audit-log/3f9c0a1b2c3d4e5f <base64(key id || Ed25519 signature)>

A log is named by its database's address (host, port and name, or the SQLite file's absolute
path), hashed: two databases that share a bucket, as test databases do, keep their checkpoints
apart, and the database itself cannot rename its log. A database moved to another address
starts a new namespace; carry the newest checkpoint over when moving it.

The head's hash commits to every event before it, so a database that still holds an event with
that hash at that sequence, in an intact chain, holds the log as it was then. Each checkpoint is
written once under its own S3 key and never replaced; the key counts down, so the newest is
the first one a listing returns.
"""

import base64
import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mvq import storage
from mvq.audit import signing
from mvq.audit.models import AuditEvent
from mvq.db import utcnow
from mvq.errors import Conflict

log = logging.getLogger(__name__)

ORIGIN = "mvq/audit-log/"
PREFIX = "audit/checkpoints/"
_TOP = 10**12


def origin(session: Session) -> str:
    url = session.get_bind().engine.url
    if url.get_backend_name() == "sqlite":
        address = str(Path(url.database or "").resolve())
    else:
        address = f"{url.host}:{url.port or ''}/{url.database}"
    return ORIGIN + hashlib.sha256(address.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    seq: int
    head: str
    time: datetime

    def text(self) -> str:
        root = base64.b64encode(bytes.fromhex(self.head)).decode()
        return f"{self.origin}\n{self.size}\n{root}\nseq {self.seq}\ntime {self.time.isoformat()}\n"

    def key(self) -> str:
        log_id = self.origin.removeprefix(ORIGIN)
        return f"{PREFIX}{log_id}/{_TOP - self.seq:012d}-{self.seq}-{self.head}.txt"


class CheckpointInvalid(Conflict):
    """A checkpoint whose signature or text does not check out, or a database that contradicts
    the newest one: nothing is signed or exported then (a 409 through the API)."""

    code = "checkpoint_contradicted"


def parse(note: str, *, public_key: str | None = None) -> Checkpoint:
    """The checkpoint in a signed note, its signature checked (by default against this
    deployment's key)."""
    name = note.split("\n", 1)[0]
    if not name.startswith(ORIGIN):
        raise CheckpointInvalid(f"not an mvq audit checkpoint: {name[:80]!r}")
    text = signing.open_note(note, name=name, public_key=public_key or signing.public_key_hex())
    if text is None:
        raise CheckpointInvalid("the checkpoint's signature does not verify")
    lines = text.splitlines()
    try:
        _, size, root, seq, when = lines[:5]
        if not seq.startswith("seq ") or not when.startswith("time "):
            raise ValueError("unexpected lines")
        return Checkpoint(
            origin=name,
            size=int(size),
            seq=int(seq.removeprefix("seq ")),
            head=base64.b64decode(root, validate=True).hex(),
            time=datetime.fromisoformat(when.removeprefix("time ")),
        )
    except ValueError as exc:
        raise CheckpointInvalid(f"the checkpoint is malformed: {exc}") from exc


def current(session: Session) -> Checkpoint | None:
    """The chain's head now, or None for an empty chain."""
    head = session.execute(
        select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    if head is None:
        return None
    size = session.scalar(select(func.count()).where(AuditEvent.seq <= head.seq))
    return Checkpoint(
        origin=origin(session), size=int(size or 0), seq=head.seq, head=head.hash, time=utcnow()
    )


def check(session: Session, checkpoint: Checkpoint) -> str | None:
    """What is wrong with the database against `checkpoint`, or None. The chain itself is
    checked from genesis by `verify_chain`; this says whether it still reaches the head."""
    at = session.scalar(select(AuditEvent.hash).where(AuditEvent.seq == checkpoint.seq))
    if at is None:
        last = session.scalar(select(func.max(AuditEvent.seq)))
        return (
            f"checkpoint of {checkpoint.time.isoformat()} has event {checkpoint.seq}, "
            f"the database {'ends at ' + str(last) if last else 'has none'}: truncated"
        )
    if at != checkpoint.head:
        return (
            f"event {checkpoint.seq} has another hash than the checkpoint of "
            f"{checkpoint.time.isoformat()}: the chain was rewritten"
        )
    size = session.scalar(select(func.count()).where(AuditEvent.seq <= checkpoint.seq))
    if size != checkpoint.size:
        return f"{size} events up to {checkpoint.seq}, the checkpoint says {checkpoint.size}"
    return None


def latest(session: Session) -> Checkpoint | None:
    """The newest checkpoint of this database's log in S3, its signature checked; None when
    there is none yet."""
    name = origin(session)
    key = storage.first_key(f"{PREFIX}{name.removeprefix(ORIGIN)}/")
    if key is None:
        return None
    found = parse(storage.get_bytes(key).decode())
    if found.origin != name:
        raise CheckpointInvalid(f"{key} is signed for another log, {found.origin}")
    return found


def write(checkpoint: Checkpoint) -> str:
    """Signs and stores `checkpoint` under a key of its own; returns the signed note. A key
    that exists already holds this same head, so it is left as it is."""
    note = signing.sign_note(checkpoint.text(), name=checkpoint.origin)
    storage.put_once(checkpoint.key(), note.encode(), content_type="text/plain; charset=utf-8")
    return note


def anchor(session: Session, *, last: Checkpoint | None) -> Checkpoint | None:
    """Signs the head if it moved since `last` (the newest checkpoint), but only for a database
    that still agrees with `last`, as a witness cosigns only a consistent log. Returns the
    newest checkpoint; raises CheckpointInvalid when the database contradicts `last`."""
    if last is not None:
        problem = check(session, last)
        if problem is not None:
            raise CheckpointInvalid(problem)
    now = current(session)
    if now is None or (last is not None and now.seq == last.seq):
        return last
    write(now)
    return now


def sign_head(session: Session) -> str | None:
    """At an export: the head, checked against the newest checkpoint, signed and stored; the
    signed note goes into the export's manifest. None for an empty chain."""
    last = latest(session)
    problem = check(session, last) if last is not None else None
    if problem is not None:
        raise CheckpointInvalid(problem)
    now = current(session)
    return None if now is None else write(now)
