"""Webhooks end to end, on both databases: receivers started here on loopback (registered by
an admin who allows private networks) hear of a claim's life in order and once, signed by the
Standard Webhooks scheme (checked with the `standardwebhooks` package's own verifier); a
receiver that fails hears of each event again until it accepts; replay re-sends; and only the
right people register, read and replay endpoints."""

import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from deploy import servers
from mvq import queue
from mvq.audit.models import AuditEvent
from mvq.db import session_factory
from mvq.flows import intake
from mvq.review.models import ItemState, ReviewItem
from mvq.submissions.models import Submission, SubmissionStatus
from testkit import harness
from testkit.claims import upload_claim, wait_for_status
from testkit.people import Accounts

EVERY_EVENT = ["submission.processed", "submission.failed", "decision.made", "appeal.decided",
               "ledger.award", "ledger.reversal", "ledger.debit"]  # fmt: skip
BUSY_SECONDS = 20  # a media job that outlasts any delivery


@pytest.fixture(scope="module")
def stack(backing: harness.Backing, database: str) -> Iterator[harness.Stack]:
    # Frequent sweeps (the dispatcher runs in them) and short retry pauses, so a delivery's
    # whole retry schedule fits in seconds. Four-eyes out of the way: one approval pays.
    stack = harness.start_stack(
        backing,
        database,
        sweep_every=0.3,
        extra_env={"MVQ_WEBHOOK_RETRY_SECONDS": "[0.3, 0.3, 0.3, 0.3, 0.3]",
                   "MVQ_FOUR_EYES_POINTS": "100000"},
    )  # fmt: skip
    try:
        yield stack
    finally:
        stack.group.stop()


@dataclass
class Received:
    headers: dict[str, str]
    body: str
    status: int

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)  # type: ignore[no-any-return]

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]


@dataclass
class Receiver:
    """An HTTP receiver on loopback that answers 500 to its first `failures` requests."""

    failures: int = 0
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/mvq"

    def start(self) -> "Receiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"])).decode()
                with receiver.lock:
                    status = 500 if len(receiver.received) < receiver.failures else 204
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    receiver.received.append(Received(headers, body, status))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        assert self.server is not None
        self.server.shutdown()
        self.server.server_close()

    def accepted(self) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.status < 300]

    def wait_for(self, count: int, *, what: str) -> list[Received]:
        harness.wait_until(lambda: len(self.accepted()) >= count, timeout=60, what=what)
        return self.accepted()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver().start()
    yield receiver
    receiver.stop()


def register(stack: harness.Stack, admin: str, url: str, *, unit_id: str | None,
             events: list[str] = EVERY_EVENT) -> tuple[str, str]:  # fmt: skip
    with stack.client(admin) as api:
        made = api.post("/api/v1/webhooks", json={"url": url, "events": events, "unit_id": unit_id,
                                                  "allow_private_network": True})  # fmt: skip
    assert made.status_code == 201, made.text
    return made.json()["id"], made.json()["secret"]


def verified(received: Received, *secrets: str) -> dict[str, Any]:
    """The event, after each secret verified its signature (the package's own verifier)."""
    for secret in secrets:
        Webhook(secret).verify(received.body, received.headers)
    return received.event


def reject_in_queue(stack: harness.Stack, unit_id: str, reviewer: str) -> str:
    """A claim of `unit_id` put in the queue directly and rejected over the API; the rest of
    the queue is set aside first, so it is the one the reviewer leases."""
    with session_factory()() as session:
        session.query(ReviewItem).filter(
            ReviewItem.state.in_(["pending", "leased", "escalated"])
        ).update({"state": ItemState.decided}, synchronize_session=False)
        submission = Submission(unit_id=unit_id, status=SubmissionStatus.in_queue,
                                target_type="tank", outcome="destroyed",
                                occurred_at=datetime.now(UTC) - timedelta(hours=2))  # fmt: skip
        session.add(submission)
        session.flush()
        intake.queue_for_review(session, submission=submission)
        session.commit()
    decide(stack, reviewer, submission.id, "reject")
    return submission.id


def decide(stack: harness.Stack, reviewer: str, submission_id: str, decision: str) -> None:
    with stack.client(reviewer) as api:
        lease = api.post("/api/v1/review/claim")
        assert lease.status_code == 200, lease.text
        assert lease.json()["submission_id"] == submission_id
        body = {"lease_token": lease.json()["lease_token"], "decision": decision}
        if decision == "reject":
            body |= {"reason_code": "not_visible", "comment": "nothing burns"}
        done = api.post(f"/api/v1/review/{lease.json()['item_id']}/decision", json=body)
        assert done.status_code == 200, done.text


def claim_of(event: dict[str, Any]) -> str | None:
    return event["data"].get("submission_id")  # type: ignore[no-any-return]


def test_a_claims_life_arrives_in_order_once_and_signed(
    stack: harness.Stack, accounts: Accounts, tank_clip: Path, tmp_path: Path,
    receiver: Receiver,
) -> None:  # fmt: skip
    admin = accounts.staff_tokens["admin"]
    market = Receiver().start()
    other = Receiver().start()
    try:
        _, secret = register(stack, admin, receiver.url, unit_id=accounts.unit_id)
        _, market_secret = register(stack, admin, market.url, unit_id=None)
        register(stack, admin, other.url, unit_id=accounts.other_unit_id)

        approved = upload_claim(stack, accounts.unit_token, tank_clip)
        wait_for_status(stack, accounts.unit_token, approved, "in_queue")
        decide(stack, accounts.staff_tokens["reviewer"], approved, "approve")
        junk = tmp_path / "not-a-video.mp4"
        junk.write_bytes(b"\x00\x01 this is no video at all " * 400)
        failed = upload_claim(stack, accounts.unit_token, junk)
        wait_for_status(stack, accounts.unit_token, failed, "failed")
        with stack.client(accounts.staff_tokens["marketplace"]) as api:
            spent = api.post(f"/api/v1/units/{accounts.unit_id}/debits", json={"points": 15},
                             headers={"Idempotency-Key": uuid.uuid4().hex})  # fmt: skip
            assert spent.status_code == 201, spent.text

        got = receiver.wait_for(5, what="the unit's five events")[:5]
        # Nothing may arrive twice. An endpoint's deliveries go out one at a time, oldest first,
        # and nothing passes one still waiting: so once a later event (one more debit) has
        # arrived, every earlier delivery is settled, and any second try of one came before it.
        with stack.client(accounts.staff_tokens["marketplace"]) as api:
            sentinel = api.post(f"/api/v1/units/{accounts.unit_id}/debits", json={"points": 1},
                                headers={"Idempotency-Key": uuid.uuid4().hex})  # fmt: skip
            assert sentinel.status_code == 201, sentinel.text
        receiver.wait_for(6, what="the sentinel debit, after the five")
        assert len(receiver.received) == 6, [r.event for r in receiver.received]
        assert receiver.received[5].event["data"]["points"] == -1
        events = [verified(r, secret) for r in got]
        assert len({r.id for r in got}) == 5

        def life_of(claim: str) -> list[tuple[str, str | None]]:
            data = [e for e in events if claim_of(e) == claim]
            return [(e["type"], e["data"].get("status") or e["data"].get("decision")) for e in data]

        assert life_of(approved) == [
            ("submission.processed", "in_queue"),
            ("decision.made", "approve"),
            ("ledger.award", None),
        ]
        assert life_of(failed) == [("submission.failed", "failed")]
        award = next(e for e in events if e["type"] == "ledger.award")["data"]
        assert award["points"] == 40 and award["unit_id"] == accounts.unit_id
        debit = events[-1]
        assert debit["type"] == "ledger.debit" and debit["data"]["points"] == -15
        failure = next(e for e in events if e["type"] == "submission.failed")["data"]
        assert failure["failures"] and all(f["reason"] for f in failure["failures"])
        for r in got:
            assert "://" not in r.body and "s3" not in r.body.lower(), r.body
            assert set(r.event) == {"type", "timestamp", "data"}

        # The marketplace hears of the same events; the other unit's endpoint of none.
        market_got = market.wait_for(6, what="the marketplace's five events and the sentinel")
        assert len(market.received) == 6 and market_got[5].id == receiver.received[5].id
        market_got = market_got[:5]
        assert [r.id for r in market_got] == [r.id for r in got]
        assert [verified(r, market_secret)["data"] for r in market_got] == [
            e["data"] for e in events
        ]
        assert other.received == []
        with pytest.raises(WebhookVerificationError):
            Webhook(market_secret).verify(got[0].body, got[0].headers)
    finally:
        market.stop()
        other.stop()


def test_a_failing_receiver_gets_each_event_once_accepted_and_the_log_shows_why(
    stack: harness.Stack, accounts: Accounts
) -> None:
    admin = accounts.staff_tokens["admin"]
    receiver = Receiver(failures=3).start()
    try:
        endpoint, first_secret = register(
            stack, admin, receiver.url, unit_id=accounts.other_unit_id, events=["decision.made"]
        )
        with stack.client(admin) as api:
            rotated = api.post(f"/api/v1/webhooks/{endpoint}/rotate")
        assert rotated.status_code == 200, rotated.text
        second_secret = rotated.json()["secret"]
        assert second_secret != first_secret and second_secret.startswith("whsec_")

        reviewer = accounts.staff_tokens["reviewer"]
        claims = [reject_in_queue(stack, accounts.other_unit_id, reviewer) for _ in range(2)]
        got = receiver.wait_for(2, what="both decisions, once accepted")[:2]
        # A third decision, as a sentinel: deliveries go out oldest first and nothing passes
        # one still waiting, so when it arrives the first two are settled, and a second try
        # of either came before it.
        claims.append(reject_in_queue(stack, accounts.other_unit_id, reviewer))
        sentinel = receiver.wait_for(3, what="the third decision, after both")[2]
        assert [claim_of(r.event) for r in [*got, sentinel]] == claims
        assert len(receiver.received) == 6  # three refused tries, then one each
        # The first event, tried until accepted: the same id and body each time, and in the
        # grace period both the new and the rotated-out secret verify every try.
        assert {r.id for r in receiver.received[:4]} == {got[0].id}
        assert len({r.body for r in receiver.received[:4]}) == 1
        for r in receiver.received:
            verified(r, first_secret, second_secret)
            assert len(r.headers["webhook-signature"].split(" ")) == 2

        with stack.client(admin) as api:
            log = api.get(f"/api/v1/webhooks/{endpoint}/deliveries")
        assert log.status_code == 200, log.text
        last, newest, oldest = log.json()
        assert [oldest["event_id"], newest["event_id"], last["event_id"]] == [
            got[0].id, got[1].id, sentinel.id]  # fmt: skip
        assert oldest["status"] == newest["status"] == last["status"] == "delivered"
        assert [a["status_code"] for a in oldest["attempts"]] == [500, 500, 500, 204]
        assert [a["outcome"] for a in oldest["attempts"]] == ["retry"] * 3 + ["delivered"]
        assert all(a["next_attempt_at"] for a in oldest["attempts"][:3])
        assert oldest["attempts"][0]["error"] == "HTTP 500"
        assert all(a["duration_ms"] >= 0 for a in oldest["attempts"])
        assert [a["status_code"] for a in newest["attempts"]] == [204]

        # Replay from the first event: both again, in order, with their own ids.
        with stack.client(accounts.other_unit_token) as unit:
            again = unit.post(f"/api/v1/webhooks/{endpoint}/replay",
                              json={"from_event_id": got[0].id})  # fmt: skip
        assert again.status_code == 202 and again.json() == {"replayed": 3}, again.text
        replayed = receiver.wait_for(6, what="the replay")[3:]
        assert [r.id for r in replayed] == [r.id for r in [*got, sentinel]]
        assert [r.body for r in replayed] == [r.body for r in [*got, sentinel]]
        with stack.client(admin) as api:
            again = api.post(f"/api/v1/webhooks/{endpoint}/replay",
                             json={"from_event_id": got[1].id})  # fmt: skip
        assert again.json() == {"replayed": 2}
        again_ids = [r.id for r in receiver.wait_for(8, what="the second replay")[6:]]
        assert again_ids == [got[1].id, sentinel.id]

        with session_factory()() as session:
            logged = session.scalars(select(AuditEvent).where(
                AuditEvent.object_id == endpoint).order_by(AuditEvent.seq)).all()  # fmt: skip
        assert [e.action for e in logged] == ["webhook.registered", "webhook.secret_rotated",
                                              "webhook.replayed", "webhook.replayed"]  # fmt: skip
        for secret in (first_secret, second_secret):
            assert secret.removeprefix("whsec_") not in json.dumps([e.data for e in logged])
    finally:
        receiver.stop()


def error_code(response: httpx.Response) -> str:
    return str(response.json()["error"]["code"])


def test_who_may_register_read_replay_and_where_to(
    stack: harness.Stack, accounts: Accounts, receiver: Receiver
) -> None:
    admin = accounts.staff_tokens["admin"]
    body = {"url": receiver.url, "events": ["ledger.award"], "unit_id": accounts.unit_id}
    with stack.client(admin) as api:
        private = api.post("/api/v1/webhooks", json=body)
        assert private.status_code == 422 and error_code(private) == "endpoint_not_allowed"
        for url in ("http://localhost:9/x", "http://[::1]:9/x", "http://169.254.169.254/x",
                    "http://[::ffff:10.0.0.1]/x", "ftp://example.org/x"):  # fmt: skip
            refused = api.post("/api/v1/webhooks", json=body | {"url": url})
            assert refused.status_code == 422, url
            assert error_code(refused) == "endpoint_not_allowed", url
        unknown = api.post("/api/v1/webhooks", json=body | {"events": ["media.viewed"]})
        assert unknown.status_code == 422
    for role in ("reviewer", "senior", "auditor", "marketplace"):
        with stack.client(accounts.staff_tokens[role]) as api:
            assert api.post("/api/v1/webhooks", json=body).status_code == 403, role
    with stack.client(accounts.unit_token) as api:
        assert api.post("/api/v1/webhooks", json=body).status_code == 403

    mine, _ = register(stack, admin, receiver.url, unit_id=accounts.unit_id)
    theirs, _ = register(stack, admin, receiver.url, unit_id=accounts.other_unit_id)
    market, _ = register(stack, admin, receiver.url, unit_id=None)
    with stack.client(accounts.unit_token) as unit:
        listed = {e["id"] for e in unit.get("/api/v1/webhooks").json()}
        assert mine in listed and theirs not in listed and market not in listed
        assert unit.get(f"/api/v1/webhooks/{mine}").status_code == 200
        for path in (f"/api/v1/webhooks/{theirs}", f"/api/v1/webhooks/{theirs}/deliveries",
                     f"/api/v1/webhooks/{market}/deliveries"):  # fmt: skip
            assert unit.get(path).status_code == 404, path
        replay = unit.post(f"/api/v1/webhooks/{theirs}/replay", json={"from_event_id": "msg_x"})
        assert replay.status_code == 404
        assert unit.post(f"/api/v1/webhooks/{mine}/rotate").status_code == 403
        assert unit.delete(f"/api/v1/webhooks/{mine}").status_code == 403
    with stack.client(accounts.staff_tokens["marketplace"]) as api:
        listed = {e["id"] for e in api.get("/api/v1/webhooks").json()}
        assert market in listed and mine not in listed and theirs not in listed
        assert api.get(f"/api/v1/webhooks/{mine}/deliveries").status_code == 404
    with stack.client(accounts.staff_tokens["reviewer"]) as api:
        assert api.get("/api/v1/webhooks").json() == []
        assert api.get(f"/api/v1/webhooks/{mine}").status_code == 404
    with stack.client(admin) as api:
        listed = {e["id"] for e in api.get("/api/v1/webhooks").json()}
        assert {mine, theirs, market} <= listed
        shown = api.get(f"/api/v1/webhooks/{mine}").json()
        assert "secret" not in shown and "whsec_" not in json.dumps(shown)
        assert api.delete(f"/api/v1/webhooks/{theirs}").status_code == 204
        assert api.get(f"/api/v1/webhooks/{theirs}").json()["enabled"] is False


def test_a_delivery_out_of_retries_is_failed_the_next_goes_and_replay_brings_it_back(
    stack: harness.Stack, accounts: Accounts
) -> None:
    tries = 1 + 5  # MVQ_WEBHOOK_RETRY_SECONDS has five pauses
    receiver = Receiver(failures=tries).start()
    try:
        endpoint, _ = register(
            stack, accounts.staff_tokens["admin"], receiver.url,
            unit_id=accounts.other_unit_id, events=["decision.made"],
        )  # fmt: skip
        reviewer = accounts.staff_tokens["reviewer"]
        claims = [reject_in_queue(stack, accounts.other_unit_id, reviewer) for _ in range(2)]
        second = receiver.wait_for(1, what="the second event, after the first gave up")
        assert [claim_of(r.event) for r in second] == claims[1:]
        refused = receiver.received[:tries]
        assert len({r.id for r in refused}) == 1 and refused[0].id != second[0].id
        with stack.client(accounts.other_unit_token) as unit:
            newest, oldest = unit.get(f"/api/v1/webhooks/{endpoint}/deliveries").json()
            assert oldest["status"] == "failed" and oldest["next_attempt_at"] is None
            assert [a["outcome"] for a in oldest["attempts"]] == ["retry"] * 5 + ["failed"]
            assert newest["status"] == "delivered"
            again = unit.post(f"/api/v1/webhooks/{endpoint}/replay",
                              json={"from_event_id": refused[0].id})  # fmt: skip
            assert again.json() == {"replayed": 2}
        replayed = receiver.wait_for(3, what="the replay")[1:]
        assert [r.id for r in replayed] == [refused[0].id, second[0].id]
    finally:
        receiver.stop()


def test_a_delivery_does_not_wait_behind_media_processing(
    stack: harness.Stack, accounts: Accounts, receiver: Receiver
) -> None:
    """The stack's one worker is busy with a long job on the media queue; a worker on the
    webhooks queue alone, as the dev runner and the manifests start one, delivers meanwhile."""
    stack.group.start("worker-webhooks", servers.mvq_argv("worker", "webhooks"), env=stack.env,
                      log_dir=stack.logs, cwd=harness.ROOT)  # fmt: skip
    busy = queue.queue(queue.MEDIA_QUEUE).enqueue(
        "time.sleep", BUSY_SECONDS, job_id=f"busy-{uuid.uuid4().hex}", job_timeout=60
    )
    harness.wait_until(lambda: busy.get_status(refresh=True) == "started", timeout=30,
                       interval=0.1, what="the media worker busy")  # fmt: skip
    register(stack, accounts.staff_tokens["admin"], receiver.url,
             unit_id=accounts.other_unit_id, events=["decision.made"])  # fmt: skip
    claim = reject_in_queue(stack, accounts.other_unit_id, accounts.staff_tokens["reviewer"])
    harness.wait_until(receiver.accepted, timeout=BUSY_SECONDS - 5, interval=0.1,
                       what="the delivery, while media processing goes on")  # fmt: skip
    assert busy.get_status(refresh=True) == "started"
    assert [claim_of(r.event) for r in receiver.accepted()] == [claim]
