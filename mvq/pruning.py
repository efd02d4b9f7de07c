"""Removes what is kept only for a while: delivered webhooks past their retention
(mvq.webhooks.retention), and ended sessions and used recovery codes (mvq.auth.retention).

Each batch is its own short transaction, so a backlog of millions never holds a lock for long
and an interrupted prune loses nothing but its place. The sweeper runs a bounded number of
batches each sweep; `mvq prune` runs until nothing is left. Nothing the audit log names goes,
and nothing append-only by design (the ledger, the audit log, decisions) is touched.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from mvq.auth import retention as credentials
from mvq.settings import get_settings
from mvq.webhooks import retention as webhooks


@dataclass(frozen=True)
class PruneReport:
    webhook_attempts: int = 0
    webhook_deliveries: int = 0
    webhook_events: int = 0
    sessions: int = 0
    recovery_codes: int = 0
    batches: int = 0
    # The longest single batch, its commit included: the longest transaction the prune held.
    longest_batch_ms: float = 0.0


@dataclass
class Batches:
    """Runs each kind's `step` (one batch: rows removed, the transaction committed) until a
    batch comes back short or `budget` batches of that kind ran; None: no bound."""

    budget: int | None
    run: int = 0
    longest_ms: float = 0.0

    def drain(self, step: Callable[[], int], *, limit: int) -> None:
        ran = 0
        while self.budget is None or ran < self.budget:
            started = time.perf_counter()
            removed = step()
            self.longest_ms = max(self.longest_ms, (time.perf_counter() - started) * 1000)
            ran += 1
            if removed < limit:
                break
        self.run += ran


def prune(session: Session, *, now: datetime, max_batches: int | None = None) -> PruneReport:
    """Runs up to `max_batches` batches of each kind (None: until done); what went."""
    settings = get_settings()
    limit = settings.prune_batch_rows
    webhook_cutoff = now - timedelta(days=settings.webhook_retention_days)
    credential_cutoff = now - timedelta(days=settings.credential_retention_days)
    batches = Batches(budget=max_batches)
    counts = {"attempts": 0, "deliveries": 0, "events": 0, "sessions": 0, "codes": 0}

    def webhook_step() -> int:
        pruned = webhooks.prune_batch(session, cutoff=webhook_cutoff, limit=limit)
        session.commit()
        counts["attempts"] += pruned.attempts
        counts["deliveries"] += pruned.deliveries
        counts["events"] += pruned.events
        return pruned.deliveries

    def token_step() -> int:
        removed = credentials.prune_tokens_batch(session, cutoff=credential_cutoff, limit=limit)
        session.commit()
        counts["sessions"] += removed
        return removed

    def code_step() -> int:
        removed = credentials.prune_codes_batch(session, cutoff=credential_cutoff, limit=limit)
        session.commit()
        counts["codes"] += removed
        return removed

    for step in (token_step, code_step, webhook_step):
        batches.drain(step, limit=limit)
    return PruneReport(
        webhook_attempts=counts["attempts"],
        webhook_deliveries=counts["deliveries"],
        webhook_events=counts["events"],
        sessions=counts["sessions"],
        recovery_codes=counts["codes"],
        batches=batches.run,
        longest_batch_ms=round(batches.longest_ms, 1),
    )
