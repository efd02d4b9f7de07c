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
