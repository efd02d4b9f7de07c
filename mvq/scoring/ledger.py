"""The append-only ledger: appending entries, balances, spending, leaderboards.

Every entry also adds into `unit_daily_points` in the same transaction, so a leaderboard over
any period reads (units x days) rows rather than every entry.
"""

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mvq.audit import binding
from mvq.audit import service as audit
from mvq.auth import policy
from mvq.auth.policy import Action
from mvq.auth.principal import Principal
from mvq.errors import Conflict, Forbidden, Invalid, NotFound
from mvq.scoring.models import EntryType, LedgerEntry, UnitDailyPoints
from mvq.units.models import Unit


def append(session: Session, entry: LedgerEntry, *, actor: str) -> LedgerEntry:
    """Adds one entry, its day total and its audit event, which is bound to the row by its
    digest; a duplicate (same decision and type, or same debit key) raises Conflict and leaves
    the transaction usable."""
    try:
        # Added inside the savepoint: begin_nested() flushes what is pending before it starts,
        # and a duplicate must roll back only the savepoint, not the whole transaction.
        with session.begin_nested():
            session.add(entry)
            session.flush()
    except IntegrityError as exc:
        raise Conflict(
            f"this {entry.entry_type} was already recorded", code=f"duplicate_{entry.entry_type}"
        ) from exc
    _add_to_day(session, entry)
    audit.record(
        session,
        actor=actor,
        action=f"ledger.{entry.entry_type}",
        object_type="ledger_entry",
        object_id=entry.id,
        data={
            "unit_id": entry.unit_id,
            "points": entry.points,
            "submission_id": entry.submission_id,
            "decision_id": entry.decision_id,
            "rule_version_id": entry.rule_version_id,
            "dispute_id": entry.dispute_id,
            # The whole row, so an edit of the entry no longer matches the chain.
            binding.ROW_DIGEST: binding.row_digest(entry),
        },
    )
    return entry


def _add_to_day(session: Session, entry: LedgerEntry) -> None:
    spent = entry.points if entry.entry_type == EntryType.debit else 0
    values = {
        "unit_id": entry.unit_id,
        "day": entry.created_at.astimezone(UTC).date(),
        "earned": entry.points - spent,
        "spent": spent,
    }
    table = UnitDailyPoints.__table__
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table).values(**values)
    # An upsert, so two entries on the same day for the same unit both count.
    stmt = stmt.on_conflict_do_update(
        index_elements=["unit_id", "day"],
        set_={"earned": table.c.earned + stmt.excluded.earned,
              "spent": table.c.spent + stmt.excluded.spent},
    )  # fmt: skip
    session.execute(stmt)


def _net(session: Session, *, unit_id: str) -> int:
    """The sum of the unit's entries: the ledger itself, not the day totals."""
    total = session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.points), 0)).where(LedgerEntry.unit_id == unit_id)
    )
    return int(total or 0)


@dataclass(frozen=True)
class Position:
    """What a unit may spend, and what it owes: a reversal of points already spent leaves a
    debt rather than a negative balance, and later awards pay the debt off before anything is
    spendable again. Both come from the entries' sum, so the ledger stays append-only and the
    debt needs no entry of its own: it is the reversal that outweighs what is left."""

    balance: int
    debt: int


def position(session: Session, *, unit_id: str) -> Position:
    net = _net(session, unit_id=unit_id)
    return Position(balance=max(net, 0), debt=max(-net, 0))


def balance(session: Session, *, unit_id: str) -> int:
    """Points the unit may spend: never below zero (see Position for a debt)."""
    return position(session, unit_id=unit_id).balance


def points_for_decision(session: Session, *, decision_id: str) -> int | None:
    """What one decision wrote to the ledger; None when it wrote nothing."""
    total = session.scalar(
        select(func.sum(LedgerEntry.points)).where(LedgerEntry.decision_id == decision_id)
    )
    return None if total is None else int(total)


def entries(session: Session, *, unit_id: str, limit: int, offset: int) -> list[LedgerEntry]:
    return list(
        session.scalars(
            select(LedgerEntry)
            .where(LedgerEntry.unit_id == unit_id)
            .order_by(LedgerEntry.created_at.desc(), LedgerEntry.id)
            .limit(limit)
            .offset(offset)
        )
    )


@dataclass(frozen=True)
class Statement:
    """A unit's balance, its debt and its latest entries, newest first."""

    balance: int
    debt: int
    entries: list[LedgerEntry]


def statement(session: Session, *, reader: Principal, unit_id: str, limit: int) -> Statement:
    """A unit's ledger, for those whose role reads ledgers; the marketplace's account only
    reads the ledgers of units it has recorded spends for."""
    policy.require(reader, Action.read_ledgers)
    if policy.is_linked_to(reader, unit_id):
        raise Forbidden("you are linked to this unit: its ledger is not yours to read")
    spent_for = _has_spent_for(session, reader, unit_id)
    if not policy.may_read_ledger(reader, unit_id=unit_id, spent_for=spent_for):
        raise Forbidden("you read only the ledgers of units you recorded spends for")
    if session.get(Unit, unit_id) is None:
        raise NotFound("no such unit")
    rows = entries(session, unit_id=unit_id, limit=limit, offset=0)
    held = position(session, unit_id=unit_id)
    return Statement(held.balance, held.debt, rows)


def _has_spent_for(session: Session, reader: Principal, unit_id: str) -> bool:
    if reader.user_id is None:
        return False
    found = session.scalar(
        select(LedgerEntry.id)
        .where(
            LedgerEntry.unit_id == unit_id,
            LedgerEntry.entry_type == EntryType.debit,
            LedgerEntry.actor_id == reader.user_id,
        )
        .limit(1)
    )
    return found is not None


def _fingerprint(points: int, note: str | None) -> str:
    return hashlib.sha256(f"{points}\n{note or ''}".encode()).hexdigest()


def debit(
    session: Session,
    *,
    unit_id: str,
    points: int,
    idempotency_key: str,
    note: str | None,
    spender: Principal,
) -> tuple[LedgerEntry, bool]:
    """Records a spend by an admin or the marketplace. Never takes the balance below zero,
    however many spends race: the unit's row is locked (Postgres) or the database is (SQLite's
    BEGIN IMMEDIATE) while the balance is read and the entry written. Returns (entry, created)."""
    policy.require(spender, Action.record_debits)
    if policy.is_linked_to(spender, unit_id):
        # Its reply (and a refusal for want of points) states the balance, which a linked
        # account may not read; and it would move its own unit's points.
        raise Forbidden("you are linked to this unit, so you may not record its spends",
                        code="conflict_of_interest")  # fmt: skip
    if points <= 0:
        raise Invalid("a debit spends a positive number of points", code="bad_points")
    unit = session.scalar(select(Unit).where(Unit.id == unit_id).with_for_update())
    if unit is None:
        raise NotFound("no such unit")
    fingerprint = _fingerprint(points, note)
    earlier = session.scalar(
        select(LedgerEntry).where(
            LedgerEntry.unit_id == unit_id, LedgerEntry.idempotency_key == idempotency_key
        )
    )
    if earlier is not None:
        if _fingerprint(-earlier.points, earlier.note) != fingerprint:
            raise Conflict(
                "this Idempotency-Key was used for another spend", code="idempotency_mismatch"
            )
        return earlier, False
    available = balance(session, unit_id=unit_id)
    if available < points:
        raise Conflict(
            f"the unit has {available} points; {points} cannot be spent",
            code="insufficient_points",
        )
    entry = LedgerEntry(
        unit_id=unit_id,
        entry_type=EntryType.debit,
        points=-points,
        idempotency_key=idempotency_key,
        note=note,
        actor_id=spender.user_id,
    )
    return append(session, entry, actor=spender.actor), True


@dataclass(frozen=True)
class Standing:
    unit_id: str
    unit_name: str
    points: int


def _days(since: datetime | None, until: datetime | None):  # type: ignore[no-untyped-def]
    """Day filters. Periods are whole UTC days: `until` is exclusive at its day's start."""
    conditions = []
    if since is not None:
        conditions.append(UnitDailyPoints.day >= since.astimezone(UTC).date())
    if until is not None:
        conditions.append(UnitDailyPoints.day < until.astimezone(UTC).date())
    return conditions


def leaderboard(
    session: Session, *, viewer: Principal, since: datetime | None, until: datetime | None
) -> list[Standing]:
    """Units by points earned (awards less reversals; spending does not lower a rank)."""
    policy.require(viewer, Action.view_leaderboard)
    return _standings(session, since=since, until=until, limit=500)


def _standings(
    session: Session, *, since: datetime | None, until: datetime | None, limit: int
) -> list[Standing]:
    # Sum per unit first, then attach names: the join then touches one row per unit.
    totals = (
        select(UnitDailyPoints.unit_id, func.sum(UnitDailyPoints.earned).label("points"))
        .where(*_days(since, until))
        .group_by(UnitDailyPoints.unit_id)
        .subquery()
    )
    stmt = (
        select(totals.c.unit_id, Unit.name, totals.c.points)
        .join(Unit, Unit.id == totals.c.unit_id)
        .order_by(totals.c.points.desc(), Unit.name)
        .limit(limit)
    )
    return [Standing(u, name, int(points)) for u, name, points in session.execute(stmt)]


def series(
    session: Session, *, unit_ids: list[str], since: date, until: date
) -> dict[str, list[tuple[date, int]]]:
    """Cumulative points earned per unit per day from `since` (inclusive) to `until`."""
    start = dict(
        session.execute(
            select(UnitDailyPoints.unit_id, func.sum(UnitDailyPoints.earned))
            .where(UnitDailyPoints.unit_id.in_(unit_ids), UnitDailyPoints.day < since)
            .group_by(UnitDailyPoints.unit_id)
        ).all()
    )
    per_day: dict[tuple[str, date], int] = {
        (u, d): e
        for u, d, e in session.execute(
            select(UnitDailyPoints.unit_id, UnitDailyPoints.day, UnitDailyPoints.earned).where(
                UnitDailyPoints.unit_id.in_(unit_ids),
                UnitDailyPoints.day >= since,
                UnitDailyPoints.day < until,
            )
        )
    }
    out: dict[str, list[tuple[date, int]]] = {}
    for unit_id in unit_ids:
        running, points = int(start.get(unit_id) or 0), []
        day = since
        while day < until:
            running += per_day.get((unit_id, day), 0)
            points.append((day, running))
            day += timedelta(days=1)
        out[unit_id] = points
    return out


def rebuild_daily(session: Session) -> int:
    """Recomputes the day totals from the ledger (after a restore, or to check them)."""
    session.execute(delete(UnitDailyPoints))
    rows = session.execute(
        select(
            LedgerEntry.unit_id, LedgerEntry.entry_type, LedgerEntry.points, LedgerEntry.created_at
        ).execution_options(yield_per=10_000)
    )
    totals: dict[tuple[str, date], list[int]] = {}
    for unit_id, entry_type, points, created_at in rows:
        key = (unit_id, created_at.astimezone(UTC).date())
        earned_spent = totals.setdefault(key, [0, 0])
        earned_spent[1 if entry_type == EntryType.debit else 0] += points
    session.add_all(
        UnitDailyPoints(unit_id=u, day=d, earned=e, spent=s) for (u, d), (e, s) in totals.items()
    )
    return len(totals)


def place(session: Session, *, unit_id: str) -> tuple[int | None, int]:
    """The unit's place on the all-time leaderboard (1 = most points) and how many units are
    ranked; None while the unit has earned nothing."""
    standings = _standings(session, since=None, until=None, limit=100_000)
    rank = next((i for i, s in enumerate(standings, 1) if s.unit_id == unit_id), None)
    return rank, len(standings)
