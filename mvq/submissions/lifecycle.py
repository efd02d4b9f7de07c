"""The claim's life cycle: every allowed move, the event that causes it, and the one function
that makes a move.

Nothing else writes `Submission.status`. A move is a conditional UPDATE on the status it
starts from, so two callers racing on one claim cannot both move it, and each move appends
`submission.<to>` to the audit chain naming where it came from and why. What follows a move in
other domains (into the review queue, an award, a hold) is the business of `mvq.flows`.
"""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from mvq.audit import service as audit
from mvq.db import utcnow
from mvq.errors import Conflict
from mvq.submissions.models import Submission, SubmissionStatus

S = SubmissionStatus


@dataclass(frozen=True)
class Transition:
    source: SubmissionStatus
    target: SubmissionStatus
    cause: str


TRANSITIONS: frozenset[Transition] = frozenset(
    Transition(source, target, cause)
    for source, target, cause in [
        # The first media file of the claim is in storage.
        (S.awaiting_upload, S.processing, "media.uploaded"),
        # Every media file is settled: at least one processed, or none.
        (S.processing, S.in_queue, "media.settled"),
        (S.processing, S.failed, "media.settled"),
        # Every file failed before any upload completed (size mismatch, abandoned upload).
        (S.awaiting_upload, S.failed, "media.settled"),
        (S.in_queue, S.in_review, "review.leased"),
        (S.escalated, S.in_review, "review.leased"),
        (S.in_review, S.in_queue, "review.lease_expired"),
        (S.in_review, S.escalated, "review.lease_expired"),
        # The first of two approvals of a claim worth the four-eyes threshold.
        (S.in_review, S.in_queue, "review.approve"),
        (S.in_review, S.approved, "review.approve"),
        (S.in_review, S.rejected, "review.reject"),
        # A second reviewer who disagrees with the first approval sends it to the seniors.
        (S.in_review, S.escalated, "review.reject"),
        (S.in_review, S.escalated, "review.escalate"),
        # The reviewer gives the item back before deciding (idle page, or by choice).
        (S.in_review, S.in_queue, "review.released"),
        (S.in_review, S.escalated, "review.released"),
        # A senior hands a waiting item to a named reviewer: leased to them.
        (S.in_queue, S.in_review, "review.reassigned"),
        (S.escalated, S.in_review, "review.reassigned"),
        # The reviewer undoes their own decision within seconds: the claim goes back under
        # their lease, from wherever that decision sent it (see review.undo).
        (S.approved, S.in_review, "review.undo"),
        (S.rejected, S.in_review, "review.undo"),
        (S.escalated, S.in_review, "review.undo"),
        (S.in_queue, S.in_review, "review.undo"),
        (S.approved, S.rejected, "review.overturn"),
        (S.rejected, S.approved, "review.overturn"),
        # An overturn to an approval worth the four-eyes threshold waits for a second senior.
        (S.rejected, S.escalated, "review.overturn"),
    ]
)
CAUSES = frozenset(t.cause for t in TRANSITIONS)


class IllegalMove(Conflict):
    code = "illegal_transition"


def allowed(source: str, target: str, cause: str) -> bool:
    return Transition(S(source), S(target), cause) in TRANSITIONS


def move(
    session: Session,
    submission: Submission,
    *,
    to: SubmissionStatus,
    cause: str,
    actor: str,
    data: dict[str, Any] | None = None,
) -> None:
    """Moves the claim from its current status, or raises IllegalMove and changes nothing."""
    source = submission.status
    if not allowed(source, to, cause):
        raise IllegalMove(f"a claim that is {source} cannot become {to} by {cause}")
    result = session.execute(
        update(Submission)
        .where(Submission.id == submission.id, Submission.status == source)
        .values(status=to, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("the claim changed meanwhile; try again", code="claim_moved")
    set_committed_value(submission, "status", to)
    audit.record(
        session,
        actor=actor,
        action=f"submission.{to}",
        object_type="submission",
        object_id=submission.id,
        data={"from": source, "cause": cause, **(data or {})},
    )
