from datetime import datetime

from pydantic import BaseModel, Field


class ClaimOut(BaseModel):
    item_id: str
    submission_id: str
    lease_token: str
    lease_expires_at: datetime


class DecisionIn(BaseModel):
    lease_token: str = Field(min_length=1, max_length=64)
    decision: str
    target_type: str | None = Field(default=None, max_length=64)
    outcome: str | None = None
    reason_code: str | None = Field(default=None, max_length=40)
    comment: str | None = Field(default=None, max_length=4000)


class DecisionResult(BaseModel):
    decision_id: str
    submission_id: str
    status: str
    points: int | None = None


class HeartbeatIn(BaseModel):
    lease_token: str = Field(min_length=1, max_length=64)


class LeaseOut(BaseModel):
    item_id: str
    lease_expires_at: datetime


class OverturnIn(BaseModel):
    decision: str
    comment: str = Field(min_length=1, max_length=4000)
    reason_code: str | None = Field(default=None, max_length=40)
    target_type: str | None = Field(default=None, max_length=64)
    outcome: str | None = None


class QueueItemOut(BaseModel):
    item_id: str
    submission_id: str
    unit_name: str
    target_type: str
    outcome: str
    points: int | None
    state: str
    senior_only: bool
    needs_second: bool
    waiting_seconds: float
    flags: list[str]


class QueueOut(BaseModel):
    counts: dict[str, int]
    oldest_waiting_seconds: float | None
    items: list[QueueItemOut]


class ReviewerStatsOut(BaseModel):
    reviewer_id: str
    email: str
    decisions: int
    per_hour: float
    median_seconds: float | None
    second_looks: int
    agreed: int
    agreement: float | None
