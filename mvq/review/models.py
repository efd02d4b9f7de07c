import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mvq.db import Base, utcnow
from mvq.ids import new_id


class ItemState(enum.StrEnum):
    pending = "pending"
    leased = "leased"
    escalated = "escalated"
    decided = "decided"


class DecisionKind(enum.StrEnum):
    approve = "approve"
    reject = "reject"
    escalate = "escalate"


class ReviewItem(Base):
    """A submission's place in the review queue. At most one lease holder at a time."""

    __tablename__ = "review_items"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    submission_id: Mapped[str] = mapped_column(ForeignKey("submissions.id"), unique=True)
    state: Mapped[str] = mapped_column(String(20), index=True)
    priority: Mapped[int] = mapped_column(default=0)
    leased_by: Mapped[str | None] = mapped_column(ForeignKey("staff_users.id"))
    lease_token: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class Decision(Base):
    __tablename__ = "decisions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    review_item_id: Mapped[str] = mapped_column(ForeignKey("review_items.id"), index=True)
    submission_id: Mapped[str] = mapped_column(ForeignKey("submissions.id"), index=True)
    reviewer_id: Mapped[str] = mapped_column(ForeignKey("staff_users.id"))
    decision: Mapped[str] = mapped_column(String(20))
    target_type: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(20))
    reason_code: Mapped[str | None] = mapped_column(String(40))
    comment: Mapped[str | None] = mapped_column(Text)
    lease_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
