"""Who saw a claim's footage: recorded when the item page shows it (unveiled or played), by a
POST from the page with the session's CSRF token. A GET writes nothing, so a link or an <img>
on another site cannot write audit events in a reviewer's name."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from mvq.audit import service as audit
from mvq.auth import policy
from mvq.auth.policy import Action
from mvq.auth.principal import Principal
from mvq.errors import NotFound
from mvq.media.models import Media
from mvq.review import inspection, leases
from mvq.review.models import ReviewItem
from mvq.submissions.models import Flag, Submission


def record_footage_view(session: Session, *, viewer: Principal, item_id: str) -> None:
    """The `media.viewed` event for the item's claim, naming the stored originals the page
    plays: the claim's own, and those of matching claims the viewer may see (side by side)."""
    policy.require(viewer, Action.view_queue)  # as opening the item page asks
    item = session.get(ReviewItem, item_id)
    submission = session.get(Submission, item.submission_id) if item else None
    if item is None or submission is None or not leases.may_view(viewer, submission=submission):
        raise NotFound("no such review item")
    own = select(Media.s3_key).where(Media.submission_id == submission.id)
    keys = list(session.scalars(own.order_by(Media.created_at)))
    flags = session.scalars(
        select(Flag).where(
            Flag.submission_id == submission.id, Flag.kind.in_(inspection.DUPLICATE_KINDS)
        )
    )
    matches = inspection.group_matches([(f.kind, f.media_id, f.evidence) for f in flags])
    others = [m.other_media_id for m in matches if m.other_media_id]
    for key, unit_id in session.execute(
        select(Media.s3_key, Submission.unit_id)
        .join(Submission, Submission.id == Media.submission_id)
        .where(Media.id.in_(others))
    ):
        if policy.may_see_claim(viewer, claim_unit_id=unit_id):
            keys.append(key)
    audit.record(
        session,
        actor=viewer.actor,
        action="media.viewed",
        object_type="submission",
        object_id=submission.id,
        data={"review_item_id": item.id, "objects": keys, "via": "page"},
    )
