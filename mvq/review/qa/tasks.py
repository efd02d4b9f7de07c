"""Golden and re-review items in reviewers' queues.

A task is served only when the reviewer's lane has a live item for them, so an empty queue
never hands out a QA item; it is leased like a live item (same token, same lease time), and it
is shown through `masked`: a fresh item id and a fresh claim id, the state a live item in
review has, and no history. Its decision becomes a QA record and nothing else."""

import math
import random
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, func, inspect, or_, select, update
from sqlalchemy.orm import Session

from mvq.audit import service as audit
from mvq.auth import policy
from mvq.auth.policy import Action
from mvq.auth.principal import Principal
from mvq.db import utcnow
from mvq.errors import Conflict, NotFound
from mvq.media.models import Media
from mvq.review import decisions
from mvq.review.leases import LeaseLost
from mvq.review.models import Decision, DecisionKind, ItemState, ReviewItem, Stage
from mvq.review.qa.models import (
    GoldenItem,
    QaRecord,
    QaTask,
    RecordKind,
    Rereview,
    RereviewState,
    TaskKind,
    standing,
)
from mvq.rules import service as rules
from mvq.settings import get_settings
from mvq.submissions import visibility
from mvq.submissions.models import Submission, SubmissionStatus

# Unpredictable in service; tests pass a seeded random.Random.
SYSTEM_RANDOM = secrets.SystemRandom()
CANDIDATES = 50  # golden items drawn from at random, of those this reviewer may take
WINDOW_DAYS = 30  # the golden share is kept over each reviewer's claims in this window


def golden_due(*, served: int, claims: int, rate: float, draw: float) -> bool:
    """Whether this claim (the `claims`-th of the reviewer's in the window, this one counted)
    gets a golden item, `served` having been golden so far; `draw` is uniform in [0, 1).

    Randomised systematic sampling: the reviewer gets floor(rate x claims + draw) golden
    items, a fresh draw each claim. Where the share is on track, this claim is golden with
    probability frac(rate x claims), so which one is golden cannot be predicted; and over any
    run the share stays within one item of `rate` (independent draws would stray by about
    sqrt(claims x rate), ±22 % over 1,000 claims at 1 in 50), which a calibration needs."""
    return served < math.floor(rate * claims + draw)


def _golden_turn(
    session: Session, *, reviewer: Principal, now: datetime, rate: float, rng: random.Random
) -> bool:
    """This reviewer's counts in the window, for `golden_due`. Never two golden items in a
    row: after a spell with none left to serve, the catching up is spread out."""
    since = now - timedelta(days=WINDOW_DAYS)
    decided = session.scalar(
        select(func.count()).select_from(Decision).where(
            Decision.reviewer_id == reviewer.id,
            Decision.stage.in_([Stage.review, Stage.second]),
            Decision.created_at >= since,
        )
    ) or 0  # fmt: skip
    kinds = list(
        session.scalars(
            select(QaTask.kind)
            .where(QaTask.reviewer_id == reviewer.id, QaTask.created_at >= since)
            .order_by(QaTask.created_at.desc(), QaTask.id)
        )
    )
    served = kinds.count(TaskKind.golden)
    last_live = session.scalar(
        select(func.max(Decision.created_at)).where(Decision.reviewer_id == reviewer.id)
    )
    last_qa = session.scalar(
        select(func.max(QaTask.created_at)).where(
            QaTask.reviewer_id == reviewer.id, QaTask.kind == TaskKind.golden
        )
    )
    if last_qa is not None and (last_live is None or last_qa >= last_live):
        return False
    return golden_due(served=served, claims=decided + len(kinds) + 1, rate=rate,
                      draw=rng.random())  # fmt: skip


def held(session: Session, *, reviewer: Principal, now: datetime) -> list[QaTask]:
    return list(
        session.scalars(
            select(QaTask)
            .where(
                QaTask.reviewer_id == reviewer.id,
                QaTask.done_at.is_(None),
                QaTask.lease_expires_at > now,
            )
            .order_by(QaTask.leased_at, QaTask.id)
        )
    )


def find(session: Session, *, item_id: str, reviewer: Principal) -> QaTask | None:
    """The reviewer's own task under this item id; anyone else's is as unknown as a bad id."""
    task = session.get(QaTask, item_id, populate_existing=True)
    return task if task is not None and task.reviewer_id == reviewer.id else None


def by_alias(session: Session, *, alias_id: str, reviewer: Principal) -> QaTask | None:
    """The reviewer's own task shown under this claim id."""
    if reviewer.kind != "staff":
        return None
    return session.scalar(
        select(QaTask).where(QaTask.alias_id == alias_id, QaTask.reviewer_id == reviewer.id)
    )


def _not_conflicted(stmt, reviewer: Principal):  # type: ignore[no-untyped-def]
    if reviewer.unit_id is None:
        return stmt
    return stmt.where(
        Submission.unit_id != reviewer.unit_id, ~visibility.evidence_touches_unit(reviewer.unit_id)
    )


def _never_judged_by(reviewer: Principal, submission_id):  # type: ignore[no-untyped-def]
    """The reviewer neither decided the claim nor has had it as a QA item before: a claim
    they judged already would tell them what it is."""
    return ~exists().where(
        Decision.submission_id == submission_id, Decision.reviewer_id == reviewer.id
    ) & ~exists().where(QaTask.submission_id == submission_id, QaTask.reviewer_id == reviewer.id)


def take(
    session: Session,
    *,
    reviewer: Principal,
    now: datetime,
    lease_seconds: int,
    rng: random.Random = SYSTEM_RANDOM,
) -> QaTask | None:
    """A golden item at the configured rate, else a live decision waiting for its blind
    second look; None for a live item."""
    settings = get_settings()
    if settings.golden_rate > 0 and _golden_turn(
        session, reviewer=reviewer, now=now, rate=settings.golden_rate, rng=rng
    ):
        stmt = _not_conflicted(
            select(GoldenItem.id, GoldenItem.submission_id)
            .join(Submission, Submission.id == GoldenItem.submission_id)
            .where(GoldenItem.active.is_(True))
            .where(_never_judged_by(reviewer, GoldenItem.submission_id))
            .limit(CANDIDATES),
            reviewer,
        )
        found = session.execute(stmt).all()
        if found:
            golden_id, submission_id = rng.choice(found)
            return _lease(
                session,
                reviewer,
                now,
                lease_seconds,
                kind=TaskKind.golden,
                golden_id=golden_id,
                submission_id=submission_id,
            )
    busy = exists().where(
        QaTask.rereview_id == Rereview.id,
        or_(QaTask.done_at.is_not(None), QaTask.lease_expires_at > now),
    )
    stmt = _not_conflicted(
        select(Rereview.id, Rereview.submission_id)
        .join(Submission, Submission.id == Rereview.submission_id)
        .where(
            Rereview.state == RereviewState.waiting,
            Rereview.first_reviewer_id != reviewer.id,
            ~busy,
            _never_judged_by(reviewer, Rereview.submission_id),
        )
        .order_by(Rereview.created_at)
        .limit(1),
        reviewer,
    )
    row = session.execute(stmt).first()
    if row is None:
        return None
    return _lease(
        session,
        reviewer,
        now,
        lease_seconds,
        kind=TaskKind.rereview,
        rereview_id=row[0],
        submission_id=row[1],
    )


def _lease(
    session: Session,
    reviewer: Principal,
    now: datetime,
    lease_seconds: int,
    *,
    kind: TaskKind,
    submission_id: str,
    golden_id: str | None = None,
    rereview_id: str | None = None,
) -> QaTask:
    task = QaTask(
        kind=kind,
        golden_id=golden_id,
        rereview_id=rereview_id,
        submission_id=submission_id,
        reviewer_id=reviewer.id,
        lease_token=secrets.token_urlsafe(24),
        leased_at=now,
        lease_expires_at=now + timedelta(seconds=lease_seconds),
        created_at=now,
    )
    session.add(task)
    session.flush()
    _audit_lease(session, reviewer, task)
    return task


def _audit_lease(session: Session, reviewer: Principal, task: QaTask) -> None:
    # The log is the auditors': it says plainly what the item was.
    audit.record(
        session,
        actor=reviewer.actor,
        action="qa.task_leased",
        object_type="qa_task",
        object_id=task.id,
        data={
            "kind": task.kind,
            "submission_id": task.submission_id,
            "expires_at": task.lease_expires_at,
        },
    )


def relet(
    session: Session, *, reviewer: Principal, task: QaTask, now: datetime, lease_seconds: int
) -> QaTask:
    """ "Claim again" on the reviewer's own task after its lease ran out, as for a live item."""
    policy.require(reviewer, Action.review)
    if task.done_at is not None:
        raise Conflict(
            "someone else holds this item, it has been decided, or it is not yours to judge",
            code="not_claimable",
        )
    if task.lease_expires_at is None or task.lease_expires_at <= now:
        task.lease_token = secrets.token_urlsafe(24)
        task.leased_at = now
        task.lease_expires_at = now + timedelta(seconds=lease_seconds)
        session.flush()
        _audit_lease(session, reviewer, task)
    return task


def _live(reviewer: Principal, task_id: str, lease_token: str, now: datetime) -> tuple:  # type: ignore[type-arg]
    return (
        QaTask.id == task_id,
        QaTask.reviewer_id == reviewer.id,
        QaTask.lease_token == lease_token,
        QaTask.lease_expires_at > now,
        QaTask.done_at.is_(None),
    )


def renew(
    session: Session,
    *,
    reviewer: Principal,
    task_id: str,
    lease_token: str,
    now: datetime,
    lease_seconds: int,
) -> datetime:
    policy.require(reviewer, Action.review)
    expires = now + timedelta(seconds=lease_seconds)
    result = session.execute(
        update(QaTask)
        .where(*_live(reviewer, task_id, lease_token, now))
        .values(lease_expires_at=expires)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise LeaseLost()
    return expires


def release(
    session: Session, *, reviewer: Principal, task_id: str, lease_token: str, now: datetime
) -> None:
    """Gives the task back: it stays this reviewer's, and comes back on their next claim."""
    policy.require(reviewer, Action.review)
    result = session.execute(
        update(QaTask)
        .where(*_live(reviewer, task_id, lease_token, now))
        .values(lease_token=None, lease_expires_at=None)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise LeaseLost()
    audit.record(
        session,
        actor=reviewer.actor,
        action="qa.task_released",
        object_type="qa_task",
        object_id=task_id,
    )


# Where a decided task's claim would stand after the reviewer's verdict, as for a live one.
DONE = {"approve": SubmissionStatus.approved, "reject": SubmissionStatus.rejected}


def _place(session: Session, task: QaTask, now: datetime) -> tuple[str, str, bool]:
    """The item's state, the claim's status, and whether the reviewer holds it."""
    if task.done_at is not None:
        verdict = session.scalar(
            select(QaRecord.decision).where(QaRecord.task_id == task.id, standing())
        )
        return ItemState.decided, DONE.get(verdict or "", SubmissionStatus.escalated), False
    if task.lease_expires_at is None or task.lease_expires_at <= now:
        # A lease that ran out shows the item as waiting again, as a live one's would.
        return ItemState.pending, SubmissionStatus.in_queue, False
    return ItemState.leased, SubmissionStatus.in_review, True


def masked(
    session: Session, *, task: QaTask, now: datetime | None = None
) -> tuple[ReviewItem, Submission]:
    """The item and claim a reviewer is shown for a task: unsaved copies carrying the task's
    ids and lease, and what a live item looks like at the same point (no earlier decision, no
    second look pending, submitted when it was served). Never added to the session."""
    state, status, holds = _place(session, task, now or utcnow())
    real_sub = session.get_one(Submission, task.submission_id)
    real_item = session.scalars(
        select(ReviewItem).where(ReviewItem.submission_id == real_sub.id)
    ).one()
    columns = {a.key: getattr(real_sub, a.key) for a in inspect(Submission).column_attrs}
    seen_at = task.leased_at or task.created_at
    columns.update(
        id=task.alias_id,
        status=status,
        created_at=task.created_at,
        updated_at=seen_at,
        occurred_at=real_sub.occurred_at + time_shift(task, real_sub),
    )
    item = ReviewItem(
        id=task.id,
        submission_id=task.alias_id,
        state=state,
        priority=real_item.priority,
        points=real_item.points,
        flagged=real_item.flagged,
        senior_only=False,
        first_reviewer_id=None,
        leased_by=task.reviewer_id if holds else None,
        lease_token=task.lease_token if holds else None,
        leased_at=task.leased_at,
        lease_expires_at=task.lease_expires_at,
        created_at=task.created_at,
    )
    return item, Submission(**columns)


def time_shift(task: QaTask, real: Submission) -> timedelta:
    """How far the copy moves the claim's times: submitted when it was served, so its hit
    time and the file's own clock move alike. A golden item is an old claim; its months-old
    hit time beside a fresh one's hours would tell it apart, and moving the hit time alone
    would make the file's clock disagree with it. What is burned into the picture stays."""
    return task.created_at - real.created_at


def paced(session: Session, *, task: QaTask) -> ReviewItem:
    """The task as the too-fast rule reads a lease (review.pace): the real claim's footage and
    its viewing record (a QA page's views are recorded against the real claim), the task's own
    holder and lease start. Unsaved; its warnings are recorded against the real item."""
    return ReviewItem(id=real_item_id(session, task=task), submission_id=task.submission_id,
                      leased_by=task.reviewer_id, lease_token=task.lease_token,
                      leased_at=task.leased_at)  # fmt: skip


def real_item_id(session: Session, *, task: QaTask) -> str:
    return session.scalars(
        select(ReviewItem.id).where(ReviewItem.submission_id == task.submission_id)
    ).one()


@dataclass(frozen=True)
class QaDecided:
    """A QA decision and what the reviewer is told: the claim's place and points as a live
    decision would have left them, so the answer says nothing a live one would not."""

    record: QaRecord
    alias_id: str
    status: str
    points: int | None


def footage_seconds(session: Session, *, submission_id: str) -> float | None:
    return session.scalar(
        select(func.sum(Media.duration_seconds)).where(Media.submission_id == submission_id)
    )


def decide(
    session: Session,
    *,
    reviewer: Principal,
    task_id: str,
    lease_token: str,
    decision: str,
    target_type: str | None,
    outcome: str | None,
    reason_code: str | None,
    comment: str | None,
    now: datetime,
    override: bool = False,
) -> QaDecided:
    policy.require(reviewer, Action.review)
    task = session.get(QaTask, task_id, populate_existing=True)
    if task is None or task.reviewer_id != reviewer.id:
        raise NotFound("no such review item")
    if task.lease_token == lease_token and task.done_at is None:
        # Paced as a live item is: an instant verdict refused the same way on both.
        decisions.check_pace(session, reviewer=reviewer, item=paced(session, task=task),
                             decision=decision, now=now, override=override)  # fmt: skip
    submission = session.get_one(Submission, task.submission_id)
    prices = rules.price_table(session, at=submission.occurred_at)
    final_target, final_outcome = decisions.validated(
        prices,
        submission=submission,
        decision=decision,
        target_type=target_type,
        outcome=outcome,
        reason_code=reason_code,
    )
    result = session.execute(
        update(QaTask)
        .where(*_live(reviewer, task_id, lease_token, now))
        .values(done_at=now, lease_token=None, lease_expires_at=None)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise LeaseLost()
    expected, expected_reason, rereview = _expected(session, task)
    correct = decision == expected and (
        decision != DecisionKind.reject or reason_code == expected_reason
    )
    record = QaRecord(
        kind=RecordKind.golden if task.kind == TaskKind.golden else RecordKind.rereview,
        task_id=task.id,
        rereview_id=task.rereview_id,
        submission_id=submission.id,
        reviewer_id=reviewer.id,
        target_type=submission.target_type,
        decision=decision,
        reason_code=reason_code,
        expected_decision=expected,
        expected_reason=expected_reason,
        correct=correct,
        seconds=(now - task.leased_at).total_seconds() if task.leased_at else None,
        footage_seconds=footage_seconds(session, submission_id=submission.id),
        created_at=now,
    )
    session.add(record)
    session.flush()
    if rereview is not None:
        # Agreement on the verdict is agreement; anything else goes to a senior.
        rereview.state = RereviewState.agreed if decision == expected else RereviewState.disputed
    audit.record(
        session,
        actor=reviewer.actor,
        action=f"qa.{record.kind}_decided",
        object_type="qa_record",
        object_id=record.id,
        data={
            "submission_id": submission.id,
            "decision": decision,
            "reason_code": reason_code,
            "comment": comment,
            "correct": correct,
            "rereview_id": task.rereview_id,
        },
    )
    status, points = _as_live(decision, prices.worth(final_target, final_outcome))
    return QaDecided(record=record, alias_id=task.alias_id, status=status, points=points)


def _expected(session: Session, task: QaTask) -> tuple[str, str | None, Rereview | None]:
    if task.golden_id is not None:
        golden = session.get_one(GoldenItem, task.golden_id)
        return golden.decision, golden.reason_code, None
    rereview = session.get_one(Rereview, task.rereview_id)
    first = session.get_one(Decision, rereview.decision_id)
    return first.decision, first.reason_code, rereview


def _as_live(decision: str, worth: int | None) -> tuple[str, int | None]:
    """Where a first look with this verdict would leave a live claim, and its points."""
    if decision == DecisionKind.escalate:
        return SubmissionStatus.escalated, None
    if decision == DecisionKind.reject:
        return SubmissionStatus.rejected, None
    if worth is not None and worth >= get_settings().four_eyes_points:
        return SubmissionStatus.in_queue, None
    return SubmissionStatus.approved, worth
