"""Sending one endpoint's deliveries, oldest first, one at a time.

An endpoint's next delivery is its pending one with the lowest audit sequence; while that one
waits for a retry, nothing after it is sent, so a receiver hears of each claim's events in the
order they happened. A delivery is claimed by a conditional UPDATE that also pushes its next
attempt out by CLAIM_SECONDS: a worker that dies mid-send leaves it to be retried then, and
two workers never send the same try. No transaction is open while the request is out.

Receivers may see a delivery twice (a worker killed after the receiver answered, a replay):
`webhook-id` is the event's id on every try, for them to drop repeats.

A try resolves the endpoint's host once, checks every address (mvq.webhooks.addresses) and
connects to a checked one: the URL carries that IP, the `Host` header the endpoint's own, and
for https the TLS SNI and the certificate check use the host name. Redirects are not followed.
The whole try, connecting included, ends within DEADLINE_SECONDS.
"""

import functools
import ipaddress
import json
import ssl
import time
import typing
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpcore
import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from standardwebhooks.webhooks import Webhook

from mvq.db import session_scope, utcnow
from mvq.errors import Invalid
from mvq.settings import get_settings
from mvq.webhooks import addresses, service
from mvq.webhooks.models import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

CLAIM_SECONDS = 60  # well past a try's own DEADLINE_SECONDS
TIMEOUT = httpx.Timeout(10.0, connect=5.0)
# httpx's timeouts are per phase, and a read's is per read: a receiver sending its answer a
# byte at a time could hold a worker for hours. Every connect, read and write of a try is
# therefore also cut short by this deadline, counted from the try's start.
DEADLINE_SECONDS = 10.0
MAX_ERROR = 500
# Per job: a long backlog is sent by the sweeper's next jobs, not one that never ends.
MAX_PER_JOB = 200


@dataclass(frozen=True)
class Claimed:
    delivery_id: str
    endpoint_id: str
    version: int
    failures: int
    url: str
    allow_private_network: bool
    event_id: str
    body: str
    secrets: list[str]


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def body_of(event: WebhookEvent) -> str:
    """The Standard Webhooks shape; the same bytes on every try."""
    envelope = {"type": event.type, "timestamp": event.occurred_at.isoformat(),
                "data": event.payload}  # fmt: skip
    return json.dumps(envelope, sort_keys=True, separators=(",", ":"))


def _claim_next(session: Session, *, endpoint_id: str, now: datetime) -> Claimed | None:
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.disabled_at is not None:
        return None
    delivery = session.scalar(
        select(WebhookDelivery)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.endpoint_id == endpoint_id,
               WebhookDelivery.status == DeliveryStatus.pending)
        .order_by(WebhookDelivery.audit_seq, WebhookEvent.part)
        .limit(1)
    )  # fmt: skip
    if delivery is None or delivery.next_attempt_at > now:
        return None
    claimed = session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery.id, WebhookDelivery.version == delivery.version,
               WebhookDelivery.status == DeliveryStatus.pending)
        .values(version=delivery.version + 1,
                next_attempt_at=now + timedelta(seconds=CLAIM_SECONDS))
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return None
    event = session.get_one(WebhookEvent, delivery.event_id)
    return Claimed(
        delivery_id=delivery.id,
        endpoint_id=endpoint_id,
        version=delivery.version + 1,
        failures=delivery.failures,
        url=endpoint.url,
        allow_private_network=endpoint.allow_private_network,
        event_id=event.id,
        body=body_of(event),
        secrets=service.signing_secrets(endpoint, now=now),
    )


def headers_for(claimed: Claimed, *, now: datetime) -> dict[str, str]:
    # Standard Webhooks: one `v1,<signature>` per secret, space-separated, so a receiver with
    # either the new or the rotated-out secret verifies.
    signatures = " ".join(
        Webhook(secret).sign(claimed.event_id, now, claimed.body) for secret in claimed.secrets
    )
    return {
        "content-type": "application/json",
        "webhook-id": claimed.event_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signatures,
    }


def send(claimed: Claimed, *, now: datetime) -> Outcome:
    started = time.monotonic()
    deadline = started + DEADLINE_SECONDS

    def took() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        # Again at each try: the name may resolve elsewhere than at registration. Once only:
        # the request goes to what was checked (see the module's docstring).
        ips = addresses.deliverable(
            claimed.url,
            allow_private_network=claimed.allow_private_network,
            https_only=service.https_only(),
        )
        status_code = _post(claimed, ips, now=now, deadline=deadline)
    except Invalid as exc:
        return Outcome(None, f"{exc.code}: {exc.message}"[:MAX_ERROR], took())
    except httpx.TimeoutException as exc:
        why = f"no answer within {DEADLINE_SECONDS:g} s" if time.monotonic() >= deadline else exc
        return Outcome(None, f"{type(exc).__name__}: {why}"[:MAX_ERROR], took())
    except httpx.HTTPError as exc:
        return Outcome(None, f"{type(exc).__name__}: {exc}"[:MAX_ERROR], took())
    # A redirect is not followed, and not a delivery: the endpoint should be registered at
    # where it lives.
    error = None if 200 <= status_code < 300 else f"HTTP {status_code}"
    return Outcome(status_code, error, took())


def _post(
    claimed: Claimed, ips: list[addresses.IPAddress], *, now: datetime, deadline: float
) -> int:
    """The status of the POST to the first of `ips` that takes a connection; the body of the
    answer is not read."""
    url = httpx.URL(claimed.url)
    headers = {**headers_for(claimed, now=now), "host": url.netloc.decode("ascii")}
    extensions: dict[str, Any] = {}
    if url.scheme == "https" and not _is_ip(url.host):
        extensions["sni_hostname"] = url.raw_host.decode("ascii")
    body = claimed.body.encode()
    with httpx.Client(transport=transport(deadline), timeout=TIMEOUT, follow_redirects=False,
                      trust_env=False) as client:  # fmt: skip
        for n, ip in enumerate(ips, start=1):
            try:
                with client.stream("POST", url.copy_with(host=str(ip)), headers=headers,
                                   content=body, extensions=extensions) as response:  # fmt: skip
                    return response.status_code
            except httpx.ConnectError:
                if n == len(ips):
                    raise
    raise AssertionError("unreachable: deliverable() returns at least one address")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@functools.cache
def ssl_context() -> ssl.SSLContext:
    """The system's trusted CAs (certifi's), built once per process."""
    return httpx.create_ssl_context(trust_env=False)


def transport(deadline: float) -> httpx.BaseTransport:
    return _DeadlineTransport(deadline, ssl_context())


class _DeadlineTransport(httpx.HTTPTransport):
    def __init__(self, deadline: float, context: ssl.SSLContext) -> None:
        super().__init__(verify=context, trust_env=False)
        # httpx has no parameter for httpcore's network backend; its pool is made again with
        # one (the slow-receiver test in tests/unit/test_webhook_delivery.py would notice if
        # this stopped taking effect).
        self._pool = httpcore.ConnectionPool(
            ssl_context=context, network_backend=_DeadlineBackend(deadline)
        )


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's own sockets, with each operation's timeout cut to what is left until the
    deadline."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self._backend = httpcore.SyncBackend()

    def left(self, timeout: float | None, timed_out: type[Exception]) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise timed_out(f"the try took longer than {DEADLINE_SECONDS:g} s")
        return left if timeout is None else min(timeout, left)

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._backend.connect_tcp(host, port, self.left(timeout, httpcore.ConnectTimeout),
                                           local_address, socket_options)  # fmt: skip
        return _DeadlineStream(stream, self)

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream, backend: _DeadlineBackend) -> None:
        self._stream = stream
        self._backend = backend

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, self._backend.left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, self._backend.left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        left = self._backend.left(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, left),
                               self._backend)  # fmt: skip

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


def backoff(failures: int) -> float | None:
    """The pause after the `failures`-th failed try in a row, or None when retries are used up."""
    schedule = get_settings().webhook_retry_seconds
    return schedule[failures - 1] if failures <= len(schedule) else None


def _record(session: Session, claimed: Claimed, outcome: Outcome, *, at: datetime) -> bool:
    """Stores the try and its consequence; True when the endpoint may go on to the next."""
    now = utcnow()
    values: dict[str, Any]
    if outcome.delivered:
        values = {"status": DeliveryStatus.delivered, "delivered_at": now, "failures": 0}
        verdict, next_at = "delivered", None
    else:
        failures = claimed.failures + 1
        pause = backoff(failures)
        next_at = None if pause is None else now + timedelta(seconds=pause)
        verdict = "failed" if next_at is None else "retry"
        values = {"failures": failures}
        if next_at is None:
            values["status"] = DeliveryStatus.failed
        else:
            values["next_attempt_at"] = next_at
    session.add(WebhookAttempt(
        delivery_id=claimed.delivery_id, endpoint_id=claimed.endpoint_id,
        attempted_at=at, status_code=outcome.status_code, error=outcome.error,
        duration_ms=outcome.duration_ms, outcome=verdict, next_attempt_at=next_at,
    ))  # fmt: skip
    # Only while the delivery is still the one claimed: a replay meanwhile stands.
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == claimed.delivery_id,
               WebhookDelivery.version == claimed.version)
        .values(**values)
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    return verdict != "retry"


def deliver_endpoint(endpoint_id: str) -> int:
    """Sends what is due, in order, until a try fails or nothing is due; returns how many
    deliveries were settled (delivered, or failed for good)."""
    settled = 0
    while settled < MAX_PER_JOB:
        with session_scope() as session:
            claimed = _claim_next(session, endpoint_id=endpoint_id, now=utcnow())
        if claimed is None:
            break
        at = utcnow()
        outcome = send(claimed, now=at)
        with session_scope() as session:
            if not _record(session, claimed, outcome, at=at):
                break
        settled += 1
    return settled
