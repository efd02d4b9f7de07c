"""A senior's action on many queue items at once: escalate, reassign to a named reviewer,
release (take the lease back), or reject with one reason.

Each item goes the way a single one would, through the same functions: it is claimed under the
claim's rules (four-eyes, lanes, conflicts of interest), then decided by `flows.decisions`
(its own Decision row and audit event, the ledger and disputes as for any decision). Each runs
in a savepoint of its own, so one item that fails is rolled back alone and told with its reason.

A flow rather than a review service: a rejection may settle a dispute (mvq.scoring), which
the review package below it may not call.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from mvq.auth import policy
from mvq.auth.models import StaffUser
from mvq.auth.policy import Action
from mvq.auth.principal import Principal
from mvq.errors import Conflict, DomainError, Invalid, NotFound
from mvq.flows import decisions
from mvq.review import leases
from mvq.review.decisions import REJECT_REASONS
from mvq.review.models import ItemState, ReviewItem
from mvq.submissions.models import Submission

ACTIONS = ("escalate", "reassign", "release", "reject")
MAX_ITEMS = 500


@dataclass(frozen=True)
class Result:
    """What became of one item: done (the claim's status after it), or why not."""

    item_id: str
    ok: bool
    submission_id: str | None = None
    status: str | None = None
    decision_id: str | None = None
    code: str | None = None
    message: str | None = None


def assignee(session: Session, *, user_id: str | None) -> Principal:
    """The reviewer a reassignment names: an active reviewer or senior."""
    person = session.get(StaffUser, user_id) if user_id else None
    if person is not None and person.disabled_at is None:
        found = Principal(kind="staff", id=person.id, role=person.role, unit_id=person.unit_id)
        if policy.allows(found, Action.review):
            return found
    raise Invalid("reassign to an active reviewer or senior", code="bad_assignee")


def assignees(session: Session) -> list[StaffUser]:
    """Whom a senior may hand items to: active reviewers and seniors, by e-mail."""
    return list(
        session.scalars(
            select(StaffUser)
            .where(StaffUser.role.in_(list(policy.REVIEWERS)), StaffUser.disabled_at.is_(None))
            .order_by(StaffUser.email)
        )
    )


def act(
    session: Session,
    *,
    senior: Principal,
    item_ids: list[str],
    action: str,
    now: datetime,
    lease_seconds: int,
    reassign_lease_seconds: int,
    reason_code: str | None = None,
    comment: str | None = None,
    assignee_id: str | None = None,
) -> list[Result]:
    policy.require(senior, Action.act_in_bulk)
    if action not in ACTIONS:
        raise Invalid(f"action must be one of {', '.join(ACTIONS)}", code="bad_bulk_action")
    if action == "reject" and reason_code not in REJECT_REASONS:
        raise Invalid(f"a rejection needs reason_code in {sorted(REJECT_REASONS)}",
                      code="bad_reason_code")  # fmt: skip
    ids = list(dict.fromkeys(item_ids))
    if not ids or len(ids) > MAX_ITEMS:
        raise Invalid(f"choose 1 to {MAX_ITEMS} items", code="bad_selection")
    to = assignee(session, user_id=assignee_id) if action == "reassign" else None
    leases.release_expired(session, now=now)
    results = []
    for item_id in ids:
        try:
            with session.begin_nested():
                results.append(_one(session, senior=senior, item_id=item_id, action=action,
                                    now=now, lease_seconds=lease_seconds,
                                    reassign_lease_seconds=reassign_lease_seconds,
                                    reason_code=reason_code, comment=comment, to=to))  # fmt: skip
        except DomainError as exc:
            results.append(Result(item_id, False, code=exc.code, message=exc.message))
    return results


def _one(
    session: Session,
    *,
    senior: Principal,
    item_id: str,
    action: str,
    now: datetime,
    lease_seconds: int,
    reassign_lease_seconds: int,
    reason_code: str | None,
    comment: str | None,
    to: Principal | None,
) -> Result:
    item = session.get(ReviewItem, item_id, populate_existing=True)
    submission = session.get(Submission, item.submission_id) if item else None
    if item is None or submission is None or not leases.may_view(senior, submission=submission):
        raise NotFound("no such review item")
    done = Result(item_id, True, submission_id=submission.id)
    if item.state == ItemState.decided:
        raise Conflict("it has been decided already; overturn it on its page instead",
                       code="already_decided")  # fmt: skip
    if action == "release":
        leases.take_back(session, senior=senior, item_id=item_id)
        return _with_status(session, done)
    if action == "reassign":
        assert to is not None
        if item.state == ItemState.leased and item.leased_by != to.id:
            leases.take_back(session, senior=senior, item_id=item_id)
        leases.claim_item(session, reviewer=to, item_id=item_id, now=now,
                          lease_seconds=reassign_lease_seconds, assigned_by=senior)  # fmt: skip
        return _with_status(session, done)
    if action == "escalate" and item.state == ItemState.escalated:
        raise Conflict("it is with the seniors already", code="already_escalated")
    if item.state == ItemState.leased and item.leased_by != senior.id:
        raise Conflict("someone else holds it; release it first", code="held_by_other")
    if item.first_reviewer_id == senior.id:
        raise Conflict("you gave its first approval, so someone else must judge it (four-eyes)",
                       code="four_eyes")  # fmt: skip
    held, _ = leases.claim_item(session, reviewer=senior, item_id=item_id, now=now,
                                lease_seconds=lease_seconds)  # fmt: skip
    assert held.lease_token is not None
    # A bulk verdict is the senior's deliberate act on items chosen from the queue, not a
    # judgement of footage watched: the pace check's second key is the bulk form itself, and
    # each item's override is recorded (review.warnings) as any other.
    decision = decisions.decide(session, reviewer=senior, item_id=item_id,
                                lease_token=held.lease_token, decision=action,
                                target_type=None, outcome=None,
                                reason_code=reason_code if action == "reject" else None,
                                comment=comment, now=now, override=True)  # fmt: skip
    return _with_status(session, Result(item_id, True, submission.id, decision_id=decision.id))


def _with_status(session: Session, done: Result) -> Result:
    status = session.scalar(select(Submission.status).where(Submission.id == done.submission_id))
    return Result(done.item_id, True, done.submission_id, status, done.decision_id)
