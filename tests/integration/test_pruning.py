"""Pruning (issue 33), on both databases: webhooks delivered before the retention's cutoff go
with their tries and, with their last delivery, their events; what was delivered since, what
is pending, failing or failed, and what the audit log names (an event a replay started from)
stays. Sessions and sign-in tokens that ended before the credentials' cutoff go, live and
recent ones stay, and so do a unit's tokens; recovery codes used before the cutoff go, and an
unused one still works. The sweeper prunes in bounded batches and reports what went; `mvq
prune` prints it. The database itself refuses to delete a row that must stay.

Every row is made by the app's own code: webhooks registered, dispatched from real audit
events and delivered over HTTP to receivers on loopback; sessions issued and ended, codes
enrolled and used. Rows can't be made in the past, so the prune runs in the future instead:
at `cutoff + retention`, where `cutoff` is a moment taken between the "old" rows and the
"new" ones."""

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from cli import app as cli_app
from edge import outcome_words
from mvq import pruning, sweeper
from mvq.auth import second_factor
from mvq.auth import service as auth
from mvq.auth.models import ApiToken, RecoveryCode, Role, StaffUser
from mvq.auth.principal import Principal
from mvq.db import session_factory, utcnow
from mvq.errors import Unauthenticated
from mvq.settings import get_settings
from mvq.webhooks import delivery
from mvq.webhooks import service as webhooks
from mvq.webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEvent
from tests.webhook_rows import Receiver, award, delivered_old, listen, new_unit

WEBHOOK_DAYS = get_settings().webhook_retention_days
CREDENTIAL_DAYS = get_settings().credential_retention_days


@pytest.fixture(scope="module")
def receivers() -> Iterator[dict[int, Receiver]]:
    made = {status: Receiver(status) for status in (204, 500)}
    yield made
    for receiver in made.values():
        receiver.stop()


def deliveries_of(session: Session, event_id: str) -> dict[str, str]:
    rows = session.execute(
        select(WebhookDelivery.endpoint_id, WebhookDelivery.status).where(
            WebhookDelivery.event_id == event_id
        )
    )
    return {endpoint: status for endpoint, status in rows}


def attempts_of(session: Session, event_id: str) -> int:
    return int(session.scalar(
        select(func.count()).select_from(WebhookAttempt)
        .join(WebhookDelivery, WebhookDelivery.id == WebhookAttempt.delivery_id)
        .where(WebhookDelivery.event_id == event_id)
    ) or 0)  # fmt: skip


def event_exists(session: Session, event_id: str) -> bool:
    return session.get(WebhookEvent, event_id) is not None


@dataclass
class Webhooks:
    old: list[str]  # delivered before the cutoff to `ok` only: go
    new: str  # delivered to `ok` after the cutoff: stays
    shared: str  # delivered to `ok`, failing at `failing`: the delivery to `ok` goes
    failed: str  # failed for good: stays
    pending: str  # never tried: stays
    replayed: str  # a replay started from it: stays, with its delivery and tries
    after_replayed: str  # delivered again by that replay, before the cutoff: goes
    ok: str
    failing: str
    report: pruning.PruneReport


@pytest.fixture(scope="module")
def pruned_webhooks(
    database: str, receivers: dict[int, Receiver]
) -> Iterator[Webhooks]:  # fmt: skip
    # Anything an earlier test left delivered goes first, so the counts below are this test's.
    with session_factory()() as session:
        pruning.prune(session, now=utcnow() + timedelta(days=WEBHOOK_DAYS))
    unit, shared_unit, failed_unit, idle_unit, replay_unit = (new_unit() for _ in range(5))
    ok = listen(unit, receivers[204].url)
    ok_shared = listen(shared_unit, receivers[204].url)
    failing = listen(shared_unit, receivers[500].url)
    gives_up = listen(failed_unit, receivers[500].url)
    listen(idle_unit, receivers[204].url)
    replay_to = listen(replay_unit, receivers[204].url)

    old = [award(unit) for _ in range(3)]
    shared = award(shared_unit)
    failed = award(failed_unit)
    pending = award(idle_unit)
    replayed, after_replayed = award(replay_unit), award(replay_unit)
    for endpoint in (ok, ok_shared, failing, replay_to):
        delivery.deliver_endpoint(endpoint)
    get_settings.cache_clear()
    with pytest.MonkeyPatch.context() as patch:  # no retries: the first failure is final
        patch.setenv("MVQ_WEBHOOK_RETRY_SECONDS", "[]")
        delivery.deliver_endpoint(gives_up)
    get_settings.cache_clear()
    the_unit = Principal(kind="unit", id=replay_unit, unit_id=replay_unit)
    with session_factory()() as session:
        assert webhooks.replay(session, viewer=the_unit, endpoint_id=replay_to,
                               from_event_id=replayed, now=utcnow()) == 2  # fmt: skip
        session.commit()
    delivery.deliver_endpoint(replay_to)

    cutoff = utcnow()
    new = award(unit)
    delivery.deliver_endpoint(ok)
    with session_factory()() as session:
        assert deliveries_of(session, new) == {ok: DeliveryStatus.delivered}
        assert deliveries_of(session, shared) == {ok_shared: DeliveryStatus.delivered,
                                                  failing: DeliveryStatus.pending}  # fmt: skip
        assert deliveries_of(session, failed) == {gives_up: DeliveryStatus.failed}
        assert attempts_of(session, replayed) == 2

    get_settings.cache_clear()
    with pytest.MonkeyPatch.context() as patch:  # two rows a batch: several batches
        patch.setenv("MVQ_PRUNE_BATCH_ROWS", "2")
        with session_factory()() as session:
            report = pruning.prune(session, now=cutoff + timedelta(days=WEBHOOK_DAYS))
    get_settings.cache_clear()
    yield Webhooks(old, new, shared, failed, pending, replayed, after_replayed, ok, failing,
                   report)  # fmt: skip


def test_delivered_webhooks_go_after_their_retention_and_the_rest_stays(
    pruned_webhooks: Webhooks,
) -> None:
    hooks = pruned_webhooks
    with session_factory()() as session:
        for gone in [*hooks.old, hooks.after_replayed]:
            assert not event_exists(session, gone)
            assert deliveries_of(session, gone) == {}
        assert deliveries_of(session, hooks.new) == {hooks.ok: DeliveryStatus.delivered}
        assert attempts_of(session, hooks.new) == 1
        # Its delivery to `ok` went; the one still failing keeps it and its try.
        assert deliveries_of(session, hooks.shared) == {hooks.failing: DeliveryStatus.pending}
        assert attempts_of(session, hooks.shared) == 1
        assert event_exists(session, hooks.shared)
        assert [*deliveries_of(session, hooks.failed).values()] == [DeliveryStatus.failed]
        assert attempts_of(session, hooks.failed) == 1
        assert [*deliveries_of(session, hooks.pending).values()] == [DeliveryStatus.pending]
        # Named by the replay's audit event: kept whole, though delivered long before.
        assert [*deliveries_of(session, hooks.replayed).values()] == [DeliveryStatus.delivered]
        assert attempts_of(session, hooks.replayed) == 2
    # Three old and one after the replay (a try each, that one two), the shared one's (one).
    assert (hooks.report.webhook_deliveries, hooks.report.webhook_events) == (5, 4)
    assert hooks.report.webhook_attempts == 6
    assert hooks.report.batches >= 3


def test_the_database_refuses_to_delete_what_must_stay(pruned_webhooks: Webhooks) -> None:
    hooks = pruned_webhooks
    with session_factory()() as session:
        failing = session.scalars(
            select(WebhookDelivery.id).where(WebhookDelivery.event_id == hooks.shared)
        ).one()
        replayed = session.scalars(
            select(WebhookDelivery.id).where(WebhookDelivery.event_id == hooks.replayed)
        ).one()
        session.rollback()

    def leave_the_replayed_event_alone(session: Session) -> None:
        """Its delivery and tries may go by hand (delivered; deliveries have no trigger), so
        only the audit log's word keeps the event."""
        session.execute(text("DELETE FROM webhook_attempts WHERE delivery_id = :d"),
                        {"d": replayed})  # fmt: skip
        session.execute(text("DELETE FROM webhook_deliveries WHERE id = :d"), {"d": replayed})

    for refused, args in (
        ("DELETE FROM webhook_attempts WHERE delivery_id = :d", {"d": failing}),
        ("DELETE FROM webhook_events WHERE id = :e", {"e": hooks.shared}),
        ("DELETE FROM webhook_events WHERE id = :e", {"e": hooks.replayed}),
        ("UPDATE webhook_events SET type = 'x' WHERE id = :e", {"e": hooks.new}),
        ("UPDATE webhook_attempts SET error = 'x'", {}),
    ):
        with session_factory()() as session:
            leave_the_replayed_event_alone(session)
            with pytest.raises(DBAPIError, match="append-only"):
                session.execute(text(refused), args)
            session.rollback()


@dataclass
class Credentials:
    gone_tokens: set[str]
    kept_tokens: set[str]
    gone_codes: set[str]
    kept_codes: set[str]
    unused_code: str
    pruned_code: str
    person: str
    at: datetime
    report: pruning.PruneReport


@pytest.fixture(scope="module")
def pruned_credentials(database: str) -> Credentials:
    # The prune runs at `at`; rows are made relative to it (every step here takes `now`).
    at = utcnow() + timedelta(days=WEBHOOK_DAYS)
    old = at - timedelta(days=CREDENTIAL_DAYS + 1)
    recent = at - timedelta(days=CREDENTIAL_DAYS - 1)
    session_length = timedelta(hours=get_settings().session_hours)
    unit = new_unit()
    with session_factory()() as session:
        pruning.prune(session, now=at)  # what earlier tests left; the report below is ours
        user, _ = auth.create_user(session, email=f"r-{uuid.uuid4().hex[:8]}@test.mvq",
                                   role=Role.reviewer, unit_id=None, actor="test")  # fmt: skip

        def issue(now: datetime, purpose: str = "session") -> tuple[str, str]:
            token = auth.issue_staff_token(session, user=user, now=now, second_factor=False,
                                           purpose=purpose)  # fmt: skip
            row = session.scalars(
                select(ApiToken.id).where(ApiToken.token_hash == auth.hash_token(token))
            ).one()
            return token, row

        _, expired_long_ago = issue(old - session_length)
        _, api_expired_long_ago = issue(old - session_length, purpose="api")
        logged_out, logged_out_long_ago = issue(old - timedelta(hours=1))
        auth.end_session(session, token=logged_out, now=old)
        _, recently_expired = issue(recent - session_length)
        _, live = issue(at)
        unit_tokens = set(session.scalars(select(ApiToken.id).where(ApiToken.unit_id == unit)))
        auth.revoke_unit_tokens(session, unit_id=unit, actor="test", now=old - session_length)

        secret = second_factor.pending_secret(session, user=user)
        codes = second_factor.enrol(session, user=user, code=pyotp.TOTP(secret).now(),
                                    client="test", now=utcnow())  # fmt: skip
        for code, when in ((codes[0], old), (codes[1], recent)):
            second_factor.verify(session, user=user, code=code, client="test", now=when,
                                 via="test")  # fmt: skip
        session.commit()
        used = dict(session.execute(
            select(RecoveryCode.used_at, RecoveryCode.id).where(RecoveryCode.user_id == user.id,
                                                                RecoveryCode.used_at.is_not(None))
        ).all())  # fmt: skip
        unused = set(session.scalars(select(RecoveryCode.id).where(
            RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))))  # fmt: skip
        report = pruning.prune(session, now=at)
    return Credentials(
        gone_tokens={expired_long_ago, api_expired_long_ago, logged_out_long_ago},
        kept_tokens={recently_expired, live, *unit_tokens},
        gone_codes={used[old]},
        kept_codes={used[recent], *unused},
        unused_code=codes[2],
        pruned_code=codes[0],
        person=user.id,
        at=at,
        report=report,
    )


def test_ended_sessions_and_used_codes_go_and_the_rest_stays(
    pruned_credentials: Credentials,
) -> None:
    made = pruned_credentials
    with session_factory()() as session:
        tokens = set(session.scalars(select(ApiToken.id).where(
            ApiToken.id.in_(made.gone_tokens | made.kept_tokens))))  # fmt: skip
        codes = set(session.scalars(select(RecoveryCode.id).where(
            RecoveryCode.user_id == made.person)))  # fmt: skip
    assert tokens == made.kept_tokens
    assert codes == made.kept_codes
    assert (made.report.sessions, made.report.recovery_codes) == (3, 1)


def test_a_pruned_code_stays_used_and_an_unused_one_still_works(
    pruned_credentials: Credentials,
) -> None:
    made = pruned_credentials
    with session_factory()() as session:
        user = session.get_one(StaffUser, made.person)
        with pytest.raises(Unauthenticated):
            second_factor.verify(session, user=user, code=made.pruned_code, client="test",
                                 now=made.at, via="test")  # fmt: skip
        session.rollback()
        second_factor.verify(session, user=user, code=made.unused_code, client="test",
                             now=made.at, via="test")  # fmt: skip
        session.rollback()


def test_the_sweeper_prunes_a_few_batches_each_sweep_and_says_so(
    database: str, receivers: dict[int, Receiver], monkeypatch: pytest.MonkeyPatch
) -> None:
    events, cutoff = delivered_old(3, receivers[204])
    monkeypatch.setenv("MVQ_PRUNE_BATCH_ROWS", "1")
    monkeypatch.setenv("MVQ_PRUNE_BATCHES_PER_SWEEP", "2")
    get_settings.cache_clear()
    try:
        reports = []
        for _ in range(3):
            with session_factory()() as session:
                reports.append(sweeper.sweep(session, now=cutoff + timedelta(days=WEBHOOK_DAYS),
                                             stuck_after=timedelta(minutes=1),
                                             tell=outcome_words.told_to_unit))  # fmt: skip
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert [r.pruned_webhook_deliveries for r in reports] == [2, 1, 0]
    assert [r.pruned_webhook_events for r in reports] == [2, 1, 0]
    assert [r.pruned_webhook_attempts for r in reports] == [2, 1, 0]
    with session_factory()() as session:
        assert not any(event_exists(session, e) for e in events)


def test_mvq_prune_prints_what_went(
    database: str, receivers: dict[int, Receiver], monkeypatch: pytest.MonkeyPatch
) -> None:
    events, _ = delivered_old(2, receivers[204])
    # About 0.1 s: the command prunes as of now, and these were delivered a moment ago.
    monkeypatch.setenv("MVQ_WEBHOOK_RETENTION_DAYS", str(0.1 / 86400))
    get_settings.cache_clear()
    time.sleep(0.2)
    try:
        ran = CliRunner().invoke(cli_app.app, ["prune"])
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert ran.exit_code == 0, ran.output
    printed = json.loads(ran.output)
    assert (printed["webhook_deliveries"], printed["webhook_events"]) == (2, 2)
    assert printed["batches"] >= 3 and printed["longest_batch_ms"] > 0
    with session_factory()() as session:
        assert not any(event_exists(session, e) for e in events)
