"""From the audit log to pending deliveries, and from the database to the queue.

The dispatcher reads audit events past its cursor in `seq` order. That is commit order:
appenders hold the chain's lock until they commit (mvq.audit.service), so once an event is
visible, none before it can still appear. Each mapped event becomes one `webhook_events` row
and one pending delivery per endpoint that wants it, in the transaction that moves the cursor:
a crash before commit redoes the batch, after commit skips it, and nothing is lost or doubled.

Delivery jobs are derived from the pending rows each sweep, so Redis may lose them all.
"""

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from mvq import queue
from mvq.audit.models import AuditEvent
from mvq.webhooks import events
from mvq.webhooks.models import (
    DeliveryStatus,
    WebhookCursor,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

CURSOR = "audit"
BATCH = 500
DELIVERY_JOB_TIMEOUT = 600


def new_event_id() -> str:
    return "msg_" + uuid.uuid4().hex


def _cursor(session: Session) -> WebhookCursor:
    """The row the migration made, locked on Postgres so two sweepers never dispatch the same
    batch (SQLite's write lock from BEGIN IMMEDIATE does the same there)."""
    return session.scalars(
        select(WebhookCursor).where(WebhookCursor.name == CURSOR).with_for_update()
    ).one()


def dispatch_batch(session: Session, *, now: datetime, tell: events.Tell) -> int:
    """Maps up to BATCH audit events past the cursor and commits; how many were read."""
    cursor = _cursor(session)
    batch = list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.seq > cursor.audit_seq,
                   AuditEvent.action.in_(events.AUDIT_ACTIONS))
            .order_by(AuditEvent.seq)
            .limit(BATCH)
        )
    )  # fmt: skip
    endpoints = list(
        session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.disabled_at.is_(None)))
    )
    for audit_event in batch:
        for part, found in enumerate(events.mapped(session, audit_event, tell=tell)):
            wanting = [e for e in endpoints if _wants(e, found, audit_event)]
            if wanting:
                _record(session, audit_event, found, part=part, endpoints=wanting, now=now)
    if batch:
        cursor.audit_seq = batch[-1].seq
    session.commit()
    return len(batch)


def _record(
    session: Session,
    audit_event: AuditEvent,
    found: events.Mapped,
    *,
    part: int,
    endpoints: list[WebhookEndpoint],
    now: datetime,
) -> None:
    event = WebhookEvent(
        id=new_event_id(),
        audit_seq=audit_event.seq,
        part=part,
        type=found.type,
        unit_id=found.unit_id,
        payload=found.data,
        occurred_at=audit_event.occurred_at,
        created_at=now,
    )
    session.add(event)
    session.flush()  # the deliveries' foreign key needs it; no relationship orders them
    session.add_all(
        WebhookDelivery(endpoint_id=e.id, event_id=event.id, audit_seq=event.audit_seq,
                        status=DeliveryStatus.pending, next_attempt_at=now, created_at=now)
        for e in endpoints
    )  # fmt: skip


def _wants(endpoint: WebhookEndpoint, event: events.Mapped, source: AuditEvent) -> bool:
    # An endpoint of no unit is the marketplace's: it hears of every unit.
    unit_matches = endpoint.unit_id is None or endpoint.unit_id == event.unit_id
    # A new endpoint hears of what happens from its registration on, even when the
    # dispatcher is behind.
    return (unit_matches and event.type in endpoint.events
            and source.occurred_at >= endpoint.created_at)  # fmt: skip


def due_endpoints(session: Session, *, now: datetime) -> list[str]:
    return list(
        session.scalars(
            select(WebhookDelivery.endpoint_id)
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
            .where(
                WebhookEndpoint.disabled_at.is_(None),
                WebhookDelivery.status == DeliveryStatus.pending,
                WebhookDelivery.next_attempt_at <= now,
            )
            .distinct()
        )
    )


def delivery_job(endpoint_id: str) -> queue.PendingJob:
    # One job id per endpoint: one delivery in flight per endpoint keeps its events in order.
    return queue.PendingJob(
        queue=queue.WEBHOOKS_QUEUE,
        func="workers.webhooks.deliver",
        args=(endpoint_id,),
        job_id=f"deliver-webhooks-{endpoint_id}",
        timeout=DELIVERY_JOB_TIMEOUT,
    )


def sweep(session: Session, *, now: datetime, tell: events.Tell) -> int:
    """Dispatches everything new, then enqueues each endpoint with a delivery due; returns
    how many endpoints were enqueued. `tell`: the outcome's sentences (events.Tell)."""
    while dispatch_batch(session, now=now, tell=tell) == BATCH:
        pass
    due = due_endpoints(session, now=now)
    session.rollback()  # end the read transaction before talking to Redis
    for endpoint_id in due:
        queue.send(delivery_job(endpoint_id))
    return len(due)
