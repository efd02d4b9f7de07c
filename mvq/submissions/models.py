import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mvq.db import Base, utcnow
from mvq.ids import new_id


class SubmissionStatus(enum.StrEnum):
    awaiting_upload = "awaiting_upload"
    processing = "processing"
    in_queue = "in_queue"
    in_review = "in_review"
    approved = "approved"
    rejected = "rejected"
    escalated = "escalated"
    failed = "failed"


class Submission(Base):
    """One claim by one unit: what was hit, how, and when."""

    __tablename__ = "submissions"
    __table_args__ = (UniqueConstraint("unit_id", "idempotency_key"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id"), index=True)
    # The unit's member who made the claim when signed in as a person; None for a unit token.
    submitted_by: Mapped[str | None] = mapped_column(ForeignKey("staff_users.id"))
    status: Mapped[str] = mapped_column(String(20), index=True)
    target_type: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(20))
    occurred_at: Mapped[datetime]
    # Where occurred_at came from: "unit" (as the claim stated it), or, when the unit left the
    # time to the footage, "footage" until processing finds "capture_time", "telemetry" or "osd"
    # (the on-screen display burned into the picture), else
    # "upload_time" (the claim is then flagged no_capture_time like any file without a time).
    occurred_at_source: Mapped[str] = mapped_column(
        String(20), default="unit", server_default="unit"
    )
    lat: Mapped[float | None]
    lon: Mapped[float | None]
    note: Mapped[str | None] = mapped_column(Text)
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    # SHA-256 of the create request's body, so a reused key with another body is refused.
    request_fingerprint: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Flag(Base):
    """Something a reviewer must see, with the evidence that raised it."""

    __tablename__ = "flags"
    __table_args__ = (UniqueConstraint("submission_id", "media_id", "kind"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    submission_id: Mapped[str] = mapped_column(ForeignKey("submissions.id"), index=True)
    media_id: Mapped[str | None] = mapped_column(ForeignKey("media.id"))
    kind: Mapped[str] = mapped_column(String(40), index=True)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
