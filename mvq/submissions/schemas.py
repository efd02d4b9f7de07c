from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)
from pydantic_core import PydanticCustomError

# Every date and time a request may carry lies in bounds, with a real UTC offset: beyond
# them Python's and the databases' arithmetic overflows (year 1 at +14:00 is before year 1
# in UTC), or a value is stored that no clock will reach. A naive one stays the plain
# validation error it always was.
MAX_OFFSET = timedelta(hours=14)


def _bounds(earliest: datetime, latest: datetime, *, naive_as_utc: bool = False) -> WrapValidator:
    def check(value: Any, handler: ValidatorFunctionWrapHandler) -> datetime:
        try:
            parsed: datetime = handler(value)
        except ValidationError as exc:
            raise PydanticCustomError(
                "invalid_value", "not a date and time: {reason}", {"reason": exc.errors()[0]["msg"]}
            ) from None
        if naive_as_utc and parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        offset = parsed.utcoffset()
        if offset is None:
            raise PydanticCustomError("timezone_aware", "Input should have timezone info")
        if abs(offset) > MAX_OFFSET:
            raise PydanticCustomError("invalid_value", "a UTC offset lies within ±14:00")
        # The year first: comparing year 1 at +14:00 with anything converts it, and overflows.
        if not earliest.year <= parsed.year <= latest.year or not earliest <= parsed < latest:
            raise PydanticCustomError(
                "invalid_value", "a date and time lies between {earliest} and {latest}",
                {"earliest": earliest.isoformat(), "latest": latest.isoformat()},
            )  # fmt: skip
        return parsed

    return WrapValidator(check)


# Periods, rules versions: nothing in mvq happens before 1970 or after 2100.
BoundedDatetime = Annotated[
    datetime, _bounds(datetime(1970, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
]
# The pages' date-and-time fields (an HTML datetime-local: no offset, read as UTC).
BoundedLocalDatetime = Annotated[
    datetime,
    _bounds(datetime(1970, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC), naive_as_utc=True),
]
# The pages' date fields: a period from one day's start to the end of another, so the last
# day ends (the next day starts) before 2100.
EARLIEST_DAY, LATEST_DAY = date(1970, 1, 1), date(2099, 12, 30)


def _day_bounds(value: Any, handler: ValidatorFunctionWrapHandler) -> date:
    try:
        parsed: date = handler(value)
    except ValidationError as exc:
        raise PydanticCustomError(
            "invalid_value", "not a day: {reason}", {"reason": exc.errors()[0]["msg"]}
        ) from None
    if not EARLIEST_DAY <= parsed <= LATEST_DAY:
        raise PydanticCustomError(
            "invalid_value", "a day lies between {earliest} and {latest}",
            {"earliest": EARLIEST_DAY.isoformat(), "latest": LATEST_DAY.isoformat()},
        )  # fmt: skip
    return parsed


BoundedDay = Annotated[date, WrapValidator(_day_bounds)]
# A claim's time: the claim's own checks then answer occurred_in_future / occurred_too_old for
# anything a clock can hold.
OccurredAt = Annotated[
    datetime, _bounds(datetime(1900, 1, 1, tzinfo=UTC), datetime(9000, 1, 1, tzinfo=UTC))
]


class SubmissionCreate(BaseModel):
    target_type: str = Field(min_length=1, max_length=64)
    outcome: str = Field(min_length=1, max_length=20)
    # Omitted: taken from the footage (capture time, else telemetry) when it is processed.
    occurred_at: OccurredAt | None = None
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


class AppealOut(BaseModel):
    """The claim's appeal as its unit sees it: `outcome` is the senior's words."""

    status: str = Field(description="pending, upheld or denied")
    reason: str
    decided_at: datetime | None = None
    outcome: str | None = None


class DisputeShareOut(BaseModel):
    """The dispute a claim is in, as its unit may know it: never the other claims or units."""

    status: str = Field(description="open (the points wait) or settled")
    share: int | None = Field(default=None, description="the points this claim was given")
    total: int | None = Field(default=None, description="the points the target is worth")
    note: str | None = Field(default=None, description="the senior's note on the settlement")
    settled_at: datetime | None = None


class ReversalOut(BaseModel):
    points: int = Field(description="negative: the points taken back")
    cause: str = Field(description="dispute (a settlement), overturn or undo")
    reason: str | None = Field(default=None, description="the senior's words, if any")
    reason_code: str | None = Field(default=None, description="the overturning decision's code")
    at: datetime


class OutcomeOut(BaseModel):
    """What became of the claim, told to its unit: `kind` says which sentence applies and the
    other fields fill it in; `message` is that sentence in the reader's language."""

    kind: str = Field(
        description="undecided, awaiting_second (one approval of two), approved, rejected, "
        "held_in_dispute (approved; the points wait for a senior to share the credit) or "
        "dispute_settled"
    )
    points: int = Field(description="the points the claim holds now, after any reversal")
    reason_code: str | None = Field(default=None, description="a rejection's reason")
    target_type: str | None = Field(default=None, description="as approved")
    outcome: str | None = Field(default=None, description="as approved")
    dispute: DisputeShareOut | None = None
    appeal: str | None = Field(default=None, description="pending, upheld or denied")
    reversals: list[ReversalOut] = Field(default_factory=list)
    message: str | None = Field(default=None, description="the outcome in the reader's words")


class SubmissionOut(BaseModel):
    id: str
    unit_id: str
    status: str
    target_type: str
    outcome: str
    occurred_at: datetime
    occurred_at_source: str = Field(
        description="unit (as claimed), footage (not yet processed), capture_time, telemetry, "
        "osd (the time burned into the picture) "
        "or upload_time (the file had no time)"
    )
    submitted_by: str | None = Field(default=None, description="the unit's member who claimed")
    lat: float | None
    lon: float | None
    note: str | None
    created_at: datetime
    media: list[MediaOut]
    flags: list[FlagOut]
    decision: DecisionOut | None = None
    points: int | None = None
    appeal: AppealOut | None = None
    result: OutcomeOut | None = Field(default=None, description="what became of the claim")


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
    """One copy of this claim's footage found elsewhere. A copy in a claim the reader may not
    see says only that: `hidden` true, `reason` "not_visible", and none of the other fields."""

    media_id: str = Field(description="this claim's media that matched")
    kind: str
    hidden: bool = Field(default=False, description="the other claim is not visible to you")
    reason: str | None = Field(default=None, description='"not_visible" when hidden')
    other_media_id: str | None = None
    submission_id: str | None = Field(default=None, description="the claim holding the copy")
    unit_id: str | None = None
    submission_status: str | None = Field(default=None, description="where it stands now")
    decision: str | None = Field(default=None, description="its latest decision, now")
    decided_at: datetime | None = None
    share_this: float | None = None
    share_other: float | None = None
    min_distance: int | None = None
    signals: list[str] = Field(default_factory=list)
    frame_pairs: list[dict[str, Any]] = Field(default_factory=list)
    original: str | None = Field(
        default=None,
        description='which file is the likely source: "this", "other", or null (can\'t tell)',
    )
    provenance: dict[str, list[str]] = Field(
        default_factory=dict, description='evidence codes for "this" and "other" being the source'
    )
    geometry: list[dict[str, Any]] = Field(
        default_factory=list,
        description="keyframe pairs whose keypoints agree on one homography: the region each "
        "frame shows of the other (corners, 0..1 of its size) and the share of keypoints that "
        "agree",
    )


class MatchesOut(BaseModel):
    submission_id: str
    matches: list[MatchOut]
