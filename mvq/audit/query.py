"""Reading the log a page at a time: filters, and keyset paging by `seq`.

Pages are cut by the last seq shown ("older than 812", "newer than 913"), never by OFFSET: an
offset makes the database walk and drop every row before it, so page 10 000 of a log of
millions would cost as much as reading them all, and rows appended meanwhile would shift every
page by one. Each filter has an index that leads with its column and ends in `seq` (migration
0017), so a page is one index range read backwards and stops after `limit` rows.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, select
from sqlalchemy.orm import Session

from mvq.audit.models import AuditEvent

# Above every character a stored action can hold: `prefix <= action < prefix + _TOP` is the
# range of actions that start with `prefix`, in code point order.
_TOP = "\U0010ffff"


@dataclass(frozen=True)
class Filters:
    actor: str | None = None
    action: str | None = None
    # "review." matches review.leased, review.approve, ...; exact matches one action.
    action_prefix: bool = True
    object_type: str | None = None
    # One object, or any of several (a claim's submission, media, decisions, ...).
    object_ids: Sequence[str] = ()
    since: datetime | None = None
    until: datetime | None = None  # exclusive


@dataclass(frozen=True)
class EventPage:
    events: list[AuditEvent]  # newest first
    older: int | None  # the cursor of the next older page (`before`), if there is one
    newer: int | None  # the cursor of the next newer page (`after`), if there is one


def _action(session: Session, action: str, prefix: bool) -> ColumnElement[bool]:
    if not prefix:
        return AuditEvent.action == action
    like = AuditEvent.action.startswith(action, autoescape=True)
    if session.get_bind().dialect.name == "sqlite":
        # SQLite's LIKE ignores case and so cannot use the (binary) index; the same prefix as
        # a range of code points can, and the LIKE keeps the match exact.
        return and_(AuditEvent.action >= action, AuditEvent.action < action + _TOP, like)
    # Postgres: the index on action uses varchar_pattern_ops, which serves LIKE 'x%' in any
    # collation.
    return like


def conditions(session: Session, where: Filters) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if where.actor:
        found.append(AuditEvent.actor == where.actor)
    if where.action:
        found.append(_action(session, where.action, where.action_prefix))
    if where.object_type:
        found.append(AuditEvent.object_type == where.object_type)
    if len(where.object_ids) == 1:
        found.append(AuditEvent.object_id == where.object_ids[0])
    elif where.object_ids:
        found.append(AuditEvent.object_id.in_(sorted(set(where.object_ids))))
    if where.since is not None:
        found.append(AuditEvent.occurred_at >= where.since)
    if where.until is not None:
        found.append(AuditEvent.occurred_at < where.until)
    return found


def _seqs(stmt: Select[AuditEvent]) -> Select[int]:
    return stmt.with_only_columns(AuditEvent.seq).limit(1)


def page(
    session: Session,
    *,
    where: Filters,
    before: int | None = None,
    after: int | None = None,
    limit: int = 100,
) -> EventPage:
    """The newest `limit` matching events older than `before` (or the newest of all); with
    `after`, the oldest `limit` newer than it, shown newest first like every page."""
    base = select(AuditEvent).where(*conditions(session, where))
    if after is not None:
        newer = base.where(AuditEvent.seq > after).order_by(AuditEvent.seq)
        rows = list(session.scalars(newer.limit(limit + 1)))
        more_newer = len(rows) > limit
        events = rows[:limit][::-1]
    else:
        stmt = base if before is None else base.where(AuditEvent.seq < before)
        rows = list(session.scalars(stmt.order_by(AuditEvent.seq.desc()).limit(limit + 1)))
        more_newer = False
        events = rows[:limit]
        if before is not None and events:
            # One probe, as cheap as the page: is anything newer left to page back to?
            probe = _seqs(base.where(AuditEvent.seq > events[0].seq))
            more_newer = session.scalar(probe) is not None
    if not events:
        return EventPage([], None, None)
    if after is None:
        more_older = len(rows) > limit
    else:
        probe = _seqs(base.where(AuditEvent.seq < events[-1].seq))
        more_older = session.scalar(probe) is not None
    return EventPage(
        events,
        older=events[-1].seq if more_older else None,
        newer=events[0].seq if more_newer else None,
    )
