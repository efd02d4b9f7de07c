from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from mvq.db import Base, utcnow


class AuditEvent(Base):
    """One link of the hash chain: `hash` covers this event and `prev_hash`.

    `prev_hash` is unique, so two writers that read the same head cannot both append: one
    fails and retries, and the chain never forks.
    """

    __tablename__ = "audit_events"
    # The auditors' filters, each leading an index that ends in seq, so a page of newest events
    # that match is one backwards range read (mvq.audit.query). On Postgres, action's operator
    # class also serves a prefix LIKE ('review.%') whatever the database's collation.
    __table_args__ = (
        Index("ix_audit_events_action_seq", "action", "seq",
              postgresql_ops={"action": "varchar_pattern_ops"}),
        Index("ix_audit_events_actor_seq", "actor", "seq"),
        Index("ix_audit_events_object_type_seq", "object_type", "seq"),
        Index("ix_audit_events_occurred_at", "occurred_at"),
    )  # fmt: skip

    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(60))
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str] = mapped_column(String(64), index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditLeaf(Base):
    """Which event is which leaf of the log's Merkle tree (mvq.audit.tree): leaves are the
    events in `seq` order, numbered from 0 without gaps where `seq` may have some."""

    __tablename__ = "audit_leaves"

    leaf_index: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    # No foreign key: the tree is derived from the events, and `mvq audit verify` recomputes
    # it from them; a key would only make every event deletion a two-table statement.
    seq: Mapped[int] = mapped_column(unique=True)


class AuditTreeNode(Base):
    """A complete subtree's hash: level 0 the leaf hashes, level L the node over leaves
    idx·2^L to (idx+1)·2^L - 1. Proofs and tiles are read from here in one query each."""

    __tablename__ = "audit_tree_nodes"

    level: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))
