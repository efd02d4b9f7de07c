"""Duplicate flags for a freshly processed file: exact copies (same SHA-256) and near copies
(PDQ frame matches), each with who holds the other copy and where it stands; then the file's
own frames join the index for those that come after it."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session

from mvq.matching import service as matching
from mvq.media.ingest.frames import Probe
from mvq.media.ingest.keyframes import Keyframe
from mvq.media.models import Media
from mvq.settings import get_settings
from mvq.submissions.models import Flag, Submission

DUPLICATE_KINDS = ("exact_duplicate", "near_duplicate", "cross_unit_duplicate")


def flag_and_index(
    session: Session, *, media: Media, probes: Sequence[Probe], keyframes: Sequence[Keyframe] = ()
) -> None:
    """`probes`: the file's frames to query with, straight from the pipeline (never stored);
    `keyframes`: its ORB features, queried with and then indexed."""
    settings = get_settings()
    own = session.get_one(Submission, media.submission_id)
    near = []
    for found in matching.locked_matches(
        session,
        probes,
        exclude_media=media.id,
        threshold=settings.match_threshold,
        rule=matching.ClipRule(settings.match_min_share, settings.match_min_frames),
        keyframes=keyframes,
    ):
        other = matching.describe(session, media_id=found.media_id)
        if other["submission_id"] != own.id:
            near.append(other | {"share_this": found.share_this, "share_other": found.share_other,
                                 "frames_this": found.frames_this,
                                 "frames_other": found.frames_other,
                                 "min_distance": found.min_distance, "signals": found.signals,
                                 "frame_pairs": found.pairs,
                                 "geometry": found.geometry})  # fmt: skip
    # Under the lock `locked_matches` left held: an exact copy committed a moment ago is seen.
    exact = [matching.describe(session, media_id=m)
             for m in matching.exact_copies(session, media=media)]  # fmt: skip
    exact = [e for e in exact if e["submission_id"] != own.id]
    session.execute(delete(Flag).where(Flag.media_id == media.id,
                                       Flag.kind.in_(DUPLICATE_KINDS)))  # fmt: skip
    flags: dict[str, list[dict[str, Any]]] = {
        "exact_duplicate": exact,
        "near_duplicate": near,
        "cross_unit_duplicate": [m for m in exact + near if m["unit_id"] != own.unit_id],
    }
    for kind, matches in flags.items():
        if matches:
            session.add(Flag(submission_id=own.id, media_id=media.id, kind=kind,
                             evidence={"matches": matches}))  # fmt: skip
    matching.index_frames(session, media_id=media.id)
    matching.index_keyframes(session, media_id=media.id, keyframes=keyframes)
