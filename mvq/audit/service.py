"""The audit chain: every state change appends one event in the same transaction."""

import hashlib
import json
import weakref
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from mvq.audit.models import AuditEvent
from mvq.db import utcnow

GENESIS = "0" * 64
_HEAD_MEMO = "mvq.audit.head"


def canonical(event: dict[str, Any]) -> bytes:
    return json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


HASHED_FIELDS = ("prev_hash", "occurred_at", "actor", "action", "object_type", "object_id", "data")


def hash_fields(fields: dict[str, Any]) -> str:
    """SHA-256 of an event's canonical encoding; `occurred_at` as its ISO 8601 text. Exports
    are checked with this same function."""
    return hashlib.sha256(canonical({k: fields[k] for k in HASHED_FIELDS})).hexdigest()


def event_leaf(event: AuditEvent) -> bytes:
    """The event's canonical encoding: what its chain `hash` covers, and its leaf in the
    Merkle tree (mvq.audit.tree), so a receipt carries these bytes and nothing re-encodes."""
    return leaf_of({k: getattr(event, k) for k in HASHED_FIELDS})


def leaf_of(fields: Mapping[str, Any]) -> bytes:
    """`event_leaf` from the event's HASHED_FIELDS as a query returns them, for readers of
    many events at once (an entry bundle) that need no ORM object per event."""
    return canonical({**fields, "occurred_at": fields["occurred_at"].isoformat()})


def event_hash(event: AuditEvent) -> str:
    return hashlib.sha256(event_leaf(event)).hexdigest()


def chain_head(session: Session) -> str:
    head = session.scalar(select(AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1))
    return head or GENESIS


def _lock_chain_head(session: Session) -> None:
    # Postgres: serialise appenders for the rest of the transaction. SQLite already holds the
    # database write lock from BEGIN IMMEDIATE.
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(7421001)"))


def _chain_head_for_append(session: Session) -> str:
    """The hash a new event links to, with the chain locked for this transaction.

    A transaction that already appended holds the lock, so nobody else can have appended
    since: its own last hash is the head, and neither the lock nor the head is asked for
    again (a decision appends three or four events). The memo is tied to the innermost
    transaction object by a weak reference, so a rolled-back savepoint or a new transaction
    never reuses it.
    """
    current = session.get_nested_transaction() or session.get_transaction()
    memo = session.info.get(_HEAD_MEMO)
    if memo is not None and current is not None and memo[0]() is current:
        return str(memo[1])
    _lock_chain_head(session)
    head = session.scalar(select(AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1))
    return head or GENESIS


def _remember_head(session: Session, head: str) -> None:
    current = session.get_nested_transaction() or session.get_transaction()
    if current is not None:
        session.info[_HEAD_MEMO] = (weakref.ref(current), head)


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    object_type: str,
    object_id: str,
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    prev_hash = _chain_head_for_append(session)
    occurred_at = utcnow()
    # Round-trip through JSON so the hash covers exactly what the database will return.
    payload: dict[str, Any] = json.loads(json.dumps(data or {}, default=str))
    event = AuditEvent(
        occurred_at=occurred_at,
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=object_id,
        data=payload,
        prev_hash=prev_hash,
    )
    event.hash = event_hash(event)
    session.add(event)
    session.flush()
    _remember_head(session, event.hash)
    return event


@dataclass(frozen=True)
class ChainReport:
    events: int
    head: str
    first_bad_seq: int | None
    problem: str | None
    # {object type: {object id: the row digest its event recorded, or None before binding}}
    bindings: dict[str, dict[str, str | None]] = field(default_factory=dict)


def verify_chain(session: Session, *, bound_types: Collection[str] = ()) -> ChainReport:
    """Walks the chain from genesis; on the way, collects the row digests that the events of
    `bound_types` carry, so the rows are checked without a second pass over the log."""
    prev = GENESIS
    count = 0
    found: dict[str, dict[str, str | None]] = {kind: {} for kind in bound_types}
    for event in session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).yield_per(1000):
        count += 1
        if event.prev_hash != prev:
            return ChainReport(count, prev, event.seq, "prev_hash does not match the event before")
        if event.hash != event_hash(event):
            return ChainReport(count, prev, event.seq, "hash does not match the event's contents")
        if event.object_type in found:
            digest = event.data.get("row_sha256") if isinstance(event.data, dict) else None
            found[event.object_type][event.object_id] = None if digest is None else str(digest)
        prev = event.hash
    return ChainReport(count, prev, None, None, found)


def events(
    session: Session, *, object_id: str | None, after_seq: int, limit: int
) -> list[AuditEvent]:
    stmt = select(AuditEvent).where(AuditEvent.seq > after_seq).order_by(AuditEvent.seq)
    if object_id:
        stmt = stmt.where(AuditEvent.object_id == object_id)
    return list(session.scalars(stmt.limit(limit)))


def latest_events(session: Session, *, object_id: str | None, limit: int) -> list[AuditEvent]:
    """Newest first, for the auditors' page."""
    stmt = select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(limit)
    if object_id:
        stmt = stmt.where(AuditEvent.object_id == object_id)
    return list(session.scalars(stmt))
