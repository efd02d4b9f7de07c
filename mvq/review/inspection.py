"""Opening one review item: everything the workers found, laid out for judging, with short-lived
presigned links to the stored media. Every opening records which originals were presigned
(`media.viewed`), so this module reads and writes."""

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
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

STRIP_FRAMES = 48  # the strip shows this many frames at most; the contact sheet shows all
# Types the browser may play or show; anything else is offered as frames only.
PLAYABLE = {"mp4": "video/mp4", "matroska": "video/webm"}
IMAGES = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"}


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
    # Already credited only: each approved claim covering the target, with its first stills.
    credited: list[dict[str, Any]] = field(default_factory=list)


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


def _first_stills(
    session: Session, sign: _Presigner, submission_id: str, count: int = 4
) -> list[tuple[float, str | None]]:
    """A claim's first stills, for setting two claims' footage side by side."""
    rows = session.execute(
        select(Frame.t_seconds, Frame.s3_key)
        .join(Media, Media.id == Frame.media_id)
        .where(Media.submission_id == submission_id, Media.status == MediaStatus.processed)
        .order_by(Media.created_at, Frame.index)
        .limit(count)
    )
    return [(t, sign(key, "image/jpeg")) for t, key in rows]


def _flag_view(
    session: Session, flag: Flag, sign: _Presigner, frame_urls: dict[tuple[str, float], str | None]
) -> FlagView:
    evidence = service.live_evidence(session, flag)
    view = FlagView(kind=flag.kind, media_id=flag.media_id, evidence=evidence)
    for claim in evidence.get("claims", []):
        other_item = session.scalar(
            select(ReviewItem.id).where(ReviewItem.submission_id == claim["submission_id"])
        )
        other = session.get(Submission, claim["submission_id"])
        other_unit = session.get(Unit, claim.get("unit_id", ""))
        view.credited.append(
            claim
            | {
                "other_item_id": other_item,
                "unit_name": other_unit.name if other_unit else "?",
                "claim": other,
                "stills": _first_stills(session, sign, claim["submission_id"]),
                "this_stills": _first_stills(session, sign, flag.submission_id),
            }
        )
    this_media = flag.media_id
    if this_media is None:
        return view
    for match in evidence.get("matches", []):
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
