"""Endpoints: registered, rotated and disabled by admins; read and replayed by whoever may see
them (mvq.auth.policy.may_see_webhook). A secret is returned once and never logged."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mvq import queue
from mvq.audit import service as audit
from mvq.auth import policy
from mvq.auth.policy import Action
from mvq.auth.principal import Principal
from mvq.errors import Invalid, NotFound
from mvq.ids import new_id
from mvq.settings import get_settings
from mvq.units.models import Unit
from mvq.webhooks import addresses, dispatch, secrets
from mvq.webhooks.models import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)


@dataclass(frozen=True)
class Issued:
    endpoint: WebhookEndpoint
    secret: str  # for the response only


def https_only() -> bool:
    return get_settings().env == "production"


def register(
    session: Session,
    *,
    admin: Principal,
    url: str,
    events: list[str],
    unit_id: str | None,
    allow_private_network: bool,
    now: datetime,
) -> Issued:
    policy.require(admin, Action.manage_webhooks)
    if unit_id is not None and session.get(Unit, unit_id) is None:
        raise Invalid("no such unit", code="unknown_unit")
    addresses.check(url, allow_private_network=allow_private_network, https_only=https_only())
    secret = secrets.new_secret()
    endpoint_id = new_id()
    endpoint = WebhookEndpoint(
        id=endpoint_id,
        url=url,
        unit_id=unit_id,
        events=sorted(set(events)),
        allow_private_network=allow_private_network,
        sealed_secret=secrets.seal(secret, endpoint_id=endpoint_id),
        created_by=admin.actor,
        created_at=now,
    )
    session.add(endpoint)
    session.flush()
    audit.record(
        session,
        actor=admin.actor,
        action="webhook.registered",
        object_type="webhook_endpoint",
        object_id=endpoint.id,
        data={"url": url, "unit_id": unit_id, "events": endpoint.events,
              "allow_private_network": allow_private_network},
    )  # fmt: skip
    return Issued(endpoint, secret)


def visible(session: Session, *, viewer: Principal) -> list[WebhookEndpoint]:
    stmt = select(WebhookEndpoint).order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
    return [
        e
        for e in session.scalars(stmt)
        if policy.may_see_webhook(viewer, endpoint_unit_id=e.unit_id)
    ]


def get_visible(session: Session, *, viewer: Principal, endpoint_id: str) -> WebhookEndpoint:
    """The endpoint, or NotFound whether it is missing or someone else's: ids do not leak."""
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or not policy.may_see_webhook(viewer, endpoint_unit_id=endpoint.unit_id):
        raise NotFound("no such webhook endpoint")
    return endpoint


def managed(session: Session, *, admin: Principal, endpoint_id: str) -> WebhookEndpoint:
    """The endpoint as its admin manages it: the role first, so whoever may not manage
    webhooks is refused alike whether or not they could see this one."""
    policy.require(admin, Action.manage_webhooks)
    return get_visible(session, viewer=admin, endpoint_id=endpoint_id)


def rotate(session: Session, *, admin: Principal, endpoint_id: str, now: datetime) -> Issued:
    """A new secret; the one it replaces keeps signing alongside it for the grace period."""
    endpoint = managed(session, admin=admin, endpoint_id=endpoint_id)
    secret = secrets.new_secret()
    grace = timedelta(hours=get_settings().webhook_secret_grace_hours)
    endpoint.sealed_previous_secret = endpoint.sealed_secret
    endpoint.previous_secret_expires_at = now + grace
    endpoint.sealed_secret = secrets.seal(secret, endpoint_id=endpoint.id)
    session.flush()
    audit.record(
        session,
        actor=admin.actor,
        action="webhook.secret_rotated",
        object_type="webhook_endpoint",
        object_id=endpoint.id,
        data={"previous_secret_expires_at": endpoint.previous_secret_expires_at.isoformat()},
    )
    return Issued(endpoint, secret)


def disable(session: Session, *, admin: Principal, endpoint_id: str, now: datetime) -> None:
    """Nothing more is sent; the endpoint and its delivery log stay."""
    endpoint = managed(session, admin=admin, endpoint_id=endpoint_id)
    if endpoint.disabled_at is not None:
        return
    endpoint.disabled_at = now
    session.flush()
    audit.record(session, actor=admin.actor, action="webhook.disabled",
                 object_type="webhook_endpoint", object_id=endpoint.id)  # fmt: skip


def signing_secrets(endpoint: WebhookEndpoint, *, now: datetime) -> list[str]:
    """The current secret, and the previous one while its grace lasts."""
    found = [secrets.unseal(endpoint.sealed_secret, endpoint_id=endpoint.id)]
    expires = endpoint.previous_secret_expires_at
    if endpoint.sealed_previous_secret and expires is not None and now < expires:
        found.append(secrets.unseal(endpoint.sealed_previous_secret, endpoint_id=endpoint.id))
    return found


@dataclass(frozen=True)
class LoggedDelivery:
    delivery: WebhookDelivery
    event_type: str
    attempts: list[WebhookAttempt]


def delivery_log(
    session: Session, *, viewer: Principal, endpoint_id: str, limit: int
) -> list[LoggedDelivery]:
    """The endpoint's newest deliveries first, each with its tries, oldest try first."""
    endpoint = get_visible(session, viewer=viewer, endpoint_id=endpoint_id)
    rows = session.execute(
        select(WebhookDelivery, WebhookEvent.type)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.endpoint_id == endpoint.id)
        .order_by(WebhookDelivery.audit_seq.desc())
        .limit(limit)
    ).all()
    tries: dict[str, list[WebhookAttempt]] = {}
    for attempt in session.scalars(
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id.in_([d.id for d, _ in rows]))
        .order_by(WebhookAttempt.attempted_at, WebhookAttempt.id)
    ):
        tries.setdefault(attempt.delivery_id, []).append(attempt)
    return [LoggedDelivery(d, kind, tries.get(d.id, [])) for d, kind in rows]


def replay(
    session: Session, *, viewer: Principal, endpoint_id: str, from_event_id: str, now: datetime
) -> int:
    """Every delivery of this endpoint from that event on is sent again, in order, whatever
    became of it; returns how many."""
    endpoint = get_visible(session, viewer=viewer, endpoint_id=endpoint_id)
    # Locked: a prune (mvq.webhooks.retention) skips it, so the event this replay's audit
    # event names is never pruned under it; one already pruned is not found.
    start = session.scalar(
        select(WebhookDelivery.audit_seq)
        .where(
            WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.event_id == from_event_id
        )
        .with_for_update()
    )
    if start is None:
        raise NotFound("this endpoint has no such event", code="unknown_event")
    result = session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.audit_seq >= start)
        .values(status=DeliveryStatus.pending, failures=0, next_attempt_at=now,
                delivered_at=None, version=WebhookDelivery.version + 1)
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    count = int(result.rowcount)  # type: ignore[attr-defined]
    queue.enqueue_after_commit(session, dispatch.delivery_job(endpoint.id))
    audit.record(session, actor=viewer.actor, action="webhook.replayed",
                 object_type="webhook_endpoint", object_id=endpoint.id,
                 data={"from_event_id": from_event_id, "deliveries": count})  # fmt: skip
    return count
