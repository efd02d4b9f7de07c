import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mvq.db import Base, utcnow
from mvq.ids import new_id


class EntryType(enum.StrEnum):
    award = "award"
    reversal = "reversal"
    debit = "debit"


class LedgerEntry(Base):
    """Append-only: a correction is a new entry, never an update."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        # One award (or reversal) per decision, however often a request or job is retried.
        UniqueConstraint("decision_id", "entry_type"),
        # One debit per idempotency key: a retried spend is the same spend.
        UniqueConstraint("unit_id", "idempotency_key"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id"), index=True)
    entry_type: Mapped[str] = mapped_column(String(20))
    points: Mapped[int]
    submission_id: Mapped[str | None] = mapped_column(ForeignKey("submissions.id"))
    decision_id: Mapped[str | None] = mapped_column(ForeignKey("decisions.id"))
    rule_version_id: Mapped[str | None] = mapped_column(ForeignKey("rule_versions.id"))
    actor_id: Mapped[str | None] = mapped_column(ForeignKey("staff_users.id"))
    # Split credit: the dispute whose settlement priced this award.
    dispute_id: Mapped[str | None] = mapped_column(ForeignKey("disputes.id"))
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class UnitDailyPoints(Base):
    """Per unit and UTC day, what the ledger's entries add up to: written in the same
    transaction as each entry, so leaderboards and charts read days, not every entry.
    Derived, not the truth: `mvq.scoring.ledger.rebuild_daily` recomputes it from the ledger."""

    __tablename__ = "unit_daily_points"

    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id"), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True, index=True)
    earned: Mapped[int] = mapped_column(default=0)  # awards and reversals
    spent: Mapped[int] = mapped_column(default=0)  # debits, as a negative sum


class DisputeStatus(enum.StrEnum):
    open = "open"
    settled = "settled"


class Dispute(Base):
    """Claims from different units that look like one target. Their awards wait until a
    senior assigns the credit."""

    __tablename__ = "disputes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    status: Mapped[str] = mapped_column(String(20), index=True)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Set at settlement: the points the target is worth, split across the members' shares.
    points: Mapped[int | None]
    rule_version_id: Mapped[str | None] = mapped_column(ForeignKey("rule_versions.id"))
    settled_by: Mapped[str | None] = mapped_column(ForeignKey("staff_users.id"))
    settled_at: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DisputeMember(Base):
    __tablename__ = "dispute_members"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    dispute_id: Mapped[str] = mapped_column(ForeignKey("disputes.id"), index=True)
    # A claim belongs to one dispute at most.
    submission_id: Mapped[str] = mapped_column(ForeignKey("submissions.id"), unique=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id"))
    share: Mapped[int | None]
