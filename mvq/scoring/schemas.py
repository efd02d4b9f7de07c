from datetime import datetime

from pydantic import BaseModel, Field

from mvq.submissions.schemas import BoundedDatetime


class RuleIn(BaseModel):
    target_type: str = Field(min_length=1, max_length=64)
    outcome: str
    points: int = Field(ge=0, le=100000)


class RuleVersionIn(BaseModel):
    effective_from: BoundedDatetime
    rules: list[RuleIn] = Field(min_length=1, max_length=1000)


class RuleVersionOut(BaseModel):
    id: str
    effective_from: datetime
    rules: list[RuleIn]
    # Set when the version was withdrawn before it took effect: it is never in force.
    withdrawn_at: datetime | None = None


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
    balance: int  # points the unit may spend, never below zero
    # Points owed: a reversal of points already spent; later awards pay it off first.
    debt: int
    entries: list[LedgerEntryOut]


class LeaderboardRow(BaseModel):
    unit_id: str
    unit_name: str
    points: int


class LeaderboardOut(BaseModel):
    since: datetime | None
    until: datetime | None
    units: list[LeaderboardRow]


class DebitIn(BaseModel):
    points: int = Field(gt=0, le=10_000_000)
    note: str | None = Field(default=None, max_length=2000)


class DebitOut(BaseModel):
    entry_id: str
    unit_id: str
    points: int
    balance: int


class PreviewIn(BaseModel):
    rules: list[RuleIn] = Field(min_length=1, max_length=1000)
    since: BoundedDatetime
    until: BoundedDatetime


class PreviewRowOut(BaseModel):
    unit_id: str
    unit_name: str
    claims: int
    awarded: int
    draft: int
    difference: int


class SignalOut(BaseModel):
    """Why two claims are taken for one target: `same_footage` (share of frames matched,
    closest PDQ distance) or `same_place_time` (metres and minutes apart)."""

    submission_id: str
    kind: str
    share: float | None = None
    min_distance: int | None = None
    distance_m: int | None = None
    minutes: int | None = None


class DisputeMemberOut(BaseModel):
    submission_id: str
    unit_id: str
    status: str
    decision: str | None
    target_type: str
    outcome: str
    occurred_at: datetime
    captured_at: datetime | None
    lat: float | None
    lon: float | None
    paid: int = Field(description="net points the ledger already holds for this claim")
    payable: bool = Field(description="whether a settlement may still give it a share")
    share: int | None
    signals: list[SignalOut]


class WorthOut(BaseModel):
    points: int | None
    target_type: str
    outcome: str
    as_claimed: bool = Field(description="no claim approved yet: priced as claimed")
    value_at: datetime = Field(description="the earliest occurrence the footage supports")
    from_capture: bool = Field(description="value_at is a file's capture time")
    rules_from: datetime | None
    fixed: bool = Field(description="fixed when points were first paid; not repriced since")


class VerdictOut(BaseModel):
    a: str
    b: str
    original: str | None = Field(
        description="the claim whose file is the likely source; null: can't tell"
    )
    reasons: dict[str, list[str]] = Field(description="for each claim, the evidence codes for it")


class SuggestionOut(BaseModel):
    kind: str = Field(description="original: all to the likely original; shared: equal shares")
    shares: dict[str, int]
    reverse: list[str]
    blocked: str | None = Field(description="why it can't be settled so yet, if it can't")


class ProvenanceOut(BaseModel):
    original: str | None
    copies: list[str]
    pairs: list[VerdictOut]
    suggestion: SuggestionOut


class DisputeOut(BaseModel):
    id: str
    status: str
    created_at: datetime
    worth: WorthOut
    paid: int
    left: int | None
    members: list[DisputeMemberOut]
    provenance: ProvenanceOut | None = None


class SettleIn(BaseModel):
    shares: dict[str, int]
    note: str | None = Field(default=None, max_length=4000)
    reverse: list[str] = Field(
        default_factory=list,
        max_length=100,
        description="claims whose award is taken back; the note is the reason",
    )


class SettleOut(BaseModel):
    dispute_id: str
    points: int | None
    awarded: list[LedgerEntryOut]
