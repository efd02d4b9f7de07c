"""The review queue as its readers see it: waiting items in claim order with filters, the
counts per state and the oldest wait. Reads only.

Pages are keyset pages: the cursor is the last row's sort key, so page 200 of a long queue
costs what page 1 does (one query on the queue index), never an OFFSET scan."""

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, func, literal, or_, select
from sqlalchemy.orm import Session, aliased

from mvq.auth import policy
from mvq.auth.policy import Action
from mvq.auth.principal import Principal
from mvq.db import utcnow
from mvq.media.models import Frame, Media, MediaStatus
from mvq.review import blinding
from mvq.review.models import Decision, ItemState, ReviewItem, Stage
from mvq.review.qa import tasks as qa_tasks
from mvq.review.qa.models import QaTask
from mvq.submissions.models import Flag, Submission
from mvq.units.models import Unit

WAITING = (ItemState.pending, ItemState.escalated)
SORTS = ("claim", "oldest", "newest")
PAGE_SIZE = 50


@dataclass(frozen=True)
class QueueFilters:
    flag: str | None = None  # a flag kind, or "any"
    unit_id: str | None = None
    target_type: str | None = None
    min_age_minutes: int | None = None
    sort: str = "claim"  # one of SORTS: the claim order, or by waiting time


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
    # The sort key of this row, for the next page's cursor; the first still's stored key.
    cursor: str = field(default="", repr=False)
    thumb_key: str | None = None
    # Why a reviewer sent it up: what the senior reads first.
    escalation_note: str | None = None

    @property
    def short_id(self) -> str:
        """What a reviewer reads out or searches for: the claim id's first eight characters."""
        return self.submission_id[:8]


def _sort_columns(viewer: Principal, sort: str) -> list[tuple[Any, bool]]:
    """(column, descending) pairs, ending in the id so every row's key is unique."""
    if sort == "oldest":
        return [(ReviewItem.created_at, False), (ReviewItem.id, False)]
    if sort == "newest":
        return [(ReviewItem.created_at, True), (ReviewItem.id, True)]
    # Seniors take escalated items first; everyone else can never claim them.
    seniors_first = policy.allows(viewer, Action.take_escalated)
    return [
        (ReviewItem.senior_only, seniors_first),
        (ReviewItem.priority, True),
        (ReviewItem.created_at, False),
        (ReviewItem.id, False),
    ]


def _encode(values: list[Any]) -> str:
    plain = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode().rstrip("=")


def _decode(cursor: str, columns: list[tuple[Any, bool]]) -> list[Any] | None:
    """The sort key a cursor names, or None for one that is malformed or of another sort."""
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(values, list) or len(values) != len(columns):
            return None
        return [
            datetime.fromisoformat(v) if col is ReviewItem.created_at else v
            for (col, _), v in zip(columns, values, strict=True)
        ]
    except (ValueError, TypeError):
        return None


def _after(columns: list[tuple[Any, bool]], values: list[Any]) -> ColumnElement[bool]:
    """Rows after the key `values` in the order `columns`: (a > x) or (a = x and b > y) ..."""
    terms = []
    for n, (col, desc) in enumerate(columns):
        equal = [c == v for (c, _), v in zip(columns[:n], values[:n], strict=True)]
        # A bound literal: SQLAlchemy refuses `<` against a bare True/False (senior_only).
        value = literal(values[n], type_=col.type)
        terms.append(and_(*equal, col < value if desc else col > value))
    return or_(*terms) if terms else false()


def queue_rows(
    session: Session,
    *,
    viewer: Principal,
    filters: QueueFilters,
    now: datetime,
    limit: int = 200,
    after: str | None = None,
) -> list[QueueRow]:
    """Waiting and leased items in the order a claim takes them (seniors: escalated first),
    or by waiting time; `after` is the cursor of the last row of the page before."""
    policy.require(viewer, Action.view_queue)
    columns = _sort_columns(viewer, filters.sort if filters.sort in SORTS else "claim")
    stmt = (
        select(ReviewItem, Submission, Unit.name)
        .join(Submission, Submission.id == ReviewItem.submission_id)
        .join(Unit, Unit.id == Submission.unit_id)
        .where(ReviewItem.state.in_([*WAITING, ItemState.leased]))
        .order_by(*(col.desc() if desc else col.asc() for col, desc in columns))
        .limit(limit)
    )
    key = _decode(after, columns) if after else None
    if key is not None:
        stmt = stmt.where(_after(columns, key))
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
    rows: list[Any] = list(session.execute(stmt).all())
    held_qa = {t.alias_id: t for t in qa_tasks.held(session, reviewer=viewer, now=now)}
    rows = _with_held_qa(session, rows, held=list(held_qa.values()), filters=filters, now=now,
                         columns=columns, after=key, limit=limit)  # fmt: skip
    # A QA item's row reads its flags and still from the claim behind it.
    real = {s.id: t.submission_id for _, s, _ in rows
            if (t := held_qa.get(s.id)) is not None}  # fmt: skip
    ids = [real.get(s.id, s.id) for _, s, _ in rows]
    kinds: dict[str, list[str]] = {}
    for submission_id, kind in session.execute(
        select(Flag.submission_id, Flag.kind).where(Flag.submission_id.in_(ids)).distinct()
    ):
        kinds.setdefault(submission_id, []).append(kind)
    thumbs = first_stills(session, submission_ids=ids)
    # Blind four-eyes: whoever may judge it reads a second look as a first one.
    marks_second = not blinding.may_judge(viewer)
    notes = escalation_notes(
        session, submission_ids=[s.id for item, s, _ in rows if item.state == ItemState.escalated]
    )
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
            needs_second=marks_second and item.first_reviewer_id is not None,
            waiting=now - item.created_at,
            flags=sorted(kinds.get(real.get(sub.id, sub.id), [])),
            cursor=_encode([getattr(item, col.key) for col, _ in columns]),
            thumb_key=thumbs.get(real.get(sub.id, sub.id)),
            escalation_note=notes.get(sub.id),
        )
        for item, sub, unit_name in rows
    ]


def _key(item: ReviewItem, columns: list[tuple[Any, bool]]) -> list[Any]:
    return [getattr(item, col.key) for col, _ in columns]


def _later(a: list[Any], b: list[Any], columns: list[tuple[Any, bool]]) -> bool:
    """Whether sort key `a` comes after `b` in the order `columns`."""
    for x, y, (_, desc) in zip(a, b, columns, strict=True):
        if x != y:
            return bool(x < y) if desc else bool(x > y)
    return False


def _nth(columns: list[tuple[Any, bool]], n: int) -> Callable[[Any], Any]:
    return lambda row: _key(row[0], columns)[n]


def _with_held_qa(
    session: Session,
    rows: list[Any],
    *,
    held: list[QaTask],
    filters: QueueFilters,
    now: datetime,
    columns: list[tuple[Any, bool]],
    after: list[Any] | None,
    limit: int,
) -> list[Any]:
    """The viewer's own golden and re-review items, each as the leased row a live item of
    theirs would be, in its place in the order (mvq.review.qa.tasks.masked)."""
    extra = []
    for task in held:
        item, shown = qa_tasks.masked(session, task=task)
        if after is not None and not _later(_key(item, columns), after, columns):
            continue
        if filters.target_type and shown.target_type != filters.target_type:
            continue
        if filters.unit_id and shown.unit_id != filters.unit_id:
            continue
        if filters.flag or filters.min_age_minutes:
            continue  # a new lease has neither age nor (for the filter's purpose) a flag
        extra.append((item, shown, session.get_one(Unit, shown.unit_id).name))
    if not extra:
        return rows
    merged = list(rows) + extra
    for n in reversed(range(len(columns))):  # a stable sort, last key first
        merged.sort(key=_nth(columns, n), reverse=columns[n][1])
    return merged[:limit]


def escalation_notes(session: Session, *, submission_ids: list[str]) -> dict[str, str]:
    """Each claim's latest escalation note (the comment of its latest `escalate` decision),
    for a page of escalated rows in one query."""
    found: dict[str, str | None] = {}
    if not submission_ids:
        return {}
    for submission_id, comment in session.execute(
        select(Decision.submission_id, Decision.comment)
        .where(
            Decision.submission_id.in_(submission_ids),
            Decision.decision == "escalate",
        )
        .order_by(Decision.created_at.desc(), Decision.id.desc())
    ):
        found.setdefault(submission_id, comment)
    return {k: v for k, v in found.items() if v}


def first_stills(session: Session, *, submission_ids: list[str]) -> dict[str, str]:
    """Each claim's first still (frame 0 of its first processed file), for a thumbnail: one
    query for a whole page."""
    found: dict[str, str] = {}
    if not submission_ids:
        return found
    for submission_id, key in session.execute(
        select(Media.submission_id, Frame.s3_key)
        .join(Frame, Frame.media_id == Media.id)
        .where(
            Media.submission_id.in_(submission_ids),
            Media.status == MediaStatus.processed,
            Frame.index == 0,
        )
        .order_by(Media.created_at)
    ):
        found.setdefault(submission_id, key)
    return found


def state_counts(session: Session, *, viewer: Principal) -> dict[str, int]:
    """How many items are in each place, each item counted once: `pending` is waiting for a
    first look, `awaiting_second` waiting for the second approval of four-eyes (once counted
    in both). Whoever may judge an item gets no `awaiting_second`: those items count as
    `pending`, as blind four-eyes asks (see review.blinding)."""
    policy.require(viewer, Action.view_queue)
    counts = {state.value: 0 for state in ItemState}
    counts["awaiting_second"] = 0
    blind = blinding.may_judge(viewer)
    for state, second, count in session.execute(
        select(ReviewItem.state, ReviewItem.first_reviewer_id.is_not(None), func.count()).group_by(
            ReviewItem.state, ReviewItem.first_reviewer_id.is_not(None)
        )
    ):
        place = "awaiting_second" if state == ItemState.pending and second else state
        counts[place] += count
    if blind:
        counts[ItemState.pending] += counts.pop("awaiting_second")
    # A golden or re-review item in someone's hands counts as a live item taken from the
    # queue would (one more leased, one fewer waiting), so the counts never tell them apart.
    held_qa = session.scalar(
        select(func.count()).select_from(QaTask).where(
            QaTask.done_at.is_(None), QaTask.lease_expires_at > utcnow()
        )
    ) or 0  # fmt: skip
    counts[ItemState.leased.value] += held_qa
    counts[ItemState.pending.value] = max(0, counts[ItemState.pending.value] - held_qa)
    return counts


@dataclass(frozen=True)
class RecentDecision:
    decision: Decision
    item_id: str
    target_type: str
    outcome: str
    status: str
    undone: bool


def recent_decisions(
    session: Session, *, reviewer_id: str, limit: int = 20
) -> list[RecentDecision]:
    """This reviewer's latest decisions (undo records aside), each marked if it was undone."""
    undo = aliased(Decision)
    rows = session.execute(
        select(Decision, Submission.target_type, Submission.outcome, Submission.status,
               undo.id.is_not(None))
        .join(Submission, Submission.id == Decision.submission_id)
        .outerjoin(undo, and_(undo.overturns_id == Decision.id, undo.stage == Stage.undo))
        .where(Decision.reviewer_id == reviewer_id, Decision.stage != Stage.undo)
        .order_by(Decision.created_at.desc(), Decision.id.desc())
        .limit(limit)
    )  # fmt: skip
    return [
        RecentDecision(d, d.review_item_id, target, outcome, status, bool(undone))
        for d, target, outcome, status, undone in rows
    ]


def oldest_waiting(session: Session, *, viewer: Principal, now: datetime) -> timedelta | None:
    policy.require(viewer, Action.view_queue)
    oldest = session.scalar(
        select(func.min(ReviewItem.created_at)).where(ReviewItem.state.in_(WAITING))
    )
    return None if oldest is None else now - oldest


def units(session: Session, *, viewer: Principal) -> list[Unit]:
    """The units a viewer may filter the queue by: never one whose claims they may not see."""
    return [
        unit
        for unit in session.scalars(select(Unit).order_by(Unit.name))
        if policy.may_see_claim(viewer, claim_unit_id=unit.id)
    ]
