"""Opening one review item: everything the workers found, laid out for judging, with short-lived
presigned links to the stored media. It only reads: a view is recorded by the page's own POST
when the footage is shown (mvq.review.viewing), so a link from another site writes nothing."""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import mgrs  # type: ignore[import-untyped]  # ships no type information
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mvq import storage
from mvq.auth import policy
from mvq.auth.models import StaffUser
from mvq.auth.policy import Action
from mvq.auth.principal import Principal
from mvq.db import utcnow
from mvq.errors import NotFound
from mvq.media.flags import capture_time, distance_km
from mvq.media.models import Frame, Media, MediaStatus
from mvq.review import leases
from mvq.review.evidence import live_evidence
from mvq.review.models import Decision, ItemState, ReviewItem
from mvq.settings import get_settings
from mvq.submissions import visibility
from mvq.submissions.models import Flag, Submission
from mvq.units.models import Unit

STRIP_FRAMES = 48  # the strip shows this many frames at most; the contact sheet shows all
# Frame pairs shown per matching claim: enough to judge, few enough that 50 matching claims
# still fit on a page (the evidence keeps up to 50 per match).
MAX_PAIRS = 12
MAX_OUTLINES = 3  # geometric pairs shown, the most agreeing keypoints first
# No camera that made footage for this system ran before this; a file saying so has a reset
# clock (1970, 1904), not a capture time.
EARLIEST_CAPTURE = datetime(2000, 1, 1, tzinfo=UTC)
DUPLICATE_KINDS = ("exact_duplicate", "near_duplicate", "cross_unit_duplicate")
# The summary's order: what would pay a strike twice first, then what casts doubt on the file.
FLAG_ORDER = (
    "already_credited",
    "cross_unit_duplicate",
    "exact_duplicate",
    "near_duplicate",
    "capture_time_mismatch",
    "no_capture_time",
    "location_mismatch",
    "osd_mismatch",
    "reencoded",
)
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
class OutlinedPair:
    """Two keyframes whose keypoints agree on one homography, each with the region it shows
    of the other outlined (SVG polygon points over the still, 0-100 each way)."""

    this_url: str | None
    this_t: float
    other_url: str | None
    other_t: float
    inliers: int
    keypoints: int
    share: float
    this_points: str
    other_points: str


def svg_points(quad: list[list[float]]) -> str:
    return " ".join(f"{x * 100:.1f},{y * 100:.1f}" for x, y in quad)


@dataclass
class FlagView:
    kind: str
    media_id: str | None
    evidence: dict[str, Any]
    # Duplicates only: one entry per other copy, with its frames side by side.
    matches: list[dict[str, Any]] = field(default_factory=list)
    # Already credited only: each approved claim covering the target, with its first stills.
    credited: list[dict[str, Any]] = field(default_factory=list)
    # Claims this flag names that the viewer may not see: counted, never described.
    hidden: int = 0
    # The still a flag was read from (osd_mismatch: the frame showing the overlay).
    frame_url: str | None = None


@dataclass
class CaptureTime:
    """When the file says it was shot, and whether that can be believed."""

    raw: datetime | None  # what the file or its telemetry said
    source: str | None
    usable: bool  # between EARLIEST_CAPTURE and the upload
    minutes_from_claim: int | None  # only for a usable time


@dataclass
class Position:
    source: str  # "claimed", "file", "telemetry" or "osd" (burned into the picture)
    lat: float
    lon: float
    mgrs: str | None  # None near the poles, where MGRS gives way to UPS
    km_from_claim: float | None  # None for the claim itself, or when it names no place


@dataclass
class MediaView:
    media: Media
    play_url: str | None
    play_type: str | None
    image_url: str | None
    contact_sheet_url: str | None
    frames: list[tuple[float, str, int]]
    capture: CaptureTime | None = None
    positions: list[Position] = field(default_factory=list)


@dataclass
class ClaimMatch:
    """Another claim whose footage this one's matches: every duplicate flag naming it (exact,
    near, cross-unit) merged into one row, as the reviewer judges claims, not flag kinds."""

    submission_id: str
    unit_id: str
    unit_name: str
    other_unit: bool
    kinds: list[str]
    exact: bool
    share_this: float | None
    share_other: float | None
    min_distance: int | None
    signals: list[str]
    this_media_id: str | None
    other_media_id: str | None
    frame_pairs: list[dict[str, Any]]
    submission_status: str | None = None
    decision: str | None = None
    decided_at: datetime | None = None
    target_type: str | None = None
    outcome: str | None = None
    other_item_id: str | None = None
    thumb_url: str | None = None
    pairs: list[FramePair] = field(default_factory=list)
    other_play_url: str | None = None
    other_play_type: str | None = None
    geometry: list[dict[str, Any]] = field(default_factory=list)
    outlines: list[OutlinedPair] = field(default_factory=list)

    @property
    def short_id(self) -> str:
        return self.submission_id[:8]

    @property
    def pairs_total(self) -> int:
        return len(self.frame_pairs)

    @property
    def offset_seconds(self) -> float:
        """Where the other clip is when this one is at 0: from the closest matched pair, so
        side-by-side playback lines up the frames the matcher found alike."""
        if not self.frame_pairs:
            return 0.0
        best = min(self.frame_pairs, key=lambda p: p.get("distance", 0))
        return float(best["other_t"]) - float(best["this_t"])

    @property
    def share(self) -> float:
        if self.exact:
            return 1.0
        return max(self.share_this or 0.0, self.share_other or 0.0)


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
    claims: list[ClaimMatch] = field(default_factory=list)
    # The second look of a four-eyes item: earlier verdicts stay hidden until this viewer
    # decides, so the check is independent. Not even how many: see review.blinding.
    blind: bool = False
    # Worth two approvals and not decided yet: told alike on a first and a second look.
    four_eyes: bool = False
    threshold: int = 31
    claimed_position: Position | None = None
    map_tile_url: str | None = None
    now: datetime = field(default_factory=utcnow)

    @property
    def flag_kinds(self) -> list[str]:
        return [f.kind for f in self.flags]


def visible_decisions(
    decisions: list[tuple[Decision, str]], *, item: ReviewItem, viewer_id: str
) -> tuple[list[tuple[Decision, str]], bool]:
    """Blind four-eyes: while an item waits for its second look, anyone but the first reviewer
    sees the history without the first reviewer's decisions (name, verdict, comment), so the
    second verdict is their own. Only those are hidden: an escalation note from someone else
    is what a senior needs to read. Once decided, everything shows."""
    blind = (
        item.first_reviewer_id is not None
        and item.state != ItemState.decided
        and viewer_id != item.first_reviewer_id
    )
    if not blind:
        return decisions, False
    return [(d, who) for d, who in decisions if d.reviewer_id != item.first_reviewer_id], True


def usable_capture(
    raw: datetime | None, *, uploaded_at: datetime | None, occurred_at: datetime | None
) -> CaptureTime:
    """A capture time a reviewer can weigh, or none: a reset clock (1970) or a time after the
    upload cannot be when the footage was shot, and its distance from the claim means nothing."""
    raw = _aware(raw)
    usable = raw is not None and raw >= EARLIEST_CAPTURE
    if usable and uploaded_at is not None and raw is not None:
        usable = raw <= _aware(uploaded_at)  # type: ignore[operator]
    minutes = None
    if usable and raw is not None and occurred_at is not None:
        minutes = round((raw - _aware(occurred_at)).total_seconds() / 60)  # type: ignore[operator]
    return CaptureTime(raw=raw, source=None, usable=usable, minutes_from_claim=minutes)


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


_GRID = mgrs.MGRS()


def mgrs_of(lat: float, lon: float) -> str | None:
    """Metre precision, spaced as read on a map sheet: "36U XU 55126 74005"."""
    if not -80 <= lat <= 84:  # MGRS proper; the poles use UPS, which no unit reports in
        return None
    try:
        raw = _GRID.toMGRS(lat, lon, MGRSPrecision=5)
    except Exception:  # the C library's own range errors: show decimal degrees alone
        return None
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    # Zone (1-2 digits) and band, 100 km square (2 letters), easting and northing (5 + 5).
    zone_band, square, numbers = text[:-12], text[-12:-10], text[-10:]
    return f"{zone_band} {square} {numbers[:5]} {numbers[5:]}"


def positions(claimed: tuple[float, float] | None, media: Media) -> list[Position]:
    """The file's own position, its telemetry's first fix and the position its picture shows,
    each with its distance from the claimed position."""
    found: list[Position] = []
    if media.gps_lat is not None and media.gps_lon is not None:
        found.append(_position("file", media.gps_lat, media.gps_lon, claimed))
    first = ((media.probe or {}).get("telemetry") or {}).get("first_position")
    if first:
        found.append(_position("telemetry", float(first[0]), float(first[1]), claimed))
    shown = (media.probe or {}).get("osd") or {}
    if shown.get("lat") is not None and shown.get("lon") is not None:
        found.append(_position("osd", float(shown["lat"]), float(shown["lon"]), claimed))
    return found


def _position(source: str, lat: float, lon: float, claimed: tuple[float, float] | None) -> Position:
    km = distance_km((lat, lon), claimed) if claimed is not None else None
    return Position(source, lat, lon, mgrs_of(lat, lon), km)


def group_matches(flags: list[tuple[str, str | None, dict[str, Any]]]) -> list[ClaimMatch]:
    """One row per other claim from the duplicate flags' (kind, this media, live evidence).
    The same claim appears under cross_unit_duplicate and under near_ or exact_duplicate; the
    row keeps every kind and the strongest evidence (largest share, closest distance)."""
    rows: dict[str, ClaimMatch] = {}
    for kind, media_id, evidence in flags:
        if kind not in DUPLICATE_KINDS:
            continue
        for match in evidence.get("matches", []):
            if visibility.is_hidden(match):
                continue  # a claim the viewer may not see: the flag counts it, nothing more
            sid = match["submission_id"]
            row = rows.get(sid)
            if row is None:
                row = rows[sid] = ClaimMatch(
                    submission_id=sid,
                    unit_id=match.get("unit_id", ""),
                    unit_name="?",
                    other_unit=False,
                    kinds=[],
                    exact=False,
                    share_this=None,
                    share_other=None,
                    min_distance=None,
                    signals=[],
                    this_media_id=media_id,
                    other_media_id=match.get("media_id"),
                    frame_pairs=[],
                    submission_status=match.get("submission_status"),
                    decision=match.get("decision"),
                    decided_at=match.get("decided_at"),
                )
            if kind not in row.kinds:
                row.kinds.append(kind)
            row.other_unit = row.other_unit or kind == "cross_unit_duplicate"
            row.exact = row.exact or kind == "exact_duplicate" or "share_this" not in match
            if "share_this" in match:
                better = (match["share_this"], match.get("share_other", 0)) > (
                    row.share_this or 0,
                    row.share_other or 0,
                )
                if better or not row.frame_pairs:
                    row.share_this = match["share_this"]
                    row.share_other = match.get("share_other")
                    row.frame_pairs = list(match.get("frame_pairs", []))
                    row.this_media_id = media_id
                    row.other_media_id = match.get("media_id", row.other_media_id)
                distance = match.get("min_distance")
                if distance is not None:
                    row.min_distance = (
                        distance if row.min_distance is None else min(row.min_distance, distance)
                    )
                row.signals = sorted(set(row.signals) | set(match.get("signals", [])))
                if len(match.get("geometry", [])) > len(row.geometry):
                    row.geometry = list(match["geometry"])
    for row in rows.values():
        if row.exact and row.min_distance is None:
            row.min_distance = 0  # the same bytes: every frame identical
    # What most changes the verdict first: a claim already paid, another unit's, the closest.
    return sorted(
        rows.values(),
        key=lambda r: (
            r.submission_status != "approved",
            not r.other_unit,
            -r.share,
            r.min_distance if r.min_distance is not None else 99,
        ),
    )


class _Presigner:
    """Presigns GETs for the page: nothing for a missing object."""

    def __call__(self, key: str | None, content_type: str | None = None) -> str | None:
        return storage.presign_get(key, content_type=content_type) if key else None


def item_view(
    session: Session, *, viewer: Principal, item_id: str, now: datetime | None = None
) -> ItemView:
    # The role first: whoever may not see the queue is refused alike for any item id.
    policy.require(viewer, Action.view_queue)
    now = now or utcnow()
    settings = get_settings()
    item = session.get(ReviewItem, item_id)
    submission = session.get(Submission, item.submission_id) if item else None
    if item is None or submission is None or not leases.may_view(viewer, submission=submission):
        raise NotFound("no such review item")
    sign = _Presigner()
    # Every other claim this one's evidence names is shown through the viewer's scope.
    scope = visibility.scope(session, viewer=viewer)
    media_rows = list(
        session.scalars(
            select(Media).where(Media.submission_id == submission.id).order_by(Media.created_at)
        )
    )
    frame_urls: dict[tuple[str, float], str | None] = {}
    media = [_media_view(session, m, sign, frame_urls, submission) for m in media_rows]
    flag_rows = list(
        session.scalars(select(Flag).where(Flag.submission_id == submission.id).order_by(Flag.kind))
    )
    flags = sorted(
        (_flag_view(session, flag, sign, frame_urls, scope) for flag in flag_rows),
        key=lambda f: FLAG_ORDER.index(f.kind) if f.kind in FLAG_ORDER else len(FLAG_ORDER),
    )
    claims = group_matches(
        [(f.kind, f.media_id, f.evidence) for f in flags if f.kind in DUPLICATE_KINDS]
    )
    for claim in claims:
        _fill_claim(session, claim, sign, frame_urls)
    decisions = [
        (d, email)
        for d, email in session.execute(
            select(Decision, StaffUser.email)
            .join(StaffUser, StaffUser.id == Decision.reviewer_id)
            .where(Decision.submission_id == submission.id)
            .order_by(Decision.created_at, Decision.id)
        )
    ]
    shown, blind = visible_decisions(decisions, item=item, viewer_id=viewer.id)
    claimed = (
        _position("claimed", submission.lat, submission.lon, None)
        if submission.lat is not None and submission.lon is not None
        else None
    )
    return ItemView(
        item=item,
        submission=submission,
        unit_name=session.get_one(Unit, submission.unit_id).name,
        media=media,
        flags=flags,
        decisions=shown,
        lease_is_mine=item.state == ItemState.leased and item.leased_by == viewer.id,
        worth=item.points,
        claims=claims,
        blind=blind,
        four_eyes=item.state != ItemState.decided
        and item.points is not None
        and item.points >= settings.four_eyes_points,
        threshold=settings.match_threshold,
        claimed_position=claimed,
        map_tile_url=settings.map_tile_url,
        now=now,
    )


def _fill_claim(
    session: Session,
    claim: ClaimMatch,
    sign: _Presigner,
    frame_urls: dict[tuple[str, float], str | None],
) -> None:
    """The other claim as a reviewer tells it apart: its unit, target, a thumbnail, its item,
    the capped frame pairs, and its original for playing both side by side."""
    other = session.get(Submission, claim.submission_id)
    if other is not None:
        claim.target_type, claim.outcome = other.target_type, other.outcome
    unit = session.get(Unit, claim.unit_id) if claim.unit_id else None
    claim.unit_name = unit.name if unit else "?"
    claim.other_item_id = session.scalar(
        select(ReviewItem.id).where(ReviewItem.submission_id == claim.submission_id)
    )
    other_media = session.get(Media, claim.other_media_id) if claim.other_media_id else None
    if other_media is not None and other_media.thumbnail_key:
        claim.thumb_url = sign(other_media.thumbnail_key, "image/jpeg")
    else:
        stills = _first_stills(session, sign, claim.submission_id, count=1)
        claim.thumb_url = stills[0][1] if stills else None
    if claim.this_media_id and claim.other_media_id:
        claim.pairs = [
            FramePair(
                this_url=_frame_url(session, sign, frame_urls, claim.this_media_id, p["this_t"]),
                this_t=p["this_t"],
                other_url=_frame_url(session, sign, frame_urls, claim.other_media_id, p["other_t"]),
                other_t=p["other_t"],
                distance=p["distance"],
                signal=p.get("signal", "pdq"),
            )
            for p in claim.frame_pairs[:MAX_PAIRS]
        ]
        claim.outlines = [
            OutlinedPair(
                this_url=_frame_url(session, sign, frame_urls, claim.this_media_id, g["this_t"]),
                this_t=g["this_t"],
                other_url=_frame_url(session, sign, frame_urls, claim.other_media_id, g["other_t"]),
                other_t=g["other_t"],
                inliers=g["inliers"],
                keypoints=g["keypoints"],
                share=g["share"],
                this_points=svg_points(g["this_quad"]),
                other_points=svg_points(g["other_quad"]),
            )
            for g in claim.geometry[:MAX_OUTLINES]
        ]
    if (
        other_media is not None
        and other_media.status == MediaStatus.processed
        and other_media.kind == "video"
        and (play_type := PLAYABLE.get(other_media.container or "")) is not None
    ):
        claim.other_play_url = sign(other_media.s3_key, play_type)
        claim.other_play_type = play_type


def _media_view(
    session: Session,
    media: Media,
    sign: _Presigner,
    frame_urls: dict[tuple[str, float], str | None],
    submission: Submission,
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
        capture=_capture(media, submission),
        positions=positions(
            (submission.lat, submission.lon)
            if submission.lat is not None and submission.lon is not None
            else None,
            media,
        ),
    )


def _capture(media: Media, submission: Submission) -> CaptureTime:
    probe = media.probe or {}
    facts = {"captured_at": media.captured_at, "telemetry": probe.get("telemetry"),
             "osd": probe.get("osd")}  # fmt: skip
    try:
        raw, source = capture_time(facts)
    except ValueError:  # a telemetry time that is not a time at all
        raw, source = None, None
    found = usable_capture(
        raw,
        uploaded_at=media.uploaded_at or media.created_at or submission.created_at,
        occurred_at=submission.occurred_at,
    )
    found.source = source
    return found


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
    session: Session,
    flag: Flag,
    sign: _Presigner,
    frame_urls: dict[tuple[str, float], str | None],
    scope: visibility.Scope,
) -> FlagView:
    evidence = live_evidence(session, flag, scope=scope)
    view = FlagView(kind=flag.kind, media_id=flag.media_id, evidence=evidence)
    if flag.kind == "osd_mismatch":
        view.frame_url = sign(evidence.get("frame_key"), "image/jpeg")
    view.hidden = sum(
        visibility.is_hidden(e) for key in visibility.CLAIM_LISTS for e in evidence.get(key, [])
    )
    for claim in evidence.get("claims", []):
        if visibility.is_hidden(claim):
            continue
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
    return view
