"""Reviewer metrics: how fast each reviewer decides and how often four-eyes pairs agree."""

import statistics
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.orm import Session, aliased

from mvq.auth import policy
from mvq.auth.models import StaffUser
from mvq.auth.policy import Action
from mvq.auth.principal import Principal
from mvq.review.models import Decision, DecisionKind, Stage
from mvq.settings import get_settings

Undo = aliased(Decision)


@dataclass(frozen=True)
class ReviewerStats:
    reviewer_id: str
    email: str
    decisions: int
    # Per hour actually worked: hours in which the reviewer decided at least once.
    per_hour: float
    median_seconds: float | None
    # Four-eyes items this reviewer approved first and someone has since looked at again.
    second_looks: int
    agreed: int
    # The configured floor (settings.min_median_seconds_per_item) this row was judged against.
    floor_seconds: float = 0.0

    @property
    def agreement(self) -> float | None:
        return self.agreed / self.second_looks if self.second_looks else None

    @property
    def below_floor(self) -> bool:
        """Deciding faster than anyone can watch the footage: a prompt to look, not a verdict."""
        return self.median_seconds is not None and self.median_seconds < self.floor_seconds


def reviewer_stats(
    session: Session,
    *,
    viewer: Principal,
    since: datetime,
    until: datetime,
    floor_seconds: float | None = None,
) -> list[ReviewerStats]:
    """Per reviewer in [since, until); each row marked against `floor_seconds` (by default the
    configured min_median_seconds_per_item)."""
    policy.require(viewer, Action.view_queue)
    floor = get_settings().min_median_seconds_per_item if floor_seconds is None else floor_seconds
    rows = (
        select(Decision, StaffUser.email)
        .join(StaffUser, StaffUser.id == Decision.reviewer_id)
        .where(
            Decision.created_at >= since,
            Decision.created_at < until,
            Decision.stage.in_([Stage.review, Stage.second]),
            # A decision its reviewer undid is not one: the one made again counts instead.
            ~exists().where(Undo.stage == Stage.undo, Undo.overturns_id == Decision.id),
        )
        .order_by(Decision.created_at)
    )
    # Everyone's rows for seniors; a reviewer's own row only (their colleagues' speed and
    # agreement are not theirs to read).
    only = policy.figures_of(viewer)
    if only is not None:
        rows = rows.where(Decision.reviewer_id == only)
    by_reviewer: dict[str, list[Decision]] = {}
    emails: dict[str, str] = {}
    for decision, email in session.execute(rows):
        by_reviewer.setdefault(decision.reviewer_id, []).append(decision)
        emails[decision.reviewer_id] = email
    looks, agreed = _four_eyes(session, since=since, until=until)
    out = []
    for reviewer_id, decisions in by_reviewer.items():
        hours = {d.created_at.replace(minute=0, second=0, microsecond=0) for d in decisions}
        durations = [(d.created_at - d.leased_at).total_seconds() for d in decisions if d.leased_at]
        out.append(
            ReviewerStats(
                reviewer_id=reviewer_id,
                email=emails[reviewer_id],
                decisions=len(decisions),
                per_hour=len(decisions) / len(hours),
                median_seconds=statistics.median(durations) if durations else None,
                second_looks=looks.get(reviewer_id, 0),
                agreed=agreed.get(reviewer_id, 0),
                floor_seconds=floor,
            )
        )
    return sorted(out, key=lambda s: s.email)


def _four_eyes(
    session: Session, *, since: datetime, until: datetime
) -> tuple[dict[str, int], dict[str, int]]:
    """For each first approver: second looks at their items in the window, and agreements."""
    seconds: dict[str, Decision] = {}  # the first second look per item; a senior's later
    for d in session.scalars(  # ruling on a disagreement is not another vote on the first
        select(Decision)
        .where(
            Decision.stage == Stage.second,
            Decision.created_at >= since,
            Decision.created_at < until,
        )
        .order_by(Decision.created_at)
    ):
        seconds.setdefault(d.review_item_id, d)
    firsts = {
        d.review_item_id: d
        for d in session.scalars(
            select(Decision)
            .where(
                Decision.review_item_id.in_(list(seconds)),
                Decision.stage == Stage.review,
                Decision.decision == DecisionKind.approve,
            )
            .order_by(Decision.created_at)
        )
    }
    looks: dict[str, int] = {}
    agreed: dict[str, int] = {}
    for second in seconds.values():
        first = firsts.get(second.review_item_id)
        if first is None or first.reviewer_id == second.reviewer_id:
            continue
        looks[first.reviewer_id] = looks.get(first.reviewer_id, 0) + 1
        if second.decision == DecisionKind.approve:
            agreed[first.reviewer_id] = agreed.get(first.reviewer_id, 0) + 1
    return looks, agreed
