from datetime import datetime
from typing import Annotated, Literal

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
    # The second key: decide although the verdict comes too fast for the footage (409
    # `too_fast` without it).
    override: bool = False


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
    # Pass as `after` for the next page; none when this page is the last.
    next_cursor: str | None = None


class ReviewerStatsOut(BaseModel):
    reviewer_id: str
    email: str
    decisions: int
    per_hour: float
    median_seconds: float | None
    second_looks: int
    agreed: int
    agreement: float | None


class AppealIn(BaseModel):
    reason: str = Field(min_length=1, max_length=4000)


class AppealFiled(BaseModel):
    id: str
    submission_id: str
    status: str
    created_at: datetime


class OriginalDecisionOut(BaseModel):
    decision_id: str
    decision: str
    reviewer_id: str
    reason_code: str | None
    comment: str | None
    decided_at: datetime


class PendingAppealOut(BaseModel):
    id: str
    submission_id: str
    unit_id: str
    reason: str
    created_at: datetime
    target_type: str
    outcome: str
    files_added: int = Field(description="files the unit uploaded with the appeal")
    original_decision: OriginalDecisionOut = Field(description="the rejection appealed against")
    eligible: bool = Field(description="whether the caller may decide it")
    ineligible_reason: str | None = None


class AppealDecisionIn(BaseModel):
    decision: Literal["uphold", "deny"]
    reason: str = Field(min_length=1, max_length=4000)
    target_type: str | None = Field(default=None, max_length=64)
    outcome: str | None = Field(default=None, max_length=20)


class AppealDecided(BaseModel):
    id: str
    submission_id: str
    status: str
    claim_status: str = Field(description="escalated: the approval waits for a second senior")
    decision_id: str | None
    points: int | None = None


class BulkIn(BaseModel):
    """A senior's action on many items: `reason_code` for a rejection, `assignee_id` (a
    reviewer's account id) for a reassignment."""

    item_ids: list[Annotated[str, Field(max_length=36)]] = Field(min_length=1, max_length=500)
    action: Literal["escalate", "reassign", "release", "reject"]
    reason_code: str | None = Field(default=None, max_length=40)
    comment: str | None = Field(default=None, max_length=4000)
    assignee_id: str | None = Field(default=None, max_length=36)


class BulkItemOut(BaseModel):
    item_id: str
    ok: bool
    submission_id: str | None = None
    status: str | None = None
    decision_id: str | None = None
    error: dict[str, str] | None = None  # {code, message} when not done


class BulkOut(BaseModel):
    done: int
    failed: int
    items: list[BulkItemOut]


class NoteIn(BaseModel):
    body: str = Field(min_length=1, max_length=4000)


class NoteOut(BaseModel):
    id: str
    item_id: str
    author: str
    body: str
    mentioned: list[str]
    created_at: datetime
