"""A QA item's page: the real claim's view (same footage, flags and evidence), behind the
task's item and claim ids, with the lease the reviewer holds and no earlier decisions, as a
live item in review shows before its first decision."""

from dataclasses import replace
from datetime import datetime

from sqlalchemy.orm import Session

from mvq.auth.principal import Principal
from mvq.review import inspection
from mvq.review.models import ItemState
from mvq.review.qa import tasks
from mvq.review.qa.models import QaTask


def item_view(
    session: Session, *, viewer: Principal, task: QaTask, now: datetime
) -> inspection.ItemView:
    real = inspection.item_view(
        session, viewer=viewer, item_id=tasks.real_item_id(session, task=task), now=now
    )
    item, submission = tasks.masked(session, task=task, now=now)
    shift = tasks.time_shift(task, real.submission)
    media = [
        replace(m, capture=replace(m.capture, raw=m.capture.raw + shift))
        if m.capture is not None and m.capture.raw is not None
        else m
        for m in real.media
    ]
    return replace(
        real,
        item=item,
        submission=submission,
        media=media,
        decisions=[],
        blind=False,
        lease_is_mine=item.state == ItemState.leased,
    )
