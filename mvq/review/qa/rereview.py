"""Blind re-review: a sample of final live decisions goes to a second reviewer (or a senior)
as an ordinary-looking item (mvq.review.qa.tasks); a disagreement goes to a senior."""

import math
import random
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mvq.audit import service as audit
from mvq.auth import policy
from mvq.auth.policy import Action
from mvq.auth.principal import Principal
from mvq.errors import Conflict, Invalid, NotFound
from mvq.review.decisions import REJECT_REASONS
from mvq.review.models import Decision, DecisionKind, Stage
from mvq.review.qa.models import QaRecord, RecordKind, Rereview, RereviewState, standing
from mvq.submissions.models import Submission, SubmissionStatus

STRATUM_DAYS = 30


def maybe_sample(
    session: Session,
    *,
    decision: Decision,
    submission: Submission,
    rate: float,
    rng: random.Random,
    now: datetime,
) -> Rereview | None:
    """Samples a final live decision for a blind second look.

    Stratified by reviewer and target type: each (reviewer, target type) pair is its own
    stratum, and within the last STRATUM_DAYS it gets round(rate x its decisions) re-reviews,
    the rounding point drawn at random per decision. So a reviewer who mostly sees one target
    type is still checked on the others in proportion, a quiet stratum is not left to chance
    (as one Bernoulli draw per decision would leave it), and no one can tell which decision
    of theirs will be picked."""
    if submission.status not in (SubmissionStatus.approved, SubmissionStatus.rejected):
        return None
    if decision.stage not in (Stage.review, Stage.second) or rate <= 0:
        return None
    since = now - timedelta(days=STRATUM_DAYS)
    decided = (
        session.scalar(
            select(func.count())
            .select_from(Decision)
            .where(
                Decision.reviewer_id == decision.reviewer_id,
                Decision.target_type == decision.target_type,
                Decision.stage.in_([Stage.review, Stage.second]),
                Decision.decision.in_([DecisionKind.approve, DecisionKind.reject]),
                Decision.created_at >= since,
            )
        )
        or 0
    )
    sampled = (
        session.scalar(
            select(func.count())
            .select_from(Rereview)
            .where(
                Rereview.first_reviewer_id == decision.reviewer_id,
                Rereview.target_type == decision.target_type,
                Rereview.created_at >= since,
            )
        )
        or 0
    )
    if sampled >= math.floor(rate * decided + rng.random()):
        return None
    rereview = Rereview(
        decision_id=decision.id,
        submission_id=submission.id,
        first_reviewer_id=decision.reviewer_id,
        target_type=decision.target_type,
        created_at=now,
    )
    session.add(rereview)
    session.flush()
    audit.record(
        session,
        actor="system:qa",
        action="qa.rereview_sampled",
        object_type="qa_rereview",
        object_id=rereview.id,
        data={"submission_id": submission.id, "decision_id": decision.id},
    )
    return rereview


def disputed(session: Session, *, viewer: Principal) -> list[tuple[Rereview, Decision, QaRecord]]:
    """Disagreements waiting for a senior: the live decision and the second look."""
    if not policy.allows(viewer, Action.rule_rereviews):
        return []
    rows = session.execute(
        select(Rereview, Decision, QaRecord)
        .join(Decision, Decision.id == Rereview.decision_id)
        .join(
            QaRecord,
            (QaRecord.rereview_id == Rereview.id)
            & (QaRecord.kind == RecordKind.rereview)
            & standing(),
        )
        .where(Rereview.state == RereviewState.disputed)
        .order_by(Rereview.created_at)
    ).all()
    return [(r, d, q) for r, d, q in rows]


def ruling_on(
    session: Session, *, senior: Principal, rereview_id: str, decision: str, reason_code: str | None
) -> tuple[Rereview, Submission]:
    """The disagreement a senior may rule on, and its claim; refused if they may not. Asked
    before the ruling is recorded, so an overturn it calls for can be made first and named in
    the (append-only) record."""
    policy.require(senior, Action.rule_rereviews)
    rereview = session.get(Rereview, rereview_id, populate_existing=True)
    if rereview is None:
        raise NotFound("no such re-review")
    submission = session.get_one(Submission, rereview.submission_id)
    if not policy.may_see_claim(senior, claim_unit_id=submission.unit_id):
        raise NotFound("no such re-review")
    if rereview.state != RereviewState.disputed:
        raise Conflict("this re-review has no disagreement to rule on", code="not_disputed")
    second = session.scalar(
        select(QaRecord.reviewer_id).where(
            QaRecord.rereview_id == rereview.id, QaRecord.kind == RecordKind.rereview, standing()
        )
    )
    if senior.id in (rereview.first_reviewer_id, second):
        raise Conflict("the ruling is for a senior who judged neither look", code="own_rereview")
    if decision not in (DecisionKind.approve, DecisionKind.reject):
        raise Invalid("a ruling approves or rejects", code="bad_decision")
    if decision == DecisionKind.reject and reason_code not in REJECT_REASONS:
        raise Invalid(
            f"a rejection needs reason_code in {sorted(REJECT_REASONS)}", code="bad_reason_code"
        )
    return rereview, submission


def record_ruling(
    session: Session,
    *,
    senior: Principal,
    rereview: Rereview,
    submission: Submission,
    decision: str,
    reason_code: str | None,
    comment: str,
    overturn_id: str | None,
    now: datetime,
) -> QaRecord:
    """The senior's word on a disagreement (checked by `ruling_on`), as a QA record naming the
    overturn it led to, if any (mvq.flows.qa makes it)."""
    record = QaRecord(
        kind=RecordKind.ruling,
        rereview_id=rereview.id,
        submission_id=submission.id,
        reviewer_id=senior.id,
        target_type=submission.target_type,
        decision=decision,
        reason_code=reason_code if decision == DecisionKind.reject else None,
        overturn_id=overturn_id,
        created_at=now,
    )
    session.add(record)
    rereview.state = RereviewState.ruled
    session.flush()
    audit.record(
        session,
        actor=senior.actor,
        action="qa.ruling",
        object_type="qa_record",
        object_id=record.id,
        data={
            "rereview_id": rereview.id,
            "decision": decision,
            "reason_code": reason_code,
            "comment": comment,
            "overturn_id": overturn_id,
        },
    )
    return record
