"""The too-fast rule: a verdict given before the claim's footage was shown, or sooner after the
claim than a floor set by the footage's length, is probably not a judgment of the footage.

The floor is `decision_floor_share` of the footage's length, kept between the minimum and the
maximum (a 60 s clip at one half: 30 s; a 20 min one: the maximum, not 10 min). "Shown" is the
page's record of the footage unveiled or played (`media.viewed`, review.viewing) by this
reviewer since they took the item. Reads only; review.warnings records what was put to whom."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mvq.audit.models import AuditEvent
from mvq.auth.principal import Principal
from mvq.media.models import Media, MediaStatus
from mvq.review.models import DecisionKind, ReviewItem
from mvq.settings import get_settings

# Escalating is the careful choice: never slowed down.
VERDICTS = (DecisionKind.approve, DecisionKind.reject)


@dataclass(frozen=True)
class Haste:
    """Why this verdict would come too soon: codes `not_viewed` and `too_fast`."""

    reasons: list[str]
    elapsed_seconds: float
    floor_seconds: float


def floor_seconds(footage_seconds: float | None) -> float:
    settings = get_settings()
    share = settings.decision_floor_share * (footage_seconds or 0)
    return min(settings.decision_floor_max_seconds,
               max(settings.decision_floor_min_seconds, share))  # fmt: skip


def footage_seconds(session: Session, *, submission_id: str) -> float | None:
    """The length of the claim's processed footage, all its files together; none for stills."""
    total = session.scalar(
        select(func.sum(Media.duration_seconds)).where(
            Media.submission_id == submission_id, Media.status == MediaStatus.processed
        )
    )
    return float(total) if total else None


def viewed_since(session: Session, *, reviewer: Principal, item: ReviewItem) -> bool:
    return bool(
        session.scalar(
            select(func.count()).where(
                AuditEvent.object_id == item.submission_id,
                AuditEvent.action == "media.viewed",
                AuditEvent.actor == reviewer.actor,
                AuditEvent.occurred_at >= item.leased_at,
            )
        )
    )


def haste(
    session: Session, *, reviewer: Principal, item: ReviewItem, decision: str, now: datetime
) -> Haste | None:
    """Why a verdict on this leased item now would come too soon, or None if it would not."""
    if not get_settings().fast_decision_warnings or decision not in VERDICTS:
        return None
    if item.leased_at is None or item.leased_by != reviewer.id:
        return None  # not under this reviewer's lease: the lease check answers instead
    length = footage_seconds(session, submission_id=item.submission_id)
    floor = floor_seconds(length)
    elapsed = max(0.0, (now - item.leased_at).total_seconds())
    reasons = []
    if length is not None and not viewed_since(session, reviewer=reviewer, item=item):
        reasons.append("not_viewed")
    if elapsed < floor:
        reasons.append("too_fast")
    return Haste(reasons, elapsed, floor) if reasons else None
