"""What the review pages show: the queue with its filters and counts, and one item laid out
with everything the workers found. Every presigned GET of stored media is recorded."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from mvq import storage
from mvq.audit import service as audit
from mvq.auth.models import StaffUser
from mvq.auth.service import Principal
from mvq.errors import NotFound
from mvq.media.models import Frame, Media, MediaStatus
from mvq.review import service
from mvq.review.models import Decision, ItemState, ReviewItem
from mvq.submissions.models import Flag, Submission
from mvq.units.models import Unit

WAITING = (ItemState.pending, ItemState.escalated)
STRIP_FRAMES = 48  # the strip shows this many frames at most; the contact sheet shows all
# Types the browser may play or show; anything else is offered as frames only.
PLAYABLE = {"mp4": "video/mp4", "matroska": "video/webm"}
IMAGES = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"}


@dataclass(frozen=True)
class QueueFilters:
    flag: str | None = None  # a flag kind, or "any"
    unit_id: str | None = None
    target_type: str | None = None
    min_age_minutes: int | None = None


@dataclass(frozen=True)
class QueueRow:
    item_id: str
    submission_id: str
    unit_name: str
    target_type: str
    outcome: str
    points: int | None
    state: str
    senior_only: bool
    needs_second: bool
    waiting: timedelta
    flags: list[str]


def queue_rows(
    session: Session, *, viewer: Principal, filters: QueueFilters, now: datetime, limit: int = 200
) -> list[QueueRow]:
    """Waiting and leased items in the order a claim takes them (seniors: escalated first)."""
    stmt = (
        select(ReviewItem, Submission, Unit.name)
        .join(Submission, Submission.id == ReviewItem.submission_id)
        .join(Unit, Unit.id == Submission.unit_id)
        .where(ReviewItem.state.in_([*WAITING, ItemState.leased]))
        .order_by(
            ReviewItem.senior_only.desc(),
            ReviewItem.priority.desc(),
            ReviewItem.created_at,
            ReviewItem.id,
        )
        .limit(limit)
    )
    if viewer.unit_id is not None:
        stmt = stmt.where(Submission.unit_id != viewer.unit_id)
    if filters.flag == "any":
        stmt = stmt.where(ReviewItem.flagged.is_(True))
    elif filters.flag:
        stmt = stmt.where(
            exists().where(Flag.submission_id == Submission.id, Flag.kind == filters.flag)
        )
    if filters.unit_id:
        stmt = stmt.where(Submission.unit_id == filters.unit_id)
    if filters.target_type:
        stmt = stmt.where(Submission.target_type == filters.target_type)
    if filters.min_age_minutes:
        stmt = stmt.where(ReviewItem.created_at <= now - timedelta(minutes=filters.min_age_minutes))
    rows = session.execute(stmt).all()
    kinds: dict[str, list[str]] = {}
    for submission_id, kind in session.execute(
        select(Flag.submission_id, Flag.kind)
        .where(Flag.submission_id.in_([s.id for _, s, _ in rows]))
        .distinct()
    ):
        kinds.setdefault(submission_id, []).append(kind)
    return [
        QueueRow(
            item_id=item.id,
            submission_id=sub.id,
            unit_name=unit_name,
            target_type=sub.target_type,
            outcome=sub.outcome,
            points=item.points,
            state=item.state,
            senior_only=item.senior_only,
            needs_second=item.first_reviewer_id is not None,
            waiting=now - item.created_at,
            flags=sorted(kinds.get(sub.id, [])),
        )
        for item, sub, unit_name in rows
    ]


def state_counts(session: Session) -> dict[str, int]:
    counts = {state.value: 0 for state in ItemState}
    for state, count in session.execute(
        select(ReviewItem.state, func.count()).group_by(ReviewItem.state)
    ):
        counts[state] = count
    counts["awaiting_second"] = int(
        session.scalar(
            select(func.count()).where(
                ReviewItem.state == ItemState.pending, ReviewItem.first_reviewer_id.is_not(None)
            )
        )
        or 0
    )
    return counts


def oldest_waiting(session: Session, *, now: datetime) -> timedelta | None:
    oldest = session.scalar(
        select(func.min(ReviewItem.created_at)).where(ReviewItem.state.in_(WAITING))
    )
    return None if oldest is None else now - oldest


def units(session: Session) -> list[Unit]:
    return list(session.scalars(select(Unit).order_by(Unit.name)))


@dataclass
class FramePair:
    this_url: str | None
    this_t: float
    other_url: str | None
    other_t: float
    distance: int
    signal: str


@dataclass
class FlagView:
    kind: str
    media_id: str | None
    evidence: dict[str, Any]
    # Duplicates only: one entry per other copy, with its frames side by side.
    matches: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class MediaView:
    media: Media
    play_url: str | None
    play_type: str | None
    image_url: str | None
    contact_sheet_url: str | None
    frames: list[tuple[float, str, int]]


@dataclass
class ItemView:
    item: ReviewItem
    submission: Submission
    unit_name: str
    media: list[MediaView]
    flags: list[FlagView]
    decisions: list[tuple[Decision, str]]
    lease_is_mine: bool
    worth: int | None


class _Presigner:
    """Presigns GETs and remembers which stored objects were opened, for the access event."""

    def __init__(self) -> None:
        self.keys: list[str] = []

    def __call__(self, key: str | None, content_type: str | None = None) -> str | None:
        if not key:
            return None
        self.keys.append(key)
        return storage.presign_get(key, content_type=content_type)


def item_view(session: Session, *, viewer: Principal, item_id: str) -> ItemView:
    item = session.get(ReviewItem, item_id)
    submission = session.get(Submission, item.submission_id) if item else None
    if item is None or submission is None or not service.may_view(viewer, submission=submission):
        raise NotFound("no such review item")
    sign = _Presigner()
    media_rows = list(
        session.scalars(
            select(Media).where(Media.submission_id == submission.id).order_by(Media.created_at)
        )
    )
    frame_urls: dict[tuple[str, float], str | None] = {}
    media = [_media_view(session, m, sign, frame_urls) for m in media_rows]
    flags = [
        _flag_view(session, flag, sign, frame_urls)
        for flag in session.scalars(
            select(Flag).where(Flag.submission_id == submission.id).order_by(Flag.kind)
        )
    ]
    decisions = [
        (d, email)
        for d, email in session.execute(
            select(Decision, StaffUser.email)
            .join(StaffUser, StaffUser.id == Decision.reviewer_id)
            .where(Decision.submission_id == submission.id)
            .order_by(Decision.created_at, Decision.id)
        )
    ]
    audit.record(
        session,
        actor=viewer.actor,
        action="media.viewed",
        object_type="submission",
        object_id=submission.id,
        data={"review_item_id": item.id, "objects": sign.keys},
    )
    return ItemView(
        item=item,
        submission=submission,
        unit_name=session.get_one(Unit, submission.unit_id).name,
        media=media,
        flags=flags,
        decisions=decisions,
        lease_is_mine=item.state == ItemState.leased and item.leased_by == viewer.id,
        worth=item.points,
    )


def _media_view(
    session: Session,
    media: Media,
    sign: _Presigner,
    frame_urls: dict[tuple[str, float], str | None],
) -> MediaView:
    frames = list(
        session.scalars(select(Frame).where(Frame.media_id == media.id).order_by(Frame.index))
    )
    step = max(1, -(-len(frames) // STRIP_FRAMES))
    strip = []
    for frame in frames[::step]:
        url = sign(frame.s3_key, "image/jpeg")
        frame_urls[(media.id, frame.t_seconds)] = url
        strip.append((frame.t_seconds, url or "", frame.pdq_quality))
    processed = media.status == MediaStatus.processed
    container = media.container or ""
    play_type = PLAYABLE.get(container) if processed and media.kind == "video" else None
    image_type = IMAGES.get(container) if processed and media.kind == "image" else None
    return MediaView(
        media=media,
        play_url=sign(media.s3_key, play_type) if play_type else None,
        play_type=play_type,
        image_url=sign(media.s3_key, image_type) if image_type else None,
        contact_sheet_url=sign(media.contact_sheet_key, "image/jpeg"),
        frames=strip,
    )


def _frame_url(
    session: Session,
    sign: _Presigner,
    frame_urls: dict[tuple[str, float], str | None],
    media_id: str,
    t: float,
) -> str | None:
    if (media_id, t) not in frame_urls:
        key = session.scalar(
            select(Frame.s3_key)
            .where(Frame.media_id == media_id)
            .order_by(func.abs(Frame.t_seconds - t))
            .limit(1)
        )
        frame_urls[(media_id, t)] = sign(key, "image/jpeg")
    return frame_urls[(media_id, t)]


def _flag_view(
    session: Session, flag: Flag, sign: _Presigner, frame_urls: dict[tuple[str, float], str | None]
) -> FlagView:
    view = FlagView(kind=flag.kind, media_id=flag.media_id, evidence=flag.evidence)
    this_media = flag.media_id
    if this_media is None:
        return view
    for match in flag.evidence.get("matches", []):
        other_item = session.scalar(
            select(ReviewItem.id).where(ReviewItem.submission_id == match["submission_id"])
        )
        other_unit = session.get(Unit, match.get("unit_id", ""))
        pairs = [
            FramePair(
                this_url=_frame_url(session, sign, frame_urls, this_media, p["this_t"]),
                this_t=p["this_t"],
                other_url=_frame_url(session, sign, frame_urls, match["media_id"], p["other_t"]),
                other_t=p["other_t"],
                distance=p["distance"],
                signal=p.get("signal", "pdq"),
            )
            for p in match.get("frame_pairs", [])[:12]
        ]
        view.matches.append(
            match
            | {
                "other_item_id": other_item,
                "unit_name": other_unit.name if other_unit else "?",
                "pairs": pairs,
            }
        )
    return view
