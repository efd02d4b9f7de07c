"""The audit log for auditors as C2SP tlog-tiles: the log's Merkle tree in tiles of 256
hashes, and its leaves (the events' exact bytes) in entry bundles, read with plain GETs so any
tlog-tiles client can check the log against a checkpoint.

    tile/<L>/<N>[.p/<W>]         hashes of tree level 8·L, nodes N·256 … N·256+W-1
    tile/entries/<N>[.p/<W>]     leaves N·256 … N·256+W-1, each a big-endian uint16 length
                                 and the bytes

<N> is written in groups of three digits, all but the last prefixed with "x"
(1234067 → x001/x234/067). A full tile never changes; a partial one (.p/W) is served only at
the width the tree has now. Tiles are read from the stored tree on demand (one range read),
not kept as files: the database is already the tree's store.
"""

import re
import struct

from sqlalchemy import select
from sqlalchemy.orm import Session

from mvq.audit import checkpoint, tree
from mvq.audit.models import AuditEvent, AuditLeaf, AuditTreeNode
from mvq.audit.service import HASHED_FIELDS, leaf_of
from mvq.auth import policy
from mvq.auth.policy import Action
from mvq.auth.principal import Principal
from mvq.errors import Forbidden, Invalid, NotFound

WIDTH = 256
HEIGHT = 8
_INDEX = re.compile(r"^(?:x\d{3}/)*\d{3}$")


def parse_index(text: str) -> tuple[int, int]:
    """(N, W) from "x001/x234/067[.p/W]"; Invalid for anything else."""
    path, _, partial = text.partition(".p/")
    if not _INDEX.match(path) or (partial and not partial.isdigit()):
        raise Invalid("not a tile path", code="bad_tile")
    width = int(partial) if partial else WIDTH
    if not 0 < width < WIDTH + (0 if partial else 1):
        raise Invalid("a partial tile is 1 to 255 wide", code="bad_tile")
    return int(path.replace("x", "").replace("/", "")), width


def _available(session: Session, level: int) -> int:
    """Nodes of tree level 8·`level` the integrated tree has complete."""
    return tree.size(session) >> (HEIGHT * level)


def _check(session: Session, level: int, index: int, width: int) -> None:
    have = _available(session, level) - index * WIDTH
    # A full tile once the tree has it; a partial one only at exactly today's width.
    if not (have >= WIDTH if width == WIDTH else have == width):
        raise NotFound("no such tile")


def hashes(session: Session, *, reader: Principal, level: int, index: int, width: int) -> bytes:
    policy.require(reader, Action.read_audit)
    _check(session, level, index, width)
    start = index * WIDTH
    rows = session.scalars(
        select(AuditTreeNode.hash)
        .where(AuditTreeNode.level == HEIGHT * level)
        .where(AuditTreeNode.idx >= start, AuditTreeNode.idx < start + width)
        .order_by(AuditTreeNode.idx)
    )
    return b"".join(bytes(h) for h in rows)


def entries(session: Session, *, reader: Principal, index: int, width: int) -> bytes:
    policy.require(reader, Action.read_audit)
    if not policy.may_read_log_entries(reader):
        raise Forbidden("you are linked to a unit: read the hash tiles and the audit search")
    _check(session, 0, index, width)
    start = index * WIDTH
    # Columns, not ORM objects: loading 256 events as objects took half a bundle's 20 ms.
    events = session.execute(
        select(*(getattr(AuditEvent, k) for k in HASHED_FIELDS))
        .join(AuditLeaf, AuditLeaf.seq == AuditEvent.seq)
        .where(AuditLeaf.leaf_index >= start, AuditLeaf.leaf_index < start + width)
        .order_by(AuditLeaf.leaf_index)
    )
    out = bytearray()
    for event in events.mappings():
        leaf = leaf_of(dict(event))
        if len(leaf) > 0xFFFF:  # the bundle's length prefix is 16 bits
            raise Invalid("an entry exceeds the bundle format's 64 KiB", code="bad_tile")
        out += struct.pack(">H", len(leaf)) + leaf
    return bytes(out)


def checkpoint_note(session: Session, *, reader: Principal) -> str:
    policy.require(reader, Action.read_audit)
    latest = checkpoint.latest(session)
    if latest is None:
        raise NotFound("the log has no checkpoint yet")
    return latest[1]
