from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from mvq.webhooks.events import TYPES

EventType = Literal[
    "submission.processed", "submission.failed", "decision.made", "appeal.decided",
    "ledger.award", "ledger.reversal", "ledger.debit", "ledger.reversed", "dispute.opened",
    "dispute.settled",
]  # fmt: skip
assert set(EventType.__args__) == set(TYPES)  # type: ignore[attr-defined]


class EndpointIn(BaseModel):
    url: str = Field(min_length=1, max_length=2000)
    events: list[EventType] = Field(min_length=1, max_length=len(TYPES))
    unit_id: str | None = Field(default=None, max_length=36)
    allow_private_network: bool = False


class SecretOut(BaseModel):
    """Shown once: at registration and at each rotation."""

    id: str
    secret: str
    previous_secret_expires_at: datetime | None = None


class EndpointOut(BaseModel):
    id: str
    url: str
    unit_id: str | None
    events: list[str]
    allow_private_network: bool
    enabled: bool
    created_at: datetime
    previous_secret_expires_at: datetime | None


class AttemptOut(BaseModel):
    attempted_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int
    outcome: str
    next_attempt_at: datetime | None


class DeliveryOut(BaseModel):
    event_id: str
    type: str
    status: str
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    attempts: list[AttemptOut]


class ReplayIn(BaseModel):
    from_event_id: str = Field(min_length=1, max_length=40)


class ReplayOut(BaseModel):
    replayed: int
