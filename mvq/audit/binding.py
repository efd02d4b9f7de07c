"""Binds a row of an append-only table to its audit event: the event's data carries
`row_sha256`, the SHA-256 of the row's canonical form, so an edited, deleted or inserted row
no longer matches the chain.

The canonical form is JSON (sorted keys, no spaces) of {"table": name, "row": {column: text}}
over every column that is not null, each value as text: datetimes in UTC ISO 8601 with
microseconds, integers in decimal, booleans as true/false, JSON values canonically encoded.
The same text comes from a database row and from an export's CSV, JSONL or Parquet row, so
exports are checked with this same function. An empty string counts as null (CSV cannot tell
them apart); a column added later with null values leaves old digests valid.
"""

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, Integer, Table, select
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator

ROW_DIGEST = "row_sha256"


def _text(kind: Any, value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(kind, TypeDecorator):
        kind = kind.impl
    if isinstance(kind, DateTime):
        when = datetime.fromisoformat(value) if isinstance(value, str) else value
        when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
        return when.isoformat(timespec="microseconds")
    if isinstance(kind, Boolean):
        return "true" if str(value).lower() in {"true", "1"} else "false"
    if isinstance(kind, Integer):
        return str(int(value))
    if isinstance(kind, Float):
        return repr(float(value))
    if isinstance(kind, JSON):
        loaded = json.loads(value) if isinstance(value, str) else value
        return json.dumps(loaded, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return str(value)


def row_text(table: Table, values: Mapping[Any, Any]) -> dict[str, str]:
    """The row's canonical form: {column: text} over the columns that are not null."""
    row = {}
    for column in table.columns:
        text = _text(column.type, values.get(column.name))
        if text is not None:
            row[column.name] = text
    return row


def digest(table: Table, values: Mapping[Any, Any]) -> str:
    """SHA-256 of a row given as {column name: value}, native or as exported text."""
    body = {"table": table.name, "row": row_text(table, values)}
    encoded = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(encoded.encode()).hexdigest()


def row_digest(row: Any) -> str:
    """The digest of a mapped object as it stands after its INSERT was flushed."""
    table: Table = row.__table__
    mapper = row.__mapper__
    values = {c.name: getattr(row, mapper.get_property_by_column(c).key) for c in table.columns}
    return digest(table, values)


@dataclass(frozen=True)
class RowProblem:
    table: str
    row_id: str
    problem: str

    def __str__(self) -> str:
        return f"{self.table} row {self.row_id}: {self.problem}"


def bindings(events: Iterable[Mapping[str, Any]], object_type: str) -> dict[str, str]:
    """{object id: row digest} from exported events of one object type that carry one."""
    found: dict[str, str] = {}
    for event in events:
        data = event.get("data")
        if (
            event.get("object_type") == object_type
            and isinstance(data, dict)
            and ROW_DIGEST in data
        ):
            found[str(event["object_id"])] = str(data[ROW_DIGEST])
    return found


def check_rows(
    table: Table, rows: Iterable[Mapping[Any, Any]], bound: dict[str, str], *, complete: bool
) -> Iterator[RowProblem]:
    """Rows whose digest differs from their event's; with `complete` (the rows and events are
    the whole record) also rows no event names and bound rows that are gone. Consumes
    `bound`."""
    for values in rows:
        row_id = str(values["id"])
        expected = bound.pop(row_id, None)
        if expected is None:
            if complete:
                yield RowProblem(table.name, row_id, "no audit event binds this row")
            continue
        if digest(table, values) != expected:
            yield RowProblem(table.name, row_id, "differs from the row its audit event recorded")
    if complete:
        for row_id in bound:
            yield RowProblem(table.name, row_id, "recorded by its audit event but missing")


def verify_rows(
    session: Session, tables: Mapping[str, Table], recorded: Mapping[str, Mapping[str, str | None]]
) -> RowProblem | None:
    """The first row of the bound tables ({event object type: table}) that its audit event
    does not vouch for, or None. `recorded` is what `verify_chain(bound_types=...)` collected:
    {object type: {object id: digest}}; an id whose event predates the binding (None) is
    passed over."""
    for object_type, table in tables.items():
        events = recorded.get(object_type, {})
        bound = {k: v for k, v in events.items() if v is not None}
        rows = session.execute(
            select(table).order_by(*table.primary_key.columns).execution_options(yield_per=5_000)
        )
        current = (r._mapping for r in rows if events.get(str(r._mapping["id"]), "") is not None)
        for problem in check_rows(table, current, bound, complete=True):
            return problem
    return None
