import enum
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from mvq.db import Base, utcnow
from mvq.ids import new_id


class ItemState(enum.StrEnum):
    pending = "pending"
    leased = "leased"
    escalated = "escalated"
    decided = "decided"


class DecisionKind(enum.StrEnum):
    approve = "approve"
    reject = "reject"
    escalate = "escalate"


class Stage(enum.StrEnum):
    review = "review"  # an ordinary decision, or the first approval of a four-eyes item
    second = "second"  # the second look at a four-eyes item
    overturn = "overturn"  # a senior replacing an earlier final decision
    # A reviewer taking back their own decision within seconds; names it in overturns_id.
    undo = "undo"


class ReviewItem(Base):
    """A submission's place in the review queue. At most one lease holder at a time."""

    __tablename__ = "review_items"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    submission_id: Mapped[str] = mapped_column(ForeignKey("submissions.id"), unique=True)
    state: Mapped[str] = mapped_column(String(20), index=True)
    # Flagged and high-value claims first; see review.leases.priority_of.
    priority: Mapped[int] = mapped_column(default=0)
    # The claim's worth under the rules in force when it occurred, and whether it has flags.
    points: Mapped[int | None]
    flagged: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Escalated: only seniors may take it, including while a senior holds the lease.
    senior_only: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Set by the first approval of a four-eyes item; that reviewer may not give the second.
    first_reviewer_id: Mapped[str | None] = mapped_column(ForeignKey("staff_users.id"))
    leased_by: Mapped[str | None] = mapped_column(ForeignKey("staff_users.id"))
    lease_token: Mapped[str | None] = mapped_column(String(64))
    leased_at: Mapped[datetime | None]
    lease_expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


# The claim walks this index in its own order and stops at the first row it may lease.
Index(
    "ix_review_items_queue",
    ReviewItem.state,
    ReviewItem.senior_only,
    ReviewItem.priority.desc(),
    ReviewItem.created_at,
)


class Decision(Base):
    __tablename__ = "decisions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    review_item_id: Mapped[str] = mapped_column(ForeignKey("review_items.id"), index=True)
    submission_id: Mapped[str] = mapped_column(ForeignKey("submissions.id"), index=True)
    reviewer_id: Mapped[str] = mapped_column(ForeignKey("staff_users.id"))
    decision: Mapped[str] = mapped_column(String(20))
    target_type: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(20))
    reason_code: Mapped[str | None] = mapped_column(String(40))
    comment: Mapped[str | None] = mapped_column(Text)
    stage: Mapped[str] = mapped_column(String(20), default=Stage.review, server_default="review")
    # Overturns carry no lease; they name the decision they replace.
    lease_token: Mapped[str | None] = mapped_column(String(64))
    leased_at: Mapped[datetime | None]
    overturns_id: Mapped[str | None] = mapped_column(ForeignKey("decisions.id"))
    # Whether the item was taken from the seniors' lane: an undo puts it back exactly as it
    # was, and the decision itself no longer says (it sets the lane for what comes next).
    from_senior_lane: Mapped[bool | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


# "My recent decisions" and the undo both read one reviewer's latest decisions.
Index("ix_decisions_reviewer_created", Decision.reviewer_id, Decision.created_at)


class AppealStatus(enum.StrEnum):
    pending = "pending"
    upheld = "upheld"
    denied = "denied"


class Appeal(Base):
    """A unit's one appeal against a rejection, decided by a senior outside the original
    decision. Changes once, pending to decided (the migration's trigger holds it there)."""

    __tablename__ = "appeals"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    # Unique: a claim is appealed once, whatever two racing requests do.
    submission_id: Mapped[str] = mapped_column(ForeignKey("submissions.id"), unique=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id"), index=True)
    # The rejection appealed against; its time opened the window.
    rejection_id: Mapped[str] = mapped_column(ForeignKey("decisions.id"))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), index=True, default=AppealStatus.pending)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(ForeignKey("staff_users.id"))
    decided_at: Mapped[datetime | None]
    decision_reason: Mapped[str | None] = mapped_column(Text)
    # The overturn an upheld appeal made.
    decision_id: Mapped[str | None] = mapped_column(ForeignKey("decisions.id"))


class ItemNote(Base):
    """One message in an item's thread: a question to a colleague, an answer, a hint. Staff
    only (units never read it); appended, never changed, like the decisions beside it."""

    __tablename__ = "item_notes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    review_item_id: Mapped[str] = mapped_column(ForeignKey("review_items.id"), index=True)
    submission_id: Mapped[str] = mapped_column(ForeignKey("submissions.id"))
    author_id: Mapped[str] = mapped_column(ForeignKey("staff_users.id"))
    body: Mapped[str] = mapped_column(Text)
    # Written on a golden or re-review copy (mvq.review.qa): stored against the real claim, and
    # shown in that copy's thread only, so the copy's thread looks as a fresh item's does.
    qa_task_id: Mapped[str | None] = mapped_column(ForeignKey("qa_tasks.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class NoteMention(Base):
    """A colleague named in a note (`@name`), resolved when it was written: what the "mentions
    you" list on the queue reads."""

    __tablename__ = "note_mentions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    note_id: Mapped[str] = mapped_column(ForeignKey("item_notes.id"), index=True)
    staff_user_id: Mapped[str] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# "Mentions you": one person's newest mentions first.
Index("ix_note_mentions_person", NoteMention.staff_user_id, NoteMention.created_at)


class WarningKind(enum.StrEnum):
    too_fast = "too_fast"  # a verdict before the footage was seen, or sooner than its floor
    take_break = "take_break"  # a long stretch of work without a pause


class WarningEvent(enum.StrEnum):
    shown = "shown"
    overridden = "overridden"  # the reviewer pressed the second key and decided anyway


class ReviewWarning(Base):
    """A warning put to a reviewer before a likely mistake, and their override of it: appended,
    never changed (a trigger says so). An override names the warning it answers, so "heeded"
    is a warning that no override names (see review.warnings.summary)."""

    __tablename__ = "review_warnings"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(20))
    event: Mapped[str] = mapped_column(String(20))
    reviewer_id: Mapped[str] = mapped_column(ForeignKey("staff_users.id"))
    review_item_id: Mapped[str | None] = mapped_column(ForeignKey("review_items.id"))
    # Why, in codes the page puts in words: not_viewed, too_fast.
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    elapsed_seconds: Mapped[float | None]
    floor_seconds: Mapped[float | None]
    answers_id: Mapped[str | None] = mapped_column(ForeignKey("review_warnings.id"))
    decision: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


Index("ix_review_warnings_reviewer_created", ReviewWarning.reviewer_id, ReviewWarning.created_at)


class ReasonPolicy(Base):
    """One version of the written policy behind a decision's reason (a reject reason's code, or
    "approve"), in Ukrainian and English. Versions are appended, never changed: a decision can
    always be read against the words in force when it was made."""

    __tablename__ = "reason_policies"
    __table_args__ = (UniqueConstraint("reason_code", "version"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    reason_code: Mapped[str] = mapped_column(String(40), index=True)
    version: Mapped[int]
    text_uk: Mapped[str] = mapped_column(Text)
    text_en: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
