"""Restore drill benchmark: `mvq backup` and `mvq restore-drill` on the dev stack's SQLite with
N ledger entries, each bound to its audit event (N events in one valid chain), and M originals
in S3 (SeaweedFS), every one of them re-hashed by the drill.

    .venv/bin/python -m bench.restore_drill [--entries 100000] [--units 500] [--originals 200]
                                            [--original-bytes 1048576]

The rows are written in bulk, not through `mvq.scoring.ledger.append`: the app's own path
(a savepoint, a flush, the day total's upsert and `audit.record` per entry) is timed here on
the first `--appended` entries, 225 to 1,400 entries a second on this machine (2 cores, shared
with other work), so a million would take 12 to 75 minutes; in bulk it went 9 to 16 times
faster. The bulk rows are what `append` writes, made by the same functions: each event's hash
by `audit.service.hash_fields`, its `row_sha256` by `audit.binding.digest`, the day totals by
`ledger.rebuild_daily`, the Merkle tree by `audit.tree.integrate` and the checkpoint by
`audit.witnesses.anchor` (no witness: the drill then anchors to that checkpoint in S3). A drill
that passes on them is the check that they are valid.
"""

import argparse
import hashlib
import json
import os
import random
import subprocess
import time
import uuid
from datetime import timedelta

from sqlalchemy import insert

from bench.report import write_section
from deploy import servers
from mvq import storage
from mvq.audit import binding, tree, witnesses
from mvq.audit.models import AuditEvent
from mvq.audit.service import chain_head, hash_fields
from mvq.db import session_factory, utcnow
from mvq.media.models import Media, MediaStatus
from mvq.scoring import ledger
from mvq.scoring.models import EntryType, LedgerEntry
from mvq.submissions.models import Submission, SubmissionStatus
from mvq.units.models import Unit
from testkit import harness

CHUNK = 20_000
TABLE = LedgerEntry.__table__


def units(url: str, count: int) -> list[str]:
    ids = [str(uuid.uuid4()) for _ in range(count)]
    with session_factory(url)() as session:
        session.execute(insert(Unit), [{"id": u, "name": f"unit-{n}"} for n, u in enumerate(ids)])
        session.commit()
    return ids


def appended(url: str, unit_ids: list[str], count: int) -> float:
    """`count` entries through the app's own ledger.append, a commit every 100; rows a second."""
    started = time.perf_counter()
    with session_factory(url)() as session:
        for n in range(count):
            entry = LedgerEntry(unit_id=unit_ids[n % len(unit_ids)], entry_type=EntryType.award,
                                points=10)  # fmt: skip
            ledger.append(session, entry, actor="bench")
            if n % 100 == 99:
                session.commit()
        session.commit()
    return count / (time.perf_counter() - started)


def bulk(url: str, unit_ids: list[str], count: int) -> float:
    """`count` entries and their events in one chain after what is there; rows a second."""
    rng = random.Random(5)
    start = utcnow().replace(microsecond=0) - timedelta(days=365)
    started = time.perf_counter()
    with session_factory(url)() as session:
        prev = chain_head(session)  # after the entries appended the app's way
        for first in range(0, count, CHUNK):
            entries, events = [], []
            for n in range(first, min(count, first + CHUNK)):
                kind = rng.choices(list(EntryType), [90, 3, 7])[0]
                points = rng.choice([6, 10, 20, 40, 50])
                at = start + timedelta(seconds=n * 30)
                entry = {"id": str(uuid.uuid4()), "unit_id": rng.choice(unit_ids),
                         "entry_type": kind.value,
                         "points": points if kind == EntryType.award else -points,
                         "created_at": at}  # fmt: skip
                fields = {"prev_hash": prev, "occurred_at": at.isoformat(), "actor": "bench",
                          "action": f"ledger.{kind.value}", "object_type": "ledger_entry",
                          "object_id": entry["id"],
                          "data": {"unit_id": entry["unit_id"], "points": entry["points"],
                                   "submission_id": None, "decision_id": None,
                                   "rule_version_id": None, "dispute_id": None,
                                   binding.ROW_DIGEST: binding.digest(TABLE, entry)}}  # fmt: skip
                prev = hash_fields(fields)
                entries.append(entry)
                events.append({**fields, "occurred_at": at, "hash": prev})
            session.execute(insert(LedgerEntry), entries)
            session.execute(insert(AuditEvent), events)
            session.commit()
        ledger.rebuild_daily(session)
        session.commit()
    return count / (time.perf_counter() - started)


def originals(url: str, unit_id: str, count: int, size: int) -> None:
    """`count` processed files of `size` random bytes: rows and their sealed objects in S3."""
    now = utcnow()
    subs, media = [], []
    for n in range(count):
        sid, mid, data = str(uuid.uuid4()), str(uuid.uuid4()), os.urandom(size)
        key, digest = storage.original_key(sid, mid), hashlib.sha256(data).hexdigest()
        storage.put_bytes(key, data, content_type="video/mp4")
        subs.append({"id": sid, "unit_id": unit_id, "status": SubmissionStatus.approved,
                     "target_type": "tank", "outcome": "destroyed", "occurred_at": now,
                     "created_at": now, "updated_at": now})  # fmt: skip
        media.append({"id": mid, "submission_id": sid, "status": MediaStatus.processed,
                      "filename": f"{n}.mp4", "content_type": "video/mp4", "declared_size": size,
                      "declared_sha256": digest, "s3_key": key, "sha256": digest, "size": size,
                      "created_at": now})  # fmt: skip
    with session_factory(url)() as session:
        session.execute(insert(Submission), subs)
        session.execute(insert(Media), media)
        session.commit()


def anchored(url: str) -> float:
    """The tree integrated and a checkpoint stored, as the sweeper does; seconds taken."""
    started = time.perf_counter()
    with session_factory(url)() as session:
        witnesses.anchor(session)
        session.commit()
        assert tree.size(session) == session.query(AuditEvent).count()
    return time.perf_counter() - started


def cli(env: dict[str, str], *args: str) -> tuple[float, str]:
    """The command as an operator runs it (its own process, no time limit); seconds, stdout."""
    started = time.perf_counter()
    done = subprocess.run(servers.mvq_argv(*args), env={**os.environ, **env}, cwd=harness.ROOT,
                          capture_output=True, text=True, check=False)  # fmt: skip
    took = time.perf_counter() - started
    assert done.returncode == 0, done.stderr[-2000:]
    return took, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--units", type=int, default=500)
    parser.add_argument("--appended", type=int, default=2_000)
    parser.add_argument("--originals", type=int, default=200)
    parser.add_argument("--original-bytes", type=int, default=1024**2)
    args = parser.parse_args()
    with harness.temporary_backing("mvq-bench-drill-") as backing:
        url = harness.fresh_database(backing, "sqlite")
        env = {**backing.env, "MVQ_DATABASE_URL": url, "MVQ_WITNESSES": ""}
        harness.use_env(env)
        unit_ids = units(url, args.units)
        app_rate = appended(url, unit_ids, args.appended)
        bulk_rate = bulk(url, unit_ids, args.entries - args.appended)
        originals(url, unit_ids[0], args.originals, args.original_bytes)
        anchor_s = anchored(url)
        db_bytes = os.path.getsize(url.removeprefix("sqlite:///"))
        backup_s, out = cli(env, "backup")
        copied = json.loads(out)
        again_s, out = cli(env, "backup")
        assert json.loads(out)["copied"] == 0, out
        drill_s, out = cli(env, "restore-drill", "--sample", str(args.originals), "--seed", "1")
        # The baseline: the same audit check on the live database, no restore around it.
        verify_s, _ = cli(env, "audit", "verify")
    report = json.loads(out)
    assert report["ok"], out
    steps = report["seconds"]
    point = report["recovery_point"]
    mib = args.original_bytes / 1024**2
    body = f"""## Restore drill, {args.entries:,} ledger entries and audit events (SQLite)

Command: `.venv/bin/python -m bench.restore_drill --entries {args.entries} --units {args.units}
--originals {args.originals}`. {args.entries:,} ledger entries over {args.units} units, each
bound to its audit event in one chain; {args.originals} originals of {mib:g} MiB in SeaweedFS
(all re-hashed). The first {args.appended:,} entries went through `ledger.append` at
{app_rate:,.0f} entries/s; the rest in bulk at {bulk_rate:,.0f}/s (same hashes and digests).
Database {db_bytes / 1024**2:,.0f} MiB; tree integrated and checkpoint stored in {anchor_s:.1f} s.

| step | seconds |
|---|---|
| `mvq backup`, first run (database copy, {copied["copied"]} objects copied) | {backup_s:.1f} |
| `mvq backup` again (nothing new to copy) | {again_s:.1f} |
| drill: restore (copy of the backup file) | {steps["restore"]:.1f} |
| drill: audit log (chain, bound rows, tree, checkpoint) | {steps["audit_log"]:.1f} |
| drill: ledger (balances against the log, day totals) | {steps["ledger"]:.1f} |
| drill: originals ({args.originals} re-hashed) | {steps["originals"]:.1f} |
| drill: in all (report's total) | {steps["total"]:.1f} |
| `mvq restore-drill` as a process (imports, settings, report) | {drill_s:.1f} |
| baseline: `mvq audit verify` on the live database, same run | {verify_s:.1f} |

Originals checked: {report["originals_per_second"]} a second ({mib:g} MiB each). Recovery
point: event {point["recovered"]["seq"]} recovered of {point["live"]["seq"]} written, \
{point["events_lost"]} lost (no writes after the backup here).
"""
    write_section("restore_drill", body)
    print(body)


if __name__ == "__main__":
    main()
