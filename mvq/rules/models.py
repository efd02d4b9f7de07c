import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mvq.db import Base, utcnow
from mvq.ids import new_id


class Outcome(enum.StrEnum):
    destroyed = "destroyed"
    damaged = "damaged"


class RuleVersion(Base):
    """A points table in force from `effective_from` until the next version starts. A version
    withdrawn before it took effect (`withdrawn_at`) is never in force; it stays on record."""

    __tablename__ = "rule_versions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    effective_from: Mapped[datetime] = mapped_column(unique=True)
    created_by: Mapped[str | None] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    withdrawn_at: Mapped[datetime | None]


class Rule(Base):
    __tablename__ = "rules"
    __table_args__ = (UniqueConstraint("version_id", "target_type", "outcome"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    version_id: Mapped[str] = mapped_column(ForeignKey("rule_versions.id"), index=True)
    target_type: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(20))
    points: Mapped[int]


class Label(Base):
    """What pages call a stored code (a target type, a reject reason) in one language. Admins
    edit these; a code without a label shows as the code."""

    __tablename__ = "labels"

    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    language: Mapped[str] = mapped_column(String(8), primary_key=True)
    text: Mapped[str] = mapped_column(String(200))
    updated_by: Mapped[str] = mapped_column(String(80))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
