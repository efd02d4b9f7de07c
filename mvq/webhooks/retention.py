"""Which webhook rows may go, a batch at a time (mvq.pruning runs the batches).

A delivery goes once it was delivered before the cutoff, with its tries; its event goes with
the last of its deliveries. Pending and failed deliveries stay whatever their age: they are
what a receiver has not had yet (a failed one waits for a replay). An event the audit log
names (a replay starts from it) stays with every delivery and try of it, and so does a
delivery the log names as its object. The database holds the same line: its triggers
(migration 2026-12-07-1700) refuse to delete a try of a delivery not delivered, or an event
with a delivery left or named by the log.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, delete, exists, select
from sqlalchemy.orm import Session

from mvq.audit.models import AuditEvent
from mvq.webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEvent

REPLAYED = "webhook.replayed"  # mvq.webhooks.service.replay; its data names `from_event_id`


@dataclass(frozen=True)
class Pruned:
    attempts: int
    deliveries: int
    events: int


def _events_named_by_log() -> Select[tuple[str]]:
    from_event = AuditEvent.data["from_event_id"].as_string()
    # Not NULL: one NULL in a NOT IN list would keep every row.
    return select(from_event).where(AuditEvent.action == REPLAYED, from_event.is_not(None))


def prune_batch(session: Session, *, cutoff: datetime, limit: int) -> Pruned:
    """Removes up to `limit` deliveries delivered before `cutoff`, their tries, and the events
    they leave without deliveries. The caller commits."""
    found = session.execute(
        select(WebhookDelivery.id, WebhookDelivery.event_id)
        .where(WebhookDelivery.status == DeliveryStatus.delivered,
               WebhookDelivery.delivered_at < cutoff,
               WebhookDelivery.event_id.not_in(_events_named_by_log()),
               ~exists().where(AuditEvent.object_id == WebhookDelivery.id),
               ~exists().where(AuditEvent.object_id == WebhookDelivery.event_id))
        .order_by(WebhookDelivery.delivered_at)
        .limit(limit)
        # Locked, so a replay cannot make one pending again while its tries go; one a replay
        # holds already is skipped (and then pending: not taken next time either).
        .with_for_update(of=WebhookDelivery, skip_locked=True)
    ).all()  # fmt: skip
    if not found:
        return Pruned(0, 0, 0)
    ids = [delivery_id for delivery_id, _ in found]
    attempts = session.execute(delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(ids)))
    deliveries = session.execute(delete(WebhookDelivery).where(WebhookDelivery.id.in_(ids)))
    events = session.execute(
        delete(WebhookEvent).where(
            WebhookEvent.id.in_({event_id for _, event_id in found}),
            ~exists().where(WebhookDelivery.event_id == WebhookEvent.id),
        )
    )
    return Pruned(
        attempts=attempts.rowcount,  # type: ignore[attr-defined]
        deliveries=deliveries.rowcount,  # type: ignore[attr-defined]
        events=events.rowcount,  # type: ignore[attr-defined]
    )
