"""What the restore drill checks on a restored database, each a Check with its reason:

- the audit log: the chain, the rows it binds and the Merkle tree, by the same code as
  `mvq audit verify` (mvq.exports.integrity.verify_log), anchored to the newest checkpoint in S3
  that the restored log should contain (a witnessed one when witnesses are configured), or to
  the newest signed export given when there is no checkpoint;
- the ledger: every unit's balance and debt (mvq.scoring.ledger.position) against the sum of
  its ledger events in the log, and the day totals against ledger.rebuild_daily's;
- the originals: a seeded random sample re-hashed from the backup bucket against the SHA-256
  the database recorded.
"""

import random
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from sqlalchemy import select
from sqlalchemy.orm import Session

from mvq import storage
from mvq.audit import checkpoint, notes, signing, tree, witnesses
from mvq.audit.models import AuditEvent
from mvq.audit.service import verify_chain
from mvq.backup import bucket
from mvq.db import session_factory
from mvq.exports import integrity
from mvq.exports import verify as export_verify
from mvq.exports.dataset import BOUND_TABLES
from mvq.media.models import Media
from mvq.scoring import ledger
from mvq.scoring.models import LedgerEntry, UnitDailyPoints


@dataclass
class Check:
    ok: bool
    reason: str
    seconds: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)

    def shown(self) -> dict[str, Any]:
        return asdict(self)


def timed(started: float, check: Check) -> Check:
    check.seconds = round(time.monotonic() - started, 3)
    return check


def _witnessed_by(note: str) -> list[str]:
    text, lines = notes.split(note)
    return [w.url for w in witnesses.configured()
            if notes.cosigned_by(text, lines, name=w.name, public_key=w.public_key)]  # fmt: skip


def newest_checkpoint(session: Session, *, events: int) -> tuple[str, checkpoint.Checkpoint] | None:
    """What anchors the log, and the newest checkpoint in S3 of at most `events` events
    (cosigned by a configured witness, if any is configured). Keys list the biggest tree first."""
    name = checkpoint.instance(session)
    if name is None:
        return None
    prefix = f"{checkpoint.PREFIX}{checkpoint.origin().removeprefix(checkpoint.ORIGIN)}/{name}/"
    wanted = bool(witnesses.configured())
    for key in storage.keys(prefix):
        size = int(key.rsplit("/", 1)[1].split("-")[1])
        if size > events:
            continue
        note = storage.get_bytes(key).decode()
        found = checkpoint.parse(note)  # the log's signature checked
        cosigners = _witnessed_by(note)
        if cosigners or not wanted:
            by = f" witnessed by {', '.join(cosigners)}" if cosigners else " (not witnessed)"
            return f"the checkpoint of {found.size} events in S3{by}", found
    return None


def newest_export(exports: list[Path], *, events: int) -> tuple[str, checkpoint.Checkpoint] | None:
    """The signed export (verified whole) whose checkpoint is the biggest of at most `events`."""
    best: tuple[str, checkpoint.Checkpoint] | None = None
    for directory in exports:
        manifest = export_verify.verify(directory, public_key=signing.public_key_hex(),
                                        previous=None)  # fmt: skip
        note = manifest["chain"].get("checkpoint")
        if not note:
            continue
        found = checkpoint.parse(note)
        if found.size <= events and (best is None or found.size > best[1].size):
            best = f"the signed export {directory} (checkpoint of {found.size} events)", found
    return best


def audit_log(url: str, *, exports: list[Path]) -> Check:
    started = time.monotonic()
    with session_factory(url)() as session:
        tree.integrate(session)  # the restored tree may end before the restored events
        session.commit()
    with session_factory(url)() as session:
        report = verify_chain(session, bound_types=BOUND_TABLES)
        anchored: integrity.Anchors = []

        def anchors() -> integrity.Anchors:
            found = newest_checkpoint(session, events=report.events)
            if found is None and exports:
                found = newest_export(exports, events=report.events)
            if found is None and report.events:
                cosigned = (
                    " cosigned by a witness in MVQ_WITNESSES" if witnesses.configured() else ""
                )
                raise integrity.Failed(
                    f"nothing to check the restored log of {report.events} events against: no "
                    f"checkpoint in S3{cosigned} covers at most that many, and no signed export "
                    "was given (--export)"
                )
            anchored[:] = [] if found is None else [found]
            return anchored

        try:
            root = integrity.verify_log(session, report, anchors=anchors)
        except integrity.Failed as exc:
            return timed(started, Check(False, exc.problem, details={
                "events": report.events, "first_bad_seq": exc.first_bad_seq}))  # fmt: skip
        except (checkpoint.CheckpointInvalid, export_verify.ExportInvalid) as exc:
            return timed(started, Check(False, f"the anchor does not check out: {exc}"))
        except (BotoCoreError, ClientError) as exc:
            return timed(started, Check(False, f"the checkpoints in S3 cannot be read: {exc}"))
    anchor = anchored[0][0] if anchored else "nothing (the log is empty)"
    return timed(started, Check(True, f"{report.events} events chain, bind their rows and extend "
                                f"{anchor}", details={"events": report.events, "head": report.head,
                                                      "root": root.hex()}))  # fmt: skip


def balances(url: str) -> Check:
    started = time.monotonic()
    with session_factory(url)() as session:
        from_log: dict[str, int] = defaultdict(int)
        ledger_events = select(AuditEvent.data).where(AuditEvent.object_type == "ledger_entry")
        for data in session.scalars(ledger_events.execution_options(yield_per=10_000)):
            from_log[str(data["unit_id"])] += int(data["points"])
        units = set(from_log) | set(session.scalars(select(LedgerEntry.unit_id).distinct()))
        for unit_id in sorted(units):
            held = ledger.position(session, unit_id=unit_id)
            net = from_log.get(unit_id, 0)
            if (held.balance, held.debt) != (max(net, 0), max(-net, 0)):
                return timed(started, Check(False, (
                    f"unit {unit_id}: the ledger gives balance {held.balance} and debt "
                    f"{held.debt}, its events in the audit log add up to {net}")))  # fmt: skip
        stored = _day_totals(session)
        ledger.rebuild_daily(session)
        session.flush()
        rebuilt = _day_totals(session)
        session.rollback()
    for key in sorted(stored.keys() | rebuilt.keys()):
        if stored.get(key, (0, 0)) != rebuilt.get(key, (0, 0)):
            unit_id, day = key
            return timed(started, Check(False, (
                f"unit {unit_id} on {day}: the day totals say (earned, spent) "
                f"{stored.get(key)}, the ledger's entries {rebuilt.get(key)}")))  # fmt: skip
    return timed(started, Check(True, f"every unit's balance and debt ({len(units)} units) "
                                "match its ledger events in the log; day totals match the entries",
                                details={"units": len(units)}))  # fmt: skip


def _day_totals(session: Session) -> dict[tuple[str, Any], tuple[int, int]]:
    rows = session.execute(select(UnitDailyPoints.unit_id, UnitDailyPoints.day,
                                  UnitDailyPoints.earned, UnitDailyPoints.spent))  # fmt: skip
    return {(u, d): (e, s) for u, d, e, s in rows}


def originals(url: str, *, sample: int, seed: int) -> Check:
    started = time.monotonic()
    with session_factory(url)() as session:
        hashed = select(Media.id, Media.s3_key, Media.sha256).where(Media.sha256.is_not(None))
        rows = session.execute(hashed.order_by(Media.id)).all()
    # Seeded and printed, so a failing sample can be drawn again; not a secret.
    picked = random.Random(seed).sample(rows, min(sample, len(rows)))  # noqa: S311
    checked, size, problems = 0, 0, []
    hashing = time.monotonic()
    for media_id, key, recorded in picked:
        found = bucket.sha256_of(key)
        checked += 1
        if found is None:
            problems.append(f"original {key} (media {media_id}) is missing from the backup bucket")
            continue
        size += found[1]
        if found[0] != recorded:
            problems.append(f"original {key} (media {media_id}): the backed-up bytes hash to "
                            f"{found[0]}, the database recorded {recorded}")  # fmt: skip
    spent = time.monotonic() - hashing
    details = {"seed": seed, "checked": checked, "of": len(rows), "bytes": size,
               "per_second": round(checked / spent, 1) if spent and checked else None,
               "problems": problems}  # fmt: skip
    if problems:
        return timed(started, Check(False, "; ".join(problems[:3]), details=details))
    return timed(started, Check(True, f"{checked} of {len(rows)} originals (seed {seed}) match "
                                "their recorded SHA-256", details=details))  # fmt: skip
