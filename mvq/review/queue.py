"""The review queue as its readers see it: waiting items in claim order with filters, the
counts per state and the oldest wait. Reads only."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from mvq.auth import policy
from mvq.auth.policy import Action
from mvq.auth.service import Principal
from mvq.review.models import ItemState, ReviewItem
from mvq.submissions.models import Flag, Submission
from mvq.units.models import Unit

WAITING = (ItemState.pending, ItemState.escalated)


@dataclass(frozen=True)
class QueueFilters:
    flag: str | None = None  # a flag kind, or "any"
    unit_id: str | None = None
    target_type: str | None = None
    min_age_minutes: int | None = None


@dataclass(frozen=True)
class QueueRow:
    item_id: str
    submission_id: str
    unit_name: str
    target_type: str
    outcome: str
    points: int | None
    state: str
    senior_only: bool
    needs_second: bool
    waiting: timedelta
    flags: list[str]


def queue_rows(
    session: Session, *, viewer: Principal, filters: QueueFilters, now: datetime, limit: int = 200
) -> list[QueueRow]:
    """Waiting and leased items in the order a claim takes them (seniors: escalated first)."""
    seniors_first = policy.allows(viewer, Action.take_escalated)
    stmt = (
        select(ReviewItem, Submission, Unit.name)
        .join(Submission, Submission.id == ReviewItem.submission_id)
        .join(Unit, Unit.id == Submission.unit_id)
        .where(ReviewItem.state.in_([*WAITING, ItemState.leased]))
        .order_by(
            # Seniors take escalated items first; everyone else can never claim them.
            ReviewItem.senior_only.desc() if seniors_first else ReviewItem.senior_only.asc(),
            ReviewItem.priority.desc(),
            ReviewItem.created_at,
            ReviewItem.id,
        )
        .limit(limit)
    )
    if viewer.unit_id is not None:
        stmt = stmt.where(Submission.unit_id != viewer.unit_id)
    if filters.flag == "any":
        stmt = stmt.where(ReviewItem.flagged.is_(True))
    elif filters.flag:
        stmt = stmt.where(
            exists().where(Flag.submission_id == Submission.id, Flag.kind == filters.flag)
        )
    if filters.unit_id:
        stmt = stmt.where(Submission.unit_id == filters.unit_id)
    if filters.target_type:
        stmt = stmt.where(Submission.target_type == filters.target_type)
    if filters.min_age_minutes:
        stmt = stmt.where(ReviewItem.created_at <= now - timedelta(minutes=filters.min_age_minutes))
    rows = session.execute(stmt).all()
    kinds: dict[str, list[str]] = {}
    for submission_id, kind in session.execute(
        select(Flag.submission_id, Flag.kind)
        .where(Flag.submission_id.in_([s.id for _, s, _ in rows]))
        .distinct()
    ):
        kinds.setdefault(submission_id, []).append(kind)
    return [
        QueueRow(
            item_id=item.id,
            submission_id=sub.id,
            unit_name=unit_name,
            target_type=sub.target_type,
            outcome=sub.outcome,
            points=item.points,
            state=item.state,
            senior_only=item.senior_only,
            needs_second=item.first_reviewer_id is not None,
            waiting=now - item.created_at,
            flags=sorted(kinds.get(sub.id, [])),
        )
        for item, sub, unit_name in rows
    ]


def state_counts(session: Session) -> dict[str, int]:
    counts = {state.value: 0 for state in ItemState}
    for state, count in session.execute(
        select(ReviewItem.state, func.count()).group_by(ReviewItem.state)
    ):
        counts[state] = count
    counts["awaiting_second"] = int(
        session.scalar(
            select(func.count()).where(
                ReviewItem.state == ItemState.pending, ReviewItem.first_reviewer_id.is_not(None)
            )
        )
        or 0
    )
    return counts


def oldest_waiting(session: Session, *, now: datetime) -> timedelta | None:
    oldest = session.scalar(
        select(func.min(ReviewItem.created_at)).where(ReviewItem.state.in_(WAITING))
    )
    return None if oldest is None else now - oldest


def units(session: Session) -> list[Unit]:
    return list(session.scalars(select(Unit).order_by(Unit.name)))
