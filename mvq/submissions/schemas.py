from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, Field


class SubmissionCreate(BaseModel):
    target_type: str = Field(min_length=1, max_length=64)
    outcome: str = Field(min_length=1, max_length=20)
    occurred_at: AwareDatetime
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    note: str | None = Field(default=None, max_length=4000)


class SubmissionCreated(BaseModel):
    id: str
    status: str


class FlagOut(BaseModel):
    kind: str
    media_id: str | None
    evidence: dict[str, Any]


class FrameOut(BaseModel):
    index: int
    t_seconds: float
    width: int
    height: int
    pdq: str
    pdq_quality: int


class MediaOut(BaseModel):
    id: str
    status: str
    filename: str
    content_type: str
    size: int
    sha256: str | None
    failure_reason: str | None = None
    metadata: dict[str, Any]
    frames: list[FrameOut]
    flags: list[FlagOut]


class DecisionOut(BaseModel):
    decision: str
    target_type: str
    outcome: str
    reason_code: str | None
    decided_at: datetime


class SubmissionOut(BaseModel):
    id: str
    unit_id: str
    status: str
    target_type: str
    outcome: str
    occurred_at: datetime
    lat: float | None
    lon: float | None
    note: str | None
    created_at: datetime
    media: list[MediaOut]
    flags: list[FlagOut]
    decision: DecisionOut | None = None
    points: int | None = None


class SubmissionSummary(BaseModel):
    id: str
    unit_id: str
    status: str
    target_type: str
    outcome: str
    occurred_at: datetime
    created_at: datetime


class SubmissionPage(BaseModel):
    items: list[SubmissionSummary]
    total: int
    limit: int
    offset: int


class MatchOut(BaseModel):
    media_id: str = Field(description="this claim's media that matched")
    kind: str
    other_media_id: str
    submission_id: str = Field(description="the claim holding the other copy")
    unit_id: str
    submission_status: str
    share_this: float | None = None
    share_other: float | None = None
    min_distance: int | None = None
    signals: list[str] = Field(default_factory=list)
    frame_pairs: list[dict[str, Any]] = Field(default_factory=list)


class MatchesOut(BaseModel):
    submission_id: str
    matches: list[MatchOut]
