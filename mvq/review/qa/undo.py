"""Undo on a golden or re-review item, as on a live one: the toast after a decision offers it
for `undo_seconds`, and taking it back leases the item to the reviewer again. A page without
that toast after a QA item would tell the reviewer what the item was."""

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mvq.audit import service as audit
from mvq.auth import policy
from mvq.auth.policy import Action
from mvq.auth.principal import Principal
from mvq.errors import Conflict
from mvq.review.models import Decision
from mvq.review.qa.models import QaRecord, QaTask, RecordKind, Rereview, RereviewState


@dataclass(frozen=True)
class Undoable:
    """What the undo toast reads of a decision: as `Decision` names it."""

    id: str
    review_item_id: str
    decision: str
    created_at: datetime


def offer(
    session: Session, *, reviewer: Principal, now: datetime, undo_seconds: int
) -> tuple[Undoable, float] | None:
    """The reviewer's QA decision that may still be undone, if it is their latest decision."""
    record = session.scalar(
        select(QaRecord)
        .where(QaRecord.reviewer_id == reviewer.id, QaRecord.task_id.is_not(None))
        .where(QaRecord.kind.in_([RecordKind.golden, RecordKind.rereview, RecordKind.undo]))
        .order_by(QaRecord.created_at.desc(), QaRecord.id.desc())
        .limit(1)
    )
    # After an undo there is nothing to undo until they answer again, as on a live item.
    if record is None or record.task_id is None or record.kind == RecordKind.undo:
        return None
    live = session.scalar(
        select(func.max(Decision.created_at)).where(Decision.reviewer_id == reviewer.id)
    )
    if live is not None and live > record.created_at:
        return None
    left = undo_seconds - (now - record.created_at).total_seconds()
    if left <= 0:
        return None
    return Undoable(record.id, record.task_id, record.decision, record.created_at), left


def is_qa_record(session: Session, *, decision_id: str, reviewer: Principal) -> bool:
    record = session.get(QaRecord, decision_id)
    return record is not None and record.reviewer_id == reviewer.id


def undo(
    session: Session,
    *,
    reviewer: Principal,
    record_id: str,
    now: datetime,
    lease_seconds: int,
    undo_seconds: int,
) -> QaTask:
    """Withdraws the QA record with an undo record naming it (records are appended, never
    deleted: the figures read only what stands, `models.standing`) and leases the task to the
    reviewer again."""
    policy.require(reviewer, Action.review)
    window = offer(session, reviewer=reviewer, now=now, undo_seconds=undo_seconds)
    if window is None or window[0].id != record_id:
        raise Conflict("the time to undo this decision has passed", code="undo_expired")
    record = session.get_one(QaRecord, record_id)
    task = session.get_one(QaTask, record.task_id)
    if record.rereview_id is not None:
        session.get_one(Rereview, record.rereview_id).state = RereviewState.waiting
    audit.record(session, actor=reviewer.actor, action="qa.undo", object_type="qa_record",
                 object_id=record.id, data={"decision": record.decision,
                                            "submission_id": record.submission_id})  # fmt: skip
    session.add(QaRecord(kind=RecordKind.undo, task_id=task.id, rereview_id=record.rereview_id,
                         submission_id=record.submission_id, reviewer_id=reviewer.id,
                         target_type=record.target_type, decision=record.decision,
                         withdraws_id=record.id, created_at=now))  # fmt: skip
    task.done_at = None
    task.lease_token = secrets.token_urlsafe(24)
    task.leased_at = now
    task.lease_expires_at = now + timedelta(seconds=lease_seconds)
    session.flush()
    return task
