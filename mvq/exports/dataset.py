"""Signed exports of the record: submissions, media metadata, decisions, ledger and audit
events for a period, as CSV, JSONL or Parquet, with a manifest of every file's SHA-256 and row
count, the audit chain's ends, a signed checkpoint of the chain's head (also kept in S3), and an
Ed25519 signature over it all.

Rows stream from the database in batches straight into the files, so memory stays flat
however long the period.
"""

import csv
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Boolean, DateTime, Float, Integer, Table, select
from sqlalchemy.orm import Session

from mvq.audit import checkpoint, signing
from mvq.audit import service as audit
from mvq.audit.models import AuditEvent
from mvq.audit.service import GENESIS, chain_head
from mvq.db import Base, utcnow
from mvq.media.models import Media
from mvq.review.models import Decision
from mvq.scoring.models import LedgerEntry
from mvq.submissions.models import Submission

FORMATS = ("csv", "jsonl", "parquet")
BATCH = 5_000
# What an export holds, and the time column that places each row in a period.
TABLES: dict[str, tuple[type[Base], str]] = {
    "submissions": (Submission, "created_at"),
    "media": (Media, "created_at"),
    "decisions": (Decision, "created_at"),
    "ledger": (LedgerEntry, "created_at"),
    "audit_events": (AuditEvent, "occurred_at"),
}
# Rows bound to their audit events by digest: {the events' object type: the table}.
BOUND_TABLES: dict[str, Table] = {
    "ledger_entry": LedgerEntry.__table__,  # type: ignore[dict-item]
    "decision": Decision.__table__,  # type: ignore[dict-item]
}
# Never exported: how a resumable upload was split is transport detail, not record.
SKIPPED_COLUMNS = {"upload_id", "part_size", "request_fingerprint"}


def _text(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return value


def _arrow_type(column: Any) -> pa.DataType:
    kind = column.type
    if isinstance(kind, Boolean):
        return pa.bool_()
    if isinstance(kind, Integer):
        return pa.int64()
    if isinstance(kind, Float):
        return pa.float64()
    if isinstance(kind, DateTime):
        return pa.timestamp("us", tz="UTC")
    return pa.string()


class _Writer:
    """One output file in one format, written a batch at a time."""

    def __init__(self, path: Path, fmt: str, table: Table, names: list[str]) -> None:
        self.fmt, self.names, self.rows = fmt, names, 0
        if fmt == "parquet":
            cols = {c.name: c for c in table.columns}
            self.schema = pa.schema([(n, _arrow_type(cols[n])) for n in names])
            self.parquet = pq.ParquetWriter(path, self.schema)
        else:
            self.fh = path.open("w", newline="", encoding="utf-8")
            if fmt == "csv":
                self.csv = csv.writer(self.fh)
                self.csv.writerow(names)

    def write(self, batch: list[Any]) -> None:
        self.rows += len(batch)
        if self.fmt == "parquet":
            columns: list[Any] = list(zip(*batch, strict=True)) if batch else []
            if not columns:
                return
            arrays = [
                pa.array([_text(v) if t == pa.string() else v for v in col], type=t)
                for col, t in zip(columns, self.schema.types, strict=True)
            ]
            self.parquet.write_table(pa.Table.from_arrays(arrays, schema=self.schema))
        elif self.fmt == "csv":
            self.csv.writerows([["" if v is None else _text(v) for v in row] for row in batch])
        else:
            for row in batch:
                record = {n: _text(v) for n, v in zip(self.names, row, strict=True)}
                self.fh.write(json.dumps(record, ensure_ascii=False) + "\n")

    def close(self) -> None:
        if self.fmt == "parquet":
            self.parquet.close()
        else:
            self.fh.close()


def _batches(
    session: Session, model: type[Base], column: str, since: datetime | None, until: datetime | None
) -> tuple[list[str], Iterator[list[Any]]]:
    table: Table = model.__table__  # type: ignore[assignment]
    cols = [c for c in table.columns if c.name not in SKIPPED_COLUMNS]
    stmt = select(*cols)
    when = table.c[column]
    if since is not None:
        stmt = stmt.where(when >= since)
    if until is not None:
        stmt = stmt.where(when < until)
    order = table.c["seq"] if model is AuditEvent else when
    # A server-side cursor: rows arrive a batch at a time instead of all at once.
    stmt = stmt.order_by(order, *table.primary_key.columns).execution_options(
        stream_results=True, yield_per=BATCH
    )
    result = session.execute(stmt)
    return [c.name for c in cols], (list(p) for p in result.partitions(BATCH))


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class ExportResult:
    out: Path
    manifest: dict[str, Any]


def record_download(
    session: Session, *, actor: str, fmt: str, since: datetime | None, until: datetime | None
) -> None:
    """Custody: an export leaves the system through the browser or the API."""
    audit.record(session, actor=actor, action="export.downloaded", object_type="export",
                 object_id=fmt, data={"from": since, "to": until})  # fmt: skip


def export(
    session: Session, *, out: Path, fmt: str, since: datetime | None, until: datetime | None
) -> ExportResult:
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}")
    out.mkdir(parents=True, exist_ok=True)
    # Anchored before the rows are read: an export without --to holds every event up to the
    # signed head (and perhaps a few appended since).
    note = checkpoint.sign_head(session)
    files: dict[str, dict[str, Any]] = {}
    first_prev, last_hash, first_seq, last_seq = None, None, None, None
    for name, (model, column) in TABLES.items():
        names, batches = _batches(session, model, column, since, until)
        path = out / f"{name}.{fmt}"
        writer = _Writer(path, fmt, model.__table__, names)  # type: ignore[arg-type]
        for batch in batches:
            if model is AuditEvent and batch:
                at = {n: i for i, n in enumerate(names)}
                if first_prev is None:
                    first_prev, first_seq = batch[0][at["prev_hash"]], batch[0][at["seq"]]
                last_hash, last_seq = batch[-1][at["hash"]], batch[-1][at["seq"]]
            writer.write(batch)
        writer.close()
        files[path.name] = {"sha256": sha256_file(path), "rows": writer.rows}
    manifest = {
        "mvq_export": 1,
        "format": fmt,
        "period": {"from": _text(since), "to": _text(until)},
        "created_at": utcnow().isoformat(),
        "files": files,
        "chain": {
            "first_seq": first_seq,
            "last_seq": last_seq,
            # The export's events continue the chain from here: the previous export's head.
            "starts_after": first_prev or GENESIS,
            "head": last_hash,
            "database_head": chain_head(session),
            # The signed checkpoint of the log's Merkle tree then, also kept in S3 under a key
            # never replaced.
            "checkpoint": note,
        },
    }
    signed = signing.sign_manifest(manifest)
    (out / "manifest.json").write_text(json.dumps(signed, indent=2, sort_keys=True))
    return ExportResult(out, signed)
