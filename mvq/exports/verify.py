"""Checks an export without trusting whoever produced it: the manifest's signature against a
known public key, every file's SHA-256 and row count, and the audit events' chain, from the
previous export's head to this export's head."""

import csv
import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from mvq.audit import binding, checkpoint
from mvq.audit.service import hash_fields
from mvq.audit.signing import manifest_signed_by
from mvq.exports.dataset import BOUND_TABLES, TABLES, sha256_file


class ExportInvalid(Exception):
    """The export does not check out; the message says where."""


def _events(path: Path, fmt: str) -> Iterator[dict[str, Any]]:
    if fmt == "parquet":
        for batch in pq.ParquetFile(path).iter_batches(batch_size=5_000):
            yield from batch.to_pylist()
        return
    with path.open(encoding="utf-8", newline="") as fh:
        yield from csv.DictReader(fh) if fmt == "csv" else (json.loads(line) for line in fh)


def _rows(path: Path, fmt: str) -> int:
    if fmt == "parquet":
        return int(pq.ParquetFile(path).metadata.num_rows)
    with path.open(encoding="utf-8", newline="") as fh:
        return sum(1 for _ in csv.reader(fh)) - 1 if fmt == "csv" else sum(1 for _ in fh)


def _fields(event: dict[str, Any]) -> dict[str, Any]:
    occurred = event["occurred_at"]
    data = event["data"]
    return {
        **event,
        "occurred_at": occurred.isoformat() if isinstance(occurred, datetime) else occurred,
        "data": json.loads(data) if isinstance(data, str) else data,
    }


def _check_bound_rows(directory: Path, fmt: str) -> None:
    """Every exported ledger entry and decision against the digest its exported audit event
    recorded. A row whose event falls outside the period is not judged here."""
    names = {str(model.__tablename__): name for name, (model, _) in TABLES.items()}
    for object_type, table in BOUND_TABLES.items():
        events = (_fields(e) for e in _events(directory / f"audit_events.{fmt}", fmt))
        bound = binding.bindings(events, object_type)
        rows = _events(directory / f"{names[table.name]}.{fmt}", fmt)
        for problem in binding.check_rows(table, rows, bound, complete=False):
            raise ExportInvalid(str(problem))


def _check_checkpoint(chain: dict[str, Any], public_key: str) -> None:
    """The checkpoint taken at the export is signed by the log's key (the tree's root is what
    `mvq audit verify` and the witnesses check)."""
    note = chain.get("checkpoint")
    if not note:
        return
    try:
        checkpoint.parse(note, public_key=public_key)
    except checkpoint.CheckpointInvalid as exc:
        raise ExportInvalid(f"manifest checkpoint: {exc}") from exc


def load_manifest(directory: Path, public_key: str) -> dict[str, Any]:
    path = directory / "manifest.json"
    if not path.is_file():
        raise ExportInvalid(f"{path}: no manifest")
    manifest: dict[str, Any] = json.loads(path.read_text())
    if not manifest_signed_by(manifest, public_key):
        raise ExportInvalid(f"{path}: the signature does not verify against the public key")
    return manifest


def verify(directory: Path, *, public_key: str, previous: Path | None = None) -> dict[str, Any]:
    """Returns the manifest if everything checks out; raises ExportInvalid naming the first
    problem otherwise."""
    manifest = load_manifest(directory, public_key)
    fmt = manifest["format"]
    for name, expected in manifest["files"].items():
        path = directory / name
        if not path.is_file():
            raise ExportInvalid(f"{name}: missing")
        if sha256_file(path) != expected["sha256"]:
            raise ExportInvalid(f"{name}: SHA-256 differs from the manifest")
        if _rows(path, fmt) != expected["rows"]:
            raise ExportInvalid(f"{name}: row count differs from the manifest")
    chain = manifest["chain"]
    prev = chain["starts_after"]
    for event in _events(directory / f"audit_events.{fmt}", fmt):
        fields = _fields(event)
        if fields["prev_hash"] != prev:
            raise ExportInvalid(f"audit event {event['seq']}: does not follow the event before")
        if hash_fields(fields) != fields["hash"]:
            raise ExportInvalid(f"audit event {event['seq']}: hash does not match its contents")
        prev = fields["hash"]
    if chain["head"] is not None and prev != chain["head"]:
        raise ExportInvalid("audit events: the last event is not the manifest's chain head")
    _check_bound_rows(directory, fmt)
    _check_checkpoint(chain, public_key)
    if previous is not None:
        before = load_manifest(previous, public_key)["chain"]
        if before["head"] != chain["starts_after"]:
            raise ExportInvalid("audit events: this export does not continue the previous one")
    return manifest
