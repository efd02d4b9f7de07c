"""Who saw a claim's footage: recorded when the item page shows it (unveiled or played), by a
POST from the page with the session's CSRF token. A GET writes nothing, so a link or an <img>
on another site cannot write audit events in a reviewer's name."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from mvq.audit import service as audit
from mvq.auth.principal import Principal
from mvq.errors import NotFound
from mvq.media.models import Media
from mvq.review import leases
from mvq.review.models import ReviewItem
from mvq.submissions.models import Submission


def record_footage_view(session: Session, *, viewer: Principal, item_id: str) -> None:
    """The `media.viewed` event for the item's claim, naming the stored originals shown."""
    item = session.get(ReviewItem, item_id)
    submission = session.get(Submission, item.submission_id) if item else None
    if item is None or submission is None or not leases.may_view(viewer, submission=submission):
        raise NotFound("no such review item")
    keys = list(
        session.scalars(
            select(Media.s3_key)
            .where(Media.submission_id == submission.id)
            .order_by(Media.created_at)
        )
    )
    audit.record(
        session,
        actor=viewer.actor,
        action="media.viewed",
        object_type="submission",
        object_id=submission.id,
        data={"review_item_id": item.id, "objects": keys, "via": "page"},
    )
