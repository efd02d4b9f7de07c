"""Claims: creation (idempotent per unit and key), reading with object-level access."""

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mvq.audit import service as audit
from mvq.auth import policy
from mvq.auth.principal import Principal
from mvq.db import aware
from mvq.errors import Conflict, Forbidden, Invalid, NotFound
from mvq.rules import service as rules
from mvq.rules.models import Outcome
from mvq.submissions.models import Flag, Submission, SubmissionStatus

MAX_CLAIM_AGE = timedelta(days=365)
CLOCK_SKEW = timedelta(minutes=5)


def fingerprint(body: Mapping[str, object]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def create(
    session: Session,
    *,
    principal: Principal,
    target_type: str,
    outcome: str,
    occurred_at: datetime | None,
    lat: float | None,
    lon: float | None,
    note: str | None,
    idempotency_key: str | None,
    now: datetime,
) -> tuple[Submission, bool]:
    """Returns the submission and whether it was created now (False: an idempotent replay).

    `occurred_at` None leaves the time to the footage: until processing finds the file's
    capture time or telemetry (take_time_from_footage), the claim holds its creation time."""
    if not policy.acts_for_unit(principal) or principal.unit_id is None:
        raise Forbidden("only units submit claims")
    body = {
        "target_type": target_type,
        "outcome": outcome,
        "occurred_at": occurred_at,
        "lat": lat,
        "lon": lon,
        "note": note,
    }
    print_ = fingerprint(body)
    if idempotency_key is not None:
        existing = _replay(session, principal=principal, key=idempotency_key, fingerprint=print_)
        if existing is not None:
            return existing, False
    target_type = target_type.strip().lower()
    source = "unit" if occurred_at is not None else "footage"
    occurred_at = occurred_at if occurred_at is not None else now
    if outcome not in set(Outcome):
        raise Invalid(f"outcome must be one of {', '.join(Outcome)}", code="bad_outcome")
    if occurred_at > now + CLOCK_SKEW:
        raise Invalid("occurred_at is in the future", code="occurred_in_future")
    if occurred_at < now - MAX_CLAIM_AGE:
        raise Invalid("occurred_at is more than a year ago", code="occurred_too_old")
    if target_type not in rules.known_target_types(session, at=occurred_at):
        raise Invalid(f"unknown target_type {target_type!r}", code="unknown_target_type")
    if (lat is None) != (lon is None):
        raise Invalid("give both lat and lon, or neither", code="bad_position")
    submission = Submission(
        unit_id=principal.unit_id,
        status=SubmissionStatus.awaiting_upload,
        target_type=target_type,
        outcome=outcome,
        occurred_at=occurred_at,
        occurred_at_source=source,
        submitted_by=principal.member_id,
        lat=lat,
        lon=lon,
        note=note,
        idempotency_key=idempotency_key,
        request_fingerprint=print_,
    )
    try:
        # Added inside the savepoint: begin_nested() flushes what is pending before it starts,
        # and a duplicate must roll back only the savepoint, not the whole transaction.
        with session.begin_nested():
            session.add(submission)
            session.flush()
    except IntegrityError:
        # A concurrent retry with the same key committed first: answer as its replay.
        assert idempotency_key is not None
        replayed = _replay(session, principal=principal, key=idempotency_key, fingerprint=print_)
        if replayed is None:
            raise
        return replayed, False
    audit.record(
        session,
        actor=principal.actor,
        action="submission.created",
        object_type="submission",
        object_id=submission.id,
        data={
            "unit_id": submission.unit_id,
            "target_type": target_type,
            "outcome": outcome,
            "occurred_at": occurred_at.isoformat(),
            "occurred_at_source": source,
            "submitted_by": principal.member_id,
        },
    )
    return submission, True


def take_time_from_footage(
    session: Session, *, submission: Submission, captured: datetime | None, source: str | None
) -> None:
    """For a claim that left its time to the footage: the first processed file with a capture
    time (or telemetry) gives it, if it is a time a claim could state; else the claim keeps
    its upload time and says so. `source` is "capture_time", "telemetry" or "osd" (the time burned
    into the picture)."""
    if submission.occurred_at_source != "footage":
        return
    created = aware(submission.created_at)
    plausible = captured is not None and (
        created - MAX_CLAIM_AGE <= aware(captured) <= created + CLOCK_SKEW
    )
    if captured is not None and source is not None and plausible:
        submission.occurred_at, submission.occurred_at_source = captured, source
    else:
        submission.occurred_at_source = "upload_time"
    audit.record(
        session,
        actor="worker",
        action="submission.time_from_footage",
        object_type="submission",
        object_id=submission.id,
        data={"occurred_at": aware(submission.occurred_at).isoformat(),
              "source": submission.occurred_at_source},
    )  # fmt: skip


def _replay(
    session: Session, *, principal: Principal, key: str, fingerprint: str
) -> Submission | None:
    existing = session.scalar(
        select(Submission).where(
            Submission.unit_id == principal.unit_id, Submission.idempotency_key == key
        )
    )
    if existing is not None and existing.request_fingerprint != fingerprint:
        raise Conflict("Idempotency-Key reused with a different body", code="idempotency_mismatch")
    return existing


def _may_read_claims(principal: Principal) -> None:
    if not policy.may_read_claims(principal):
        raise Forbidden("the marketplace account records spends and reads nothing else")


def get_visible(session: Session, *, principal: Principal, submission_id: str) -> Submission:
    """A claim the principal may not see (another unit's; a linked unit's for staff) is 'not
    found', never 'forbidden', so its id leaks nothing."""
    _may_read_claims(principal)
    submission = session.get(Submission, submission_id)
    if submission is None or not policy.may_see_claim(principal, claim_unit_id=submission.unit_id):
        raise NotFound("no such submission")
    return submission


def get_any(session: Session, *, submission_id: str) -> Submission:
    """For callers that have already authorized the access (a decision's own claim)."""
    submission = session.get(Submission, submission_id)
    if submission is None:
        raise NotFound("no such submission")
    return submission


def _visible(principal: Principal, status: str | None) -> Select[Any]:
    _may_read_claims(principal)
    stmt = select(Submission)
    if policy.acts_for_unit(principal):
        stmt = stmt.where(Submission.unit_id == principal.unit_id)
    elif principal.unit_id is not None:
        stmt = stmt.where(Submission.unit_id != principal.unit_id)
    if status is not None:
        if status not in set(SubmissionStatus):
            raise Invalid(f"unknown status {status!r}", code="bad_status")
        stmt = stmt.where(Submission.status == status)
    return stmt


def list_visible(
    session: Session, *, principal: Principal, status: str | None, limit: int, offset: int
) -> tuple[list[Submission], int]:
    stmt = _visible(principal, status)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        stmt.order_by(Submission.created_at.desc(), Submission.id).limit(limit).offset(offset)
    )
    return list(rows), total


@dataclass(frozen=True)
class Page:
    """One page of claims, newest first, and where the next (older) one starts, if any."""

    rows: list[Submission]
    total: int
    older: tuple[datetime, str] | None


def page_visible(
    session: Session,
    *,
    principal: Principal,
    status: str | None,
    limit: int,
    before: tuple[datetime, str] | None,
) -> Page:
    """Claims older than `before` (created_at, id), newest first: a keyset page, so a page far
    down costs what the first one does and a claim made meanwhile moves nothing along."""
    stmt = _visible(principal, status)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    if before is not None:
        at, last_id = before
        stmt = stmt.where(
            or_(Submission.created_at < at,
                and_(Submission.created_at == at, Submission.id < last_id))
        )  # fmt: skip
    rows = list(
        session.scalars(
            stmt.order_by(Submission.created_at.desc(), Submission.id.desc()).limit(limit + 1)
        )
    )
    older = (rows[limit - 1].created_at, rows[limit - 1].id) if len(rows) > limit else None
    return Page(rows[:limit], total, older)


def flags_of(session: Session, *, submission_id: str) -> list[Flag]:
    return list(
        session.scalars(select(Flag).where(Flag.submission_id == submission_id).order_by(Flag.kind))
    )
