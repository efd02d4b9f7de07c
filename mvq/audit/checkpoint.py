"""Signed checkpoints of the audit log's Merkle tree (mvq.audit.tree), kept outside the database.

A checkpoint is the C2SP tlog-checkpoint that Go's checksum database, Sigstore and every
tlog-witness speak, in a signed note (mvq.audit.notes):

    mvq/audit-log/3f9c0a1b2c3d4e5f     origin: which log
    1234                               tree size: leaves (audit events) covered
    q2Vx...=                           base64 of the RFC 9162 root hash of those leaves

    — mvq/audit-log/3f9c0a1b2c3d4e5f <base64(key id || Ed25519 signature)>
    — mvq-witness/0a1b2c3d4e5f6a7b <base64(key id || timestamp || signature)>   cosignatures

The origin is derived from the log's signing key, not from the database's address: a database
moved to another path or host is still the same log, and witnesses keep checking it.

The operator keeps each checkpoint (with the cosignatures it collected) in S3 under a key
written once, newest first in a listing, per log instance: the origin and the hash of the
log's first event, which a moved database keeps and a second database given the same key (test
databases sharing a bucket) does not. That copy is a convenience: someone holding the storage
keys can delete it. What they cannot delete is what the witnesses hold
(mvq.audit.witnesses): `mvq audit verify` asks them.
"""

import base64
import binascii
import hashlib
import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from mvq import storage
from mvq.audit import merkle, notes, signing, tree
from mvq.audit.models import AuditEvent
from mvq.audit.service import event_leaf
from mvq.errors import Conflict

log = logging.getLogger(__name__)

ORIGIN = "mvq/audit-log/"
PREFIX = "audit/checkpoints/"
_TOP = 10**13


def origin(public_key: str | None = None) -> str:
    """The log's name, from its public key (by default this deployment's)."""
    return notes.key_name(ORIGIN, public_key or signing.public_key_hex())


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    def text(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"

    def key(self, instance: str) -> str:
        log_id = self.origin.removeprefix(ORIGIN)
        name = f"{_TOP - self.size:013d}-{self.size}-{self.root.hex()}.txt"
        return f"{PREFIX}{log_id}/{instance}/{name}"


class CheckpointInvalid(Conflict):
    """A checkpoint whose signature or text does not check out, or a database that contradicts
    one: nothing is signed or exported then (a 409 through the API)."""

    code = "checkpoint_contradicted"


def parse_text(text: str) -> Checkpoint:
    lines = text.split("\n")
    try:
        name, size, root = lines[:3]
        found = Checkpoint(name, int(size), base64.b64decode(root, validate=True))
    except (ValueError, binascii.Error) as exc:
        raise CheckpointInvalid(f"the checkpoint is malformed: {exc}") from exc
    if len(found.root) != 32 or found.size < 0 or str(found.size) != size:
        raise CheckpointInvalid("the checkpoint is malformed")
    return found


def parse(note: str, *, public_key: str | None = None) -> Checkpoint:
    """The checkpoint in a signed note, its log signature checked (by default against this
    deployment's key, whose origin it must carry)."""
    key = public_key or signing.public_key_hex()
    try:
        text, lines = notes.split(note)
    except ValueError as exc:
        raise CheckpointInvalid(str(exc)) from exc
    found = parse_text(text)
    if found.origin != origin(key):
        raise CheckpointInvalid(f"not this log's checkpoint: {found.origin[:80]!r}")
    if not notes.signed_by(text, lines, name=found.origin, public_key=key):
        raise CheckpointInvalid("the checkpoint's signature does not verify")
    return found


def sign(checkpoint: Checkpoint) -> str:
    line = notes.sign(signing.private_key(), name=checkpoint.origin, text=checkpoint.text())
    return notes.join(checkpoint.text(), [line])


def current(session: Session) -> Checkpoint | None:
    """The tree now, every event integrated (the caller commits), or None while empty."""
    size = tree.integrate(session)
    return None if size == 0 else Checkpoint(origin(), size, tree.root(session, size))


def check(session: Session, checkpoint: Checkpoint) -> str | None:
    """What is wrong with the database's tree against `checkpoint`, or None. Whether the tree
    matches the events is `mvq audit verify`'s walk; this says whether it extends `checkpoint`."""
    size = tree.size(session)
    if checkpoint.size > size:
        return f"a checkpoint covers {checkpoint.size} events, the log has {size}: truncated"
    try:
        root = tree.root(session, checkpoint.size)
    except merkle.ProofError as exc:
        return f"the tree cannot be read: {exc}"
    if checkpoint.size and root != checkpoint.root:
        return (
            f"the first {checkpoint.size} events have another root than the checkpoint: "
            "the log was rewritten"
        )
    return None


def instance(session: Session) -> str | None:
    """Which copy of the log this database is, for the S3 keys: its first event's hash."""
    first = session.scalar(select(AuditEvent).order_by(AuditEvent.seq).limit(1))
    return None if first is None else hashlib.sha256(event_leaf(first)).hexdigest()[:16]


def latest(session: Session) -> tuple[Checkpoint, str] | None:
    """The newest checkpoint of this log in S3 and its note, signature checked."""
    name = instance(session)
    if name is None:
        return None
    key = storage.first_key(f"{PREFIX}{origin().removeprefix(ORIGIN)}/{name}/")
    if key is None:
        return None
    note = storage.get_bytes(key).decode()
    return parse(note), note


def store(session: Session, checkpoint: Checkpoint, note: str) -> None:
    """Written once under its own key; a key that exists already holds this same tree."""
    name = instance(session)
    assert name is not None, "a checkpoint of an empty log"
    key = checkpoint.key(name)
    storage.put_once(key, note.encode(), content_type="text/plain; charset=utf-8")


def sign_head(session: Session) -> str | None:
    """At an export: the tree now, checked against the newest stored checkpoint, signed and
    stored; the signed note goes into the export's manifest. None for an empty log."""
    last = latest(session)
    problem = check(session, last[0]) if last is not None else None
    if problem is not None:
        raise CheckpointInvalid(problem)
    now = current(session)
    if now is None:
        return None
    if last is not None and last[0] == now:
        return last[1]
    note = sign(now)
    store(session, now, note)
    return note
