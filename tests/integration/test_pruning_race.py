"""A replay racing a prune on Postgres (SQLite runs one writer at a time, so it cannot race):
whichever takes the replayed delivery first, the audit log never names a pruned event. The
prune first: the replay finds no such event and records nothing. The replay first: the prune
skips what the replay holds, and the event stays."""

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from mvq.audit.models import AuditEvent
from mvq.auth.principal import Principal
from mvq.db import session_factory, utcnow
from mvq.errors import NotFound
from mvq.settings import get_settings
from mvq.webhooks import delivery, retention
from mvq.webhooks import service as webhooks
from mvq.webhooks.models import WebhookDelivery, WebhookEvent
from tests.webhook_rows import Receiver, award, listen, new_unit

KEEP = timedelta(days=get_settings().webhook_retention_days)


@pytest.fixture(scope="module")
def receiver(postgres_database: str) -> Iterator[Receiver]:
    made = Receiver(204)
    yield made
    made.stop()


def delivered_event(receiver: Receiver) -> tuple[Principal, str, str]:
    """A unit, its endpoint, and an event delivered to it."""
    unit = new_unit()
    endpoint = listen(unit, receiver.url)
    event = award(unit)
    assert delivery.deliver_endpoint(endpoint) == 1
    return Principal(kind="unit", id=unit, unit_id=unit), endpoint, event


def replays_named(event_id: str) -> int:
    with session_factory()() as session:
        return int(session.scalar(
            select(func.count()).select_from(AuditEvent).where(
                AuditEvent.action == retention.REPLAYED,
                AuditEvent.data["from_event_id"].as_string() == event_id)
        ) or 0)  # fmt: skip


def test_a_replay_after_the_prune_took_the_event_finds_nothing(receiver: Receiver) -> None:
    unit, endpoint, event = delivered_event(receiver)
    outcome: list[object] = []

    def replay() -> None:
        with session_factory()() as session:
            try:
                outcome.append(webhooks.replay(session, viewer=unit, endpoint_id=endpoint,
                                               from_event_id=event, now=utcnow()))  # fmt: skip
                session.commit()
            except NotFound as exc:
                outcome.append(exc)

    with session_factory()() as pruner:
        pruned = retention.prune_batch(pruner, cutoff=utcnow() + KEEP, limit=1000)
        assert pruned.events >= 1
        racing = threading.Thread(target=replay)
        racing.start()
        racing.join(timeout=1)
        assert racing.is_alive(), "the replay must wait for the prune's lock"
        pruner.commit()
    racing.join(timeout=30)
    assert len(outcome) == 1 and isinstance(outcome[0], NotFound)
    assert replays_named(event) == 0


def test_a_prune_skips_what_a_replay_holds(receiver: Receiver) -> None:
    unit, endpoint, event = delivered_event(receiver)
    with session_factory()() as replaying:
        assert webhooks.replay(replaying, viewer=unit, endpoint_id=endpoint,
                               from_event_id=event, now=utcnow()) == 1  # fmt: skip
        with session_factory()() as pruner:
            retention.prune_batch(pruner, cutoff=utcnow() + KEEP, limit=1000)
            pruner.commit()
        replaying.commit()
    with session_factory()() as session:
        assert session.get(WebhookEvent, event) is not None
        assert session.scalars(
            select(WebhookDelivery.status).where(WebhookDelivery.event_id == event)
        ).all() == ["pending"]
    assert replays_named(event) == 1
