"""A dispute's status: every allowed move, what causes it, and the one function that makes a
move, as the claim's life cycle has (mvq.submissions.lifecycle).

Nothing else writes `Dispute.status`. A dispute is made `open` (detection); it is settled by a
senior, or by itself when one approved claim is all that is left; a settled dispute opens again
when another claim joins it or a claim its settlement gave no share is approved. A move is a
conditional UPDATE on the status it starts from, and appends its audit event."""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from mvq.audit import service as audit
from mvq.errors import Conflict
from mvq.scoring.models import Dispute, DisputeStatus

SYSTEM = "system:disputes"
D = DisputeStatus


@dataclass(frozen=True)
class Transition:
    source: DisputeStatus
    target: DisputeStatus
    cause: str


TRANSITIONS: frozenset[Transition] = frozenset(
    Transition(source, target, cause)
    for source, target, cause in [
        (D.open, D.settled, "settled_by_senior"),
        # Every other claim is rejected: the one approved claim left is paid what is left.
        (D.open, D.settled, "uncontested"),
        # What the settlement paid stands; the newcomer is judged with the others.
        (D.settled, D.open, "claim_joined"),
        (D.settled, D.open, "approved_after_settlement"),
    ]
)
# The audit event each move appends, by the status it reaches.
EVENTS = {D.settled: "dispute.settled", D.open: "dispute.reopened"}


class IllegalMove(Conflict):
    code = "illegal_transition"


def move(
    session: Session,
    dispute: Dispute,
    *,
    to: DisputeStatus,
    cause: str,
    actor: str,
    data: dict[str, Any],
) -> None:
    """Moves the dispute from its current status and records the event, or raises and changes
    nothing."""
    source = D(dispute.status)
    if Transition(source, to, cause) not in TRANSITIONS:
        raise IllegalMove(f"a dispute that is {source} cannot become {to} by {cause}")
    session.flush()
    result = session.execute(
        update(Dispute)
        .where(Dispute.id == dispute.id, Dispute.status == source)
        .values(status=to)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("the dispute changed meanwhile; try again", code="dispute_moved")
    set_committed_value(dispute, "status", to)
    audit.record(session, actor=actor, action=EVENTS[to], object_type="dispute",
                 object_id=dispute.id, data=data)  # fmt: skip
