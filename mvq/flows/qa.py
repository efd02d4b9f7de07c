"""Where the quality checks meet the live queue: claiming serves golden and re-review items
among live ones, a final live decision may be sampled for a blind second look, and a senior's
ruling on a disagreement overturns the live decision when the two differ."""

import random
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from mvq.auth import policy
from mvq.auth.policy import Action
from mvq.auth.principal import Principal
from mvq.errors import NotFound
from mvq.flows import decisions as decision_flow
from mvq.review import leases, pace, warnings
from mvq.review.models import Decision, DecisionKind, ReviewItem
from mvq.review.pace import Haste
from mvq.review.qa import rereview, tasks
from mvq.review.qa.models import QaRecord
from mvq.settings import get_settings
from mvq.submissions.models import Submission, SubmissionStatus


def held_items(
    session: Session, *, reviewer: Principal, now: datetime
) -> list[tuple[ReviewItem, Submission]]:
    """What the reviewer holds, live and QA alike, the oldest lease first."""
    items = leases.own_leases(session, reviewer=reviewer, now=now)
    items += [
        tasks.masked(session, task=t) for t in tasks.held(session, reviewer=reviewer, now=now)
    ]
    return sorted(items, key=lambda pair: (pair[0].leased_at or now, pair[0].id))


def claim_next(
    session: Session,
    *,
    reviewer: Principal,
    now: datetime,
    lease_seconds: int,
    rng: random.Random = tasks.SYSTEM_RANDOM,
) -> tuple[ReviewItem, Submission] | None:
    """The reviewer's next item: one they hold first, else, when their lane has a live item,
    a golden or re-review item at the configured rate, else that live item. Both paths ask
    the lane first and lease and audit one row, so neither answers faster."""
    policy.require(reviewer, Action.review)
    leases.release_expired(session, now=now)
    mine = held_items(session, reviewer=reviewer, now=now)
    if mine:
        return mine[0]
    if leases.has_next(session, reviewer=reviewer):
        task = tasks.take(session, reviewer=reviewer, now=now, lease_seconds=lease_seconds, rng=rng)
        if task is not None:
            return tasks.masked(session, task=task)
    return leases.claim_next(session, reviewer=reviewer, now=now, lease_seconds=lease_seconds)


def page_warned(
    session: Session,
    *,
    reviewer: Principal,
    item_id: str,
    lease_token: str,
    decision: str,
    now: datetime,
) -> Haste | None:
    """The page showed the too-fast warning (review.warnings.page_warned), for a QA item as
    for a live one: the same answer, the warning recorded against the real item."""
    task = tasks.find(session, item_id=item_id, reviewer=reviewer)
    if task is None:
        return warnings.page_warned(
            session, reviewer=reviewer, item_id=item_id, lease_token=lease_token,
            decision=decision, now=now,
        )  # fmt: skip
    policy.require(reviewer, Action.review)
    if task.lease_token != lease_token or task.done_at is not None:
        raise NotFound("you hold no such item")
    item = tasks.paced(session, task=task)
    found = pace.haste(session, reviewer=reviewer, item=item, decision=decision, now=now)
    if found is not None:
        warnings.too_fast_shown(session, reviewer=reviewer, item=item, found=found,
                                decision=decision)  # fmt: skip
    return found


def decide(
    session: Session,
    *,
    reviewer: Principal,
    item_id: str,
    lease_token: str,
    decision: str,
    target_type: str | None,
    outcome: str | None,
    reason_code: str | None,
    comment: str | None,
    now: datetime,
    override: bool = False,
    rng: random.Random = tasks.SYSTEM_RANDOM,
) -> Decision | tasks.QaDecided:
    """A decision on whatever the reviewer holds under this item id: a QA item's becomes a QA
    record only; a live one goes through the ordinary flow (with its too-fast check, which
    `override` answers) and may be sampled for re-review."""
    args = dict(lease_token=lease_token, decision=decision, target_type=target_type,
                outcome=outcome, reason_code=reason_code, comment=comment, now=now)  # fmt: skip
    task = tasks.find(session, item_id=item_id, reviewer=reviewer)
    if task is not None:
        return tasks.decide(session, reviewer=reviewer, task_id=task.id, override=override,
                            **args)  # type: ignore[arg-type]  # fmt: skip
    record = decision_flow.decide(session, reviewer=reviewer, item_id=item_id, override=override,
                                  **args)  # type: ignore[arg-type]  # fmt: skip
    submission = session.get_one(Submission, record.submission_id)
    rereview.maybe_sample(session, decision=record, submission=submission,
                          rate=get_settings().rereview_rate, rng=rng, now=now)  # fmt: skip
    return record


def rule(
    session: Session,
    *,
    senior: Principal,
    rereview_id: str,
    decision: str,
    reason_code: str | None,
    comment: str,
    now: datetime,
) -> QaRecord:
    """A senior's ruling on a disagreement. Where it differs from the claim's final decision,
    the rules call for an overturn, made by the ordinary overturn (so four-eyes holds: an
    approval worth the threshold waits for a second senior, and the ledger follows)."""
    sampled, submission = rereview.ruling_on(
        session, senior=senior, rereview_id=rereview_id, decision=decision, reason_code=reason_code
    )
    session.refresh(submission)
    finals: dict[str, str] = {SubmissionStatus.approved: DecisionKind.approve,
                              SubmissionStatus.rejected: DecisionKind.reject}  # fmt: skip
    standing = finals.get(submission.status)
    overturn_id = None
    if standing is not None and standing != decision:
        item_id = session.scalars(
            select(ReviewItem.id).where(ReviewItem.submission_id == submission.id)
        ).one()
        overturn = decision_flow.overturn(session, senior=senior, item_id=item_id,
                                          decision=decision, target_type=None, outcome=None,
                                          reason_code=reason_code, comment=comment)  # fmt: skip
        overturn_id = overturn.id
    return rereview.record_ruling(session, senior=senior, rereview=sampled, submission=submission,
                                  decision=decision, reason_code=reason_code, comment=comment,
                                  overturn_id=overturn_id, now=now)  # fmt: skip
