import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mvq.db import Base, utcnow
from mvq.ids import new_id


class WebhookEndpoint(Base):
    """Where a unit's events (or, with no unit, every unit's: the marketplace's) are sent.

    Secrets are stored sealed (mvq.webhooks.secrets). After a rotation the previous secret
    keeps signing alongside the new one until `previous_secret_expires_at`, so a receiver can
    switch without losing a delivery."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    url: Mapped[str] = mapped_column(String(2000))
    unit_id: Mapped[str | None] = mapped_column(ForeignKey("units.id"), index=True)
    events: Mapped[list[str]] = mapped_column(JSON)
    allow_private_network: Mapped[bool] = mapped_column(default=False)
    sealed_secret: Mapped[str] = mapped_column(String(200))
    sealed_previous_secret: Mapped[str | None] = mapped_column(String(200))
    previous_secret_expires_at: Mapped[datetime | None]
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[datetime | None]


class WebhookEvent(Base):
    """One event as every endpoint receives it; made from one audit event, so `audit_seq`
    orders events as their changes were committed. An audit event that concerns several
    units (a dispute settled) makes one event for each, told apart by `part`."""

    __tablename__ = "webhook_events"
    __table_args__ = (UniqueConstraint("audit_seq", "part"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    audit_seq: Mapped[int]
    part: Mapped[int] = mapped_column(default=0, server_default="0")
    type: Mapped[str] = mapped_column(String(40))
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id"), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    occurred_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DeliveryStatus(enum.StrEnum):
    pending = "pending"
    delivered = "delivered"
    failed = "failed"  # retries used up; a replay makes it pending again


class WebhookDelivery(Base):
    """The state of one event for one endpoint. Updated in place; what happened on each try
    is in the append-only `webhook_attempts`."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (UniqueConstraint("endpoint_id", "event_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("webhook_endpoints.id"))
    # Indexed: pruning an event checks it has no delivery left (mvq.webhooks.retention).
    event_id: Mapped[str] = mapped_column(ForeignKey("webhook_events.id"), index=True)
    # Copied from the event, so an endpoint's oldest pending delivery is one index lookup.
    audit_seq: Mapped[int]
    status: Mapped[str] = mapped_column(String(20), default=DeliveryStatus.pending)
    # Failed tries since the delivery was made or replayed: the backoff's position.
    failures: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Bumped by every claim and every replay: a worker records its result only while the
    # delivery is still the one it claimed.
    version: Mapped[int] = mapped_column(default=0)
    delivered_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


Index(
    "ix_webhook_deliveries_endpoint_status_seq",
    WebhookDelivery.endpoint_id,
    WebhookDelivery.status,
    WebhookDelivery.audit_seq,
)
# The prune's search: delivered, oldest first.
Index(
    "ix_webhook_deliveries_status_delivered_at",
    WebhookDelivery.status,
    WebhookDelivery.delivered_at,
)


class WebhookAttempt(Base):
    """One try of one delivery: append-only, the endpoint's delivery log, until its delivery
    was delivered and is pruned (mvq.webhooks.retention)."""

    __tablename__ = "webhook_attempts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    delivery_id: Mapped[str] = mapped_column(ForeignKey("webhook_deliveries.id"), index=True)
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("webhook_endpoints.id"), index=True)
    attempted_at: Mapped[datetime]
    status_code: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int]
    # What the try decided: delivered, failed for good, or the time of the next try.
    outcome: Mapped[str] = mapped_column(String(20))
    next_attempt_at: Mapped[datetime | None]


class WebhookCursor(Base):
    """How far through the audit log the dispatcher has read; one row."""

    __tablename__ = "webhook_cursor"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    audit_seq: Mapped[int] = mapped_column(default=0)
