"""Webhook rows made by the app's own code, for the pruning tests: receivers on loopback,
units, endpoints registered for their awards, and awards dispatched into webhook events."""

import threading
import uuid
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from sqlalchemy import select

from edge import outcome_words
from mvq import pruning
from mvq.auth import policy
from mvq.auth import service as auth
from mvq.db import session_factory, utcnow
from mvq.scoring import ledger
from mvq.scoring.models import EntryType, LedgerEntry
from mvq.settings import get_settings
from mvq.webhooks import delivery, dispatch
from mvq.webhooks import service as webhooks
from mvq.webhooks.models import WebhookEvent


class Receiver:
    """An HTTP receiver on loopback that answers every POST with `status`."""

    def __init__(self, status: int) -> None:
        answer = status

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["content-length"]))
                self.send_response(answer)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def new_unit() -> str:
    with session_factory()() as session:
        unit, _ = auth.create_unit(session, name=f"unit-{uuid.uuid4().hex[:8]}", actor="test")
        session.commit()
        return unit.id


def listen(unit_id: str, url: str) -> str:
    with session_factory()() as session:
        issued = webhooks.register(session, admin=policy.OPERATOR, url=url,
                                   events=["ledger.award"], unit_id=unit_id,
                                   allow_private_network=True, now=utcnow())  # fmt: skip
        session.commit()
        return issued.endpoint.id


def award(unit_id: str) -> str:
    """A ledger award (its audit event makes a webhook event), dispatched: the event's id."""
    tell = outcome_words.told_to_unit
    with session_factory()() as session:
        entry = LedgerEntry(unit_id=unit_id, entry_type=EntryType.award, points=5)
        ledger.append(session, entry, actor="test")
        session.commit()
        while dispatch.dispatch_batch(session, now=utcnow(), tell=tell) == dispatch.BATCH:
            pass
        made_from = WebhookEvent.payload["ledger_entry_id"].as_string()
        return session.scalars(select(WebhookEvent.id).where(made_from == entry.id)).one()


def delivered_old(count: int, receiver: Receiver) -> tuple[list[str], datetime]:
    """`count` events delivered now, after whatever was left delivered before them went: the
    events, and a moment after their delivery."""
    with session_factory()() as session:
        pruning.prune(session, now=utcnow() + timedelta(days=get_settings().webhook_retention_days))
    unit = new_unit()
    endpoint = listen(unit, receiver.url)
    events = [award(unit) for _ in range(count)]
    assert delivery.deliver_endpoint(endpoint) == count
    return events, utcnow()
