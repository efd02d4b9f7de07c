"""The QA tables. A task is what a reviewer holds in their queue (golden or re-review), with
ids of its own so nothing a reviewer sees names the real claim; a record is one QA verdict,
appended and never changed or deleted (an undo is a record of its own)."""

import enum
from datetime import datetime

from sqlalchemy import ColumnElement, ForeignKey, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, aliased, mapped_column

from mvq.db import Base, utcnow
from mvq.ids import new_id


class TaskKind(enum.StrEnum):
    golden = "golden"
    rereview = "rereview"


class RereviewState(enum.StrEnum):
    waiting = "waiting"  # for a second reviewer's blind look
    agreed = "agreed"
    disputed = "disputed"  # the two disagree: a senior rules
    ruled = "ruled"


class RecordKind(enum.StrEnum):
    golden = "golden"  # a reviewer's answer on a golden item
    rereview = "rereview"  # the blind second look at a live decision
    ruling = "ruling"  # a senior's word on a disagreement
    # A reviewer took back their golden or re-review answer within the undo window; the record
    # names the one it withdraws, which stays (the table is append-only, as decisions are).
    undo = "undo"


class GoldenItem(Base):
    """A decided claim a senior marked with its right answer."""

    __tablename__ = "qa_golden"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    submission_id: Mapped[str] = mapped_column(ForeignKey("submissions.id"), unique=True)
    decision: Mapped[str] = mapped_column(String(20))
    reason_code: Mapped[str | None] = mapped_column(String(40))
    marked_by: Mapped[str] = mapped_column(ForeignKey("staff_users.id"))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Rereview(Base):
    """A live decision sampled for a blind second look."""

    __tablename__ = "qa_rereviews"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    decision_id: Mapped[str] = mapped_column(ForeignKey("decisions.id"), unique=True)
    submission_id: Mapped[str] = mapped_column(ForeignKey("submissions.id"), index=True)
    first_reviewer_id: Mapped[str] = mapped_column(ForeignKey("staff_users.id"))
    target_type: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(20), index=True, default=RereviewState.waiting)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class QaTask(Base):
    """One golden or re-review item in one reviewer's hands. `id` is the item id and
    `alias_id` the claim id the reviewer is shown: both fresh, never the real claim's."""

    __tablename__ = "qa_tasks"
    __table_args__ = (UniqueConstraint("reviewer_id", "submission_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    alias_id: Mapped[str] = mapped_column(String(36), unique=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(20))
    golden_id: Mapped[str | None] = mapped_column(ForeignKey("qa_golden.id"))
    rereview_id: Mapped[str | None] = mapped_column(ForeignKey("qa_rereviews.id"))
    submission_id: Mapped[str] = mapped_column(ForeignKey("submissions.id"))
    reviewer_id: Mapped[str] = mapped_column(ForeignKey("staff_users.id"), index=True)
    lease_token: Mapped[str | None] = mapped_column(String(64))
    leased_at: Mapped[datetime | None]
    lease_expires_at: Mapped[datetime | None]
    done_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class QaRecord(Base):
    """One QA verdict; appended, never changed. `expected_*` is the answer it is judged
    against (the golden answer, or the live decision for a re-review)."""

    __tablename__ = "qa_records"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(20), index=True)
    task_id: Mapped[str | None] = mapped_column(ForeignKey("qa_tasks.id"))
    rereview_id: Mapped[str | None] = mapped_column(ForeignKey("qa_rereviews.id"))
    submission_id: Mapped[str] = mapped_column(ForeignKey("submissions.id"), index=True)
    reviewer_id: Mapped[str] = mapped_column(ForeignKey("staff_users.id"), index=True)
    target_type: Mapped[str] = mapped_column(String(64))
    decision: Mapped[str] = mapped_column(String(20))
    reason_code: Mapped[str | None] = mapped_column(String(40))
    expected_decision: Mapped[str | None] = mapped_column(String(20))
    expected_reason: Mapped[str | None] = mapped_column(String(40))
    correct: Mapped[bool | None]
    seconds: Mapped[float | None]
    footage_seconds: Mapped[float | None]
    # A ruling that overturned the live decision names the overturn.
    overturn_id: Mapped[str | None] = mapped_column(ForeignKey("decisions.id"))
    # An undo record names the answer it withdraws.
    withdraws_id: Mapped[str | None] = mapped_column(ForeignKey("qa_records.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


def standing() -> ColumnElement[bool]:
    """The records that count: answers and rulings not withdrawn by an undo (and not the undo
    records themselves). Every reader of verdicts filters with it."""
    withdrawn = aliased(QaRecord)
    return (QaRecord.kind != RecordKind.undo) & ~QaRecord.id.in_(
        select(withdrawn.withdraws_id).where(withdrawn.withdraws_id.is_not(None))
    )
