from datetime import datetime

from pydantic import AwareDatetime, BaseModel, Field


class RuleIn(BaseModel):
    target_type: str = Field(min_length=1, max_length=64)
    outcome: str
    points: int = Field(ge=0, le=100000)


class RuleVersionIn(BaseModel):
    effective_from: AwareDatetime
    rules: list[RuleIn] = Field(min_length=1, max_length=1000)


class RuleVersionOut(BaseModel):
    id: str
    effective_from: datetime
    rules: list[RuleIn]


class RulesOut(BaseModel):
    in_force: RuleVersionOut | None
    history: list[RuleVersionOut]


class LedgerEntryOut(BaseModel):
    id: str
    entry_type: str
    points: int
    submission_id: str | None
    rule_version_id: str | None
    created_at: datetime


class LedgerOut(BaseModel):
    unit_id: str
    balance: int
    entries: list[LedgerEntryOut]


class LeaderboardRow(BaseModel):
    unit_id: str
    unit_name: str
    points: int


class LeaderboardOut(BaseModel):
    since: datetime | None
    until: datetime | None
    units: list[LeaderboardRow]
