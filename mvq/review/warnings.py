"""Warnings before the mistake, on record: a verdict too fast for its footage (review.pace)
and a long stretch of work without a break. Each warning shown and each override of one is a
ReviewWarning row and an audit event; `summary` counts them per reviewer for the calibration
page.

A too-fast verdict without the explicit override is refused (`TooFast`, 409) after its warning
is written: the adapter keeps that write although it answers with an error, so a refusal is
counted even when nobody tries again."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from mvq.audit import service as audit
from mvq.auth import policy
from mvq.auth.policy import Action
from mvq.auth.principal import Principal
from mvq.errors import Conflict, NotFound
from mvq.review import pace
from mvq.review.models import Decision, ReviewItem, ReviewWarning, WarningEvent, WarningKind
from mvq.review.pace import Haste
from mvq.settings import get_settings

K, E = WarningKind, WarningEvent
AUDIT_ACTION = {E.shown: "review.warning_shown", E.overridden: "review.warning_overridden"}


class TooFast(Conflict):
    """A verdict given sooner than its floor, without the override: refused, with the reason."""

    def __init__(self, found: Haste, warning_id: str) -> None:
        why = []
        if "not_viewed" in found.reasons:
            why.append("the footage was never shown")
        if "too_fast" in found.reasons:
            why.append(f"{found.elapsed_seconds:.0f} s on the item, under its floor of "
                       f"{found.floor_seconds:.0f} s")  # fmt: skip
        super().__init__(
            f"Decided too fast ({'; '.join(why)}). Look again, or send the same decision "
            "with override set to decide anyway.",
            code="too_fast",
        )
        self.haste = found
        self.warning_id = warning_id


def _write(
    session: Session,
    *,
    reviewer: Principal,
    kind: str,
    event: str,
    item: ReviewItem | None = None,
    found: Haste | None = None,
    answers_id: str | None = None,
    decision: str | None = None,
) -> ReviewWarning:
    row = ReviewWarning(
        kind=kind, event=event, reviewer_id=reviewer.id,
        review_item_id=item.id if item else None,
        reasons=found.reasons if found else [],
        elapsed_seconds=round(found.elapsed_seconds, 3) if found else None,
        floor_seconds=found.floor_seconds if found else None,
        answers_id=answers_id, decision=decision,
    )  # fmt: skip
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=reviewer.actor,
        action=AUDIT_ACTION[WarningEvent(event)],
        object_type="review_warning",
        object_id=row.id,
        data={"kind": kind, "review_item_id": row.review_item_id, "reasons": row.reasons,
              "elapsed_seconds": row.elapsed_seconds, "floor_seconds": row.floor_seconds,
              "answers": answers_id, "decision": decision},
    )  # fmt: skip
    return row


def _open_warning(session: Session, *, reviewer: Principal, item: ReviewItem) -> str | None:
    """The latest too-fast warning on this item under this lease that nothing overrode yet."""
    answer = aliased(ReviewWarning)
    return session.scalar(
        select(ReviewWarning.id)
        .outerjoin(answer, answer.answers_id == ReviewWarning.id)
        .where(ReviewWarning.reviewer_id == reviewer.id,
               ReviewWarning.review_item_id == item.id,
               ReviewWarning.kind == K.too_fast, ReviewWarning.event == E.shown,
               ReviewWarning.created_at >= item.leased_at, answer.id.is_(None))
        .order_by(ReviewWarning.created_at.desc(), ReviewWarning.id.desc())
        .limit(1)
    )  # fmt: skip


def too_fast_shown(
    session: Session, *, reviewer: Principal, item: ReviewItem, found: Haste, decision: str
) -> str:
    """The page put the warning to the reviewer (or the server refused): one row per lease,
    however often the page asks again."""
    return _open_warning(session, reviewer=reviewer, item=item) or _write(
        session, reviewer=reviewer, kind=K.too_fast, event=E.shown, item=item, found=found,
        decision=decision,
    ).id  # fmt: skip


def page_warned(
    session: Session,
    *,
    reviewer: Principal,
    item_id: str,
    lease_token: str,
    decision: str,
    now: datetime,
) -> Haste | None:
    """The page showed the too-fast warning before a verdict: on record once per lease if the
    server agrees that the verdict would come too soon (the page's clock is not taken for it)."""
    policy.require(reviewer, Action.review)
    item = session.get(ReviewItem, item_id)
    if item is None or item.leased_by != reviewer.id or item.lease_token != lease_token:
        raise NotFound("you hold no such item")
    found = pace.haste(session, reviewer=reviewer, item=item, decision=decision, now=now)
    if found is not None:
        too_fast_shown(session, reviewer=reviewer, item=item, found=found, decision=decision)
    return found


def too_fast_overridden(
    session: Session, *, reviewer: Principal, item: ReviewItem, found: Haste, decision: str
) -> None:
    """The second key: the verdict goes ahead, answering the warning it overrides (written
    now if the reviewer overrode before any was recorded, as a script may)."""
    shown = too_fast_shown(session, reviewer=reviewer, item=item, found=found, decision=decision)
    _write(session, reviewer=reviewer, kind=K.too_fast, event=E.overridden, item=item,
           found=found, answers_id=shown, decision=decision)  # fmt: skip


def work_started(session: Session, *, reviewer_id: str, now: datetime) -> datetime | None:
    """When this reviewer's current stretch of decisions began: the first decision after the
    last gap of `break_gap_minutes`; None if they have not decided within that gap of now."""
    gap = timedelta(minutes=get_settings().break_gap_minutes)
    since = now - timedelta(minutes=get_settings().break_after_minutes) - gap * 4
    times = list(
        session.scalars(
            select(Decision.created_at)
            .where(Decision.reviewer_id == reviewer_id, Decision.created_at >= since)
            .order_by(Decision.created_at.desc())
        )
    )
    if not times or now - times[0] >= gap:
        return None
    start = times[0]
    for earlier in times[1:]:
        if start - earlier >= gap:
            break
        start = earlier
    return start


def break_due(session: Session, *, reviewer: Principal, now: datetime) -> timedelta | None:
    """How long the reviewer has worked without a break, once that passes `break_after_minutes`."""
    if not policy.allows(reviewer, Action.review):
        return None
    start = work_started(session, reviewer_id=reviewer.id, now=now)
    if start is None or now - start < timedelta(minutes=get_settings().break_after_minutes):
        return None
    return now - start


def break_shown(session: Session, *, reviewer: Principal, now: datetime) -> bool:
    """Records that the page suggested a break, once per stretch of work; False when none is
    due (the page's word is not taken for it)."""
    policy.require(reviewer, Action.review)
    if break_due(session, reviewer=reviewer, now=now) is None:
        return False
    start = work_started(session, reviewer_id=reviewer.id, now=now)
    already = session.scalar(
        select(ReviewWarning.id).where(
            ReviewWarning.reviewer_id == reviewer.id,
            ReviewWarning.kind == K.take_break,
            ReviewWarning.created_at >= start,
        )
    )
    if already is None:
        _write(session, reviewer=reviewer, kind=K.take_break, event=E.shown)
    return True


@dataclass(frozen=True)
class WarningCounts:
    """One reviewer's warnings of one kind. A too-fast warning is heeded when no second key
    overrode it; a break suggestion when the reviewer's next decision came at least
    `break_gap_minutes` later (overridden when sooner)."""

    reviewer_id: str
    kind: str
    shown: int
    overridden: int

    @property
    def heeded(self) -> int:
        return self.shown - self.overridden


def summary(session: Session, reviewer_id: str | None = None) -> list[WarningCounts]:
    """Per reviewer and kind: warnings shown, overridden and heeded; one reviewer's, or all."""
    stmt = select(ReviewWarning).order_by(ReviewWarning.reviewer_id, ReviewWarning.created_at)
    if reviewer_id is not None:
        stmt = stmt.where(ReviewWarning.reviewer_id == reviewer_id)
    shown: dict[tuple[str, str], int] = {}
    overridden: dict[tuple[str, str], int] = {}
    gap = timedelta(minutes=get_settings().break_gap_minutes)
    for row in session.scalars(stmt):
        key = (row.reviewer_id, row.kind)
        if row.event == E.shown:
            shown[key] = shown.get(key, 0) + 1
        if row.event == E.overridden or (
            row.kind == K.take_break and _decided_within(session, row, gap)
        ):
            overridden[key] = overridden.get(key, 0) + 1
    return [
        WarningCounts(reviewer, kind, count, overridden.get((reviewer, kind), 0))
        for (reviewer, kind), count in sorted(shown.items())
    ]


def _decided_within(session: Session, row: ReviewWarning, gap: timedelta) -> bool:
    return (
        session.scalar(
            select(Decision.id)
            .where(
                Decision.reviewer_id == row.reviewer_id,
                Decision.created_at > row.created_at,
                Decision.created_at < row.created_at + gap,
            )
            .limit(1)
        )
        is not None
    )
