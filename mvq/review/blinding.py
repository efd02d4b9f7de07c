"""Blind four-eyes: while a claim waits for its second approval, nobody who might give that
approval may learn that a first one exists, let alone what it said. Since a second approval
only ever follows an approval, "waiting for a second approval" is itself the first verdict.

So to anyone who may review (reviewers and seniors alike: seniors take pending items too),
except the first approver, such an item reads exactly as one waiting for its first look: the
same state, no marker on its queue row, no separate count, no earlier decision on its page or
in its JSON. Admins and auditors, who never decide, still see the four-eyes state."""

from mvq.auth import policy
from mvq.auth.policy import Action
from mvq.auth.principal import Principal
from mvq.review.models import ItemState, ReviewItem


def may_judge(viewer: Principal) -> bool:
    """Whether this viewer could be a second approver, so must read every waiting item alike."""
    return policy.allows(viewer, Action.review)


def blind_to_first(viewer: Principal, item: ReviewItem) -> bool:
    """Whether the item's first approval must be hidden from this viewer now."""
    return (
        item.first_reviewer_id is not None
        and item.state != ItemState.decided
        and viewer.id != item.first_reviewer_id
        and may_judge(viewer)
    )
