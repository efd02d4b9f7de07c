"""Appeals: a unit's one request to look again at a rejected claim, in the seniors' own lane.

A unit files once per claim, within `appeal_window_days` of the rejection. A senior decides it
unless they are linked to the claim's unit (they never see it) or took part in any decision on
the claim (they see it, and why they may not decide). Upholding is an overturn, which is the
flow's business (mvq.flows.appeals); this module files, lists, checks and records.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mvq.audit import service as audit
from mvq.auth import policy
from mvq.auth.models import StaffUser
from mvq.auth.policy import Action
from mvq.auth.principal import Principal
from mvq.db import aware
from mvq.errors import Conflict, Forbidden, Invalid, NotFound
from mvq.media.models import Media
from mvq.review import decisions
from mvq.review.models import Appeal, AppealStatus, Decision, ReviewItem
from mvq.settings import get_settings
from mvq.submissions import service as submissions
from mvq.submissions import visibility
from mvq.submissions.models import Submission, SubmissionStatus
from mvq.units.models import Unit

MAX_REASON = 4000
TOOK_PART = "you took part in the original decision"
LINKED = "you are linked to the claim's unit"


def clean_reason(text: str | None, *, what: str) -> str:
    cleaned = (text or "").strip()
    if not 1 <= len(cleaned) <= MAX_REASON:
        raise Invalid(f"{what} must be 1 to {MAX_REASON} characters", code="bad_reason")
    return cleaned


def of_claim(session: Session, *, submission_id: str) -> Appeal | None:
    return session.scalar(select(Appeal).where(Appeal.submission_id == submission_id))


@dataclass(frozen=True)
class Window:
    """An open appeal window: the rejection appealed against, and when the window closes."""

    rejection: Decision
    closes: datetime


def open_window(session: Session, *, submission: Submission, now: datetime) -> Window:
    """Whether the claim may still be appealed, and until when: only a rejected claim not
    appealed yet, within `appeal_window_days` of its latest decision. The one place that
    decides it; raises Conflict saying why not."""
    if of_claim(session, submission_id=submission.id) is not None:
        raise Conflict("this claim has been appealed already", code="appeal_exists")
    rejection = decisions.latest_decision(session, submission_id=submission.id)
    if submission.status != SubmissionStatus.rejected or rejection is None:
        raise Conflict(f"only a rejected claim can be appealed; this one is {submission.status}",
                       code="not_rejected")  # fmt: skip
    closes = rejection.created_at + timedelta(days=get_settings().appeal_window_days)
    if aware(now) >= aware(closes):
        raise Conflict(
            f"the appeal window closed at {closes:%Y-%m-%d %H:%M} UTC, "
            f"{get_settings().appeal_window_days:g} days after the rejection",
            code="appeal_window_closed",
        )
    return Window(rejection, closes)


def file(
    session: Session, *, unit: Principal, submission_id: str, reason: str, now: datetime
) -> Appeal:
    if not policy.acts_for_unit(unit):
        raise NotFound("no such submission")
    submissions.get_visible(session, principal=unit, submission_id=submission_id)
    # Locked, so an overturn racing this appeal waits for it (Postgres; SQLite writes one at
    # a time anyway).
    submission = session.scalar(
        select(Submission)
        .where(Submission.id == submission_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert submission is not None
    window = open_window(session, submission=submission, now=now)
    appeal = Appeal(
        submission_id=submission.id,
        unit_id=submission.unit_id,
        rejection_id=window.rejection.id,
        reason=clean_reason(reason, what="the reason"),
        status=AppealStatus.pending,
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(appeal)
            session.flush()
    except IntegrityError:  # a concurrent request filed first
        raise Conflict("this claim has been appealed already", code="appeal_exists") from None
    audit.record(
        session,
        actor=unit.actor,
        action="appeal.filed",
        object_type="appeal",
        object_id=appeal.id,
        data={"submission_id": submission.id, "rejection_id": window.rejection.id,
              "reason": appeal.reason, "window_closes": window.closes.isoformat()},
    )  # fmt: skip
    return appeal


def pending(session: Session, *, viewer: Principal) -> list[Appeal]:
    """Oldest first. A senior linked to a unit never sees that unit's appeals, nor one whose
    claim's evidence touches the unit (deciding it would help the unit, as in the queue)."""
    policy.require(viewer, Action.decide_appeals)
    stmt = select(Appeal).where(Appeal.status == AppealStatus.pending)
    if viewer.unit_id is not None:
        stmt = stmt.join(Submission, Submission.id == Appeal.submission_id).where(
            Appeal.unit_id != viewer.unit_id,
            ~visibility.evidence_touches_unit(viewer.unit_id),
        )
    return list(session.scalars(stmt.order_by(Appeal.created_at, Appeal.id)))


def took_part(session: Session, *, senior: Principal, submission_id: str) -> bool:
    return bool(
        session.scalar(
            select(
                exists().where(
                    Decision.submission_id == submission_id, Decision.reviewer_id == senior.id
                )
            )
        )
    )


def blocker(session: Session, *, senior: Principal, appeal: Appeal) -> str | None:
    """Why this person may not decide this appeal, or None."""
    if not policy.allows(senior, Action.decide_appeals):
        return policy.REFUSALS[Action.decide_appeals]
    if senior.unit_id == appeal.unit_id:
        return LINKED
    if took_part(session, senior=senior, submission_id=appeal.submission_id):
        return TOOK_PART
    return None


def lock_for_decision(session: Session, *, senior: Principal, appeal_id: str) -> Appeal:
    """The pending appeal, row-locked until commit, so two seniors racing decide it once."""
    policy.require(senior, Action.decide_appeals)
    appeal = session.scalar(
        select(Appeal)
        .where(Appeal.id == appeal_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if appeal is None or appeal.unit_id == senior.unit_id:
        raise NotFound("no such appeal")
    if appeal.status != AppealStatus.pending:
        raise Conflict(f"this appeal has been {appeal.status} already", code="appeal_decided")
    if senior.unit_id is not None and session.scalar(
        select(exists().where(Submission.id == appeal.submission_id,
                              visibility.evidence_touches_unit(senior.unit_id)))
    ):  # fmt: skip
        raise Forbidden(
            "this claim's evidence involves the unit you are linked to, so you may not judge it",
            code="conflict_of_interest",
        )
    refusal = blocker(session, senior=senior, appeal=appeal)
    if refusal is not None:
        raise Forbidden(refusal, code="not_eligible")
    return appeal


def item_of(session: Session, *, appeal: Appeal) -> ReviewItem:
    return session.scalars(
        select(ReviewItem).where(ReviewItem.submission_id == appeal.submission_id)
    ).one()


def record_upheld(
    session: Session,
    *,
    senior: Principal,
    appeal: Appeal,
    decision: Decision,
    reason: str,
    claim_status: str,
    now: datetime,
) -> Appeal:
    _close(appeal, senior=senior, status=AppealStatus.upheld, reason=reason, now=now)
    appeal.decision_id = decision.id
    session.flush()
    audit.record(
        session,
        actor=senior.actor,
        action="appeal.upheld",
        object_type="appeal",
        object_id=appeal.id,
        data={"submission_id": appeal.submission_id, "decision_id": decision.id,
              "reason": appeal.decision_reason, "target_type": decision.target_type,
              "outcome": decision.outcome, "claim_status": claim_status},
    )  # fmt: skip
    return appeal


def deny(
    session: Session, *, senior: Principal, appeal_id: str, reason: str, now: datetime
) -> Appeal:
    appeal = lock_for_decision(session, senior=senior, appeal_id=appeal_id)
    _close(appeal, senior=senior, status=AppealStatus.denied, reason=reason, now=now)
    session.flush()
    audit.record(
        session,
        actor=senior.actor,
        action="appeal.denied",
        object_type="appeal",
        object_id=appeal.id,
        data={"submission_id": appeal.submission_id, "reason": appeal.decision_reason},
    )
    return appeal


def _close(appeal: Appeal, *, senior: Principal, status: AppealStatus, reason: str,
           now: datetime) -> None:  # fmt: skip
    appeal.decision_reason = clean_reason(reason, what="the decision's reason")
    appeal.status = status
    appeal.decided_by = senior.id
    appeal.decided_at = now


@dataclass(frozen=True)
class AppealView:
    """One pending appeal as a senior weighs it."""

    appeal: Appeal
    submission: Submission
    item: ReviewItem
    unit_name: str
    decisions: list[tuple[Decision, str]]  # with the decider's e-mail, oldest first
    rejection: Decision
    files_added: int
    blocker: str | None


def views(session: Session, *, viewer: Principal) -> list[AppealView]:
    shown = []
    for appeal in pending(session, viewer=viewer):
        submission = session.get_one(Submission, appeal.submission_id)
        decided = session.execute(
            select(Decision, StaffUser.email)
            .join(StaffUser, StaffUser.id == Decision.reviewer_id)
            .where(Decision.submission_id == appeal.submission_id)
            .order_by(Decision.created_at, Decision.id)
        ).all()
        added = session.scalar(
            select(func.count()).where(
                Media.submission_id == appeal.submission_id, Media.created_at >= appeal.created_at
            )
        )
        shown.append(
            AppealView(
                appeal=appeal,
                submission=submission,
                item=item_of(session, appeal=appeal),
                unit_name=session.get_one(Unit, appeal.unit_id).name,
                decisions=[(d, email) for d, email in decided],
                rejection=session.get_one(Decision, appeal.rejection_id),
                files_added=int(added or 0),
                blocker=blocker(session, senior=viewer, appeal=appeal),
            )
        )
    return shown


def accepts_evidence(session: Session, *, submission: Submission) -> bool:
    """A rejected claim takes new files while its appeal waits for a senior."""
    appeal = of_claim(session, submission_id=submission.id)
    return (
        submission.status == SubmissionStatus.rejected
        and appeal is not None
        and appeal.status == AppealStatus.pending
    )
