"""`mvq restore-drill`: restore the newest backup (at or before a moment) into a scratch
database, check it, and say how much was lost and how long it took. Nothing here writes to the
live database or to a backup; the scratch copy is removed afterwards."""

import secrets
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from mvq import backup
from mvq.audit.models import AuditEvent
from mvq.backup import checks
from mvq.db import get_engine, session_factory


def _last_event(session: Session) -> dict[str, Any] | None:
    last = session.scalar(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1))
    return None if last is None else {"seq": last.seq, "occurred_at": last.occurred_at.isoformat()}


def _live_engine(url: str) -> Engine:
    """An engine for the one look at the live database. A database host that is down may drop
    packets instead of refusing them: give up after seconds, not the system's TCP minutes."""
    timeout = {"connect_timeout": 10} if make_url(url).get_backend_name() == "postgresql" else {}
    return create_engine(url, connect_args=timeout, poolclass=NullPool)


def recovery_point(*, live_url: str, restored_url: str) -> dict[str, Any]:
    """The last audit event recovered against the last one written in the live database, and
    how many events came after the one recovered.

    After a crash the live database is the very thing lost (a Postgres killed, its host
    gone), so it may not be readable: the drill then reports `live` and `events_lost` as null
    with the reason, and still restores and checks. It does not guess what the live side held:
    only who had the acknowledgements (the clients, the API's request log) can say what a
    restore lost then; the recovered event's `occurred_at` is the moment they compare with."""
    with session_factory(restored_url)() as session:
        recovered = _last_event(session)
    point: dict[str, Any] = {"recovered": recovered}
    engine = _live_engine(live_url)
    try:
        with Session(engine) as session:
            point["live"] = _last_event(session)
            after = AuditEvent.seq > (recovered["seq"] if recovered else 0)
            point["events_lost"] = session.scalar(select(func.count()).where(after))
    except SQLAlchemyError as exc:
        point |= {"live": None, "events_lost": None,
                  "live_unreadable": str(exc).strip().splitlines()[0]}  # fmt: skip
    finally:
        engine.dispose()
    return point


def run(
    live_url: str, *, at: datetime | None, sample: int, seed: int | None, exports: list[Path]
) -> dict[str, Any]:
    """The drill's report (JSON-ready); report["ok"] is whether every check passed."""
    seed = secrets.randbelow(2**31) if seed is None else seed
    started = time.monotonic()
    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="mvq-drill-") as work:
        # Under root a restored Postgres runs as the postgres user, which must get through to
        # its own (owner-only) directory in here: traversable by others, not listable.
        Path(work).chmod(0o711)
        with backup.restored(live_url, at=at, workdir=Path(work)) as url:
            seconds["restore"] = round(time.monotonic() - started, 3)
            try:
                point = recovery_point(live_url=live_url, restored_url=url)
                found = {
                    "audit_log": checks.audit_log(url, exports=exports),
                    "ledger": checks.balances(url),
                    "originals": checks.originals(url, sample=sample, seed=seed),
                }
            finally:
                get_engine(url).dispose()  # before the scratch copy goes
    seconds |= {name: check.seconds for name, check in found.items()}
    seconds["total"] = round(time.monotonic() - started, 3)
    return {
        "ok": all(check.ok for check in found.values()),
        "database": make_url(live_url).get_backend_name(),
        "at": None if at is None else at.isoformat(),
        "recovery_point": point,
        "seconds": seconds,
        "originals_per_second": found["originals"].details.get("per_second"),
        "checks": {name: check.shown() for name, check in found.items()},
    }
