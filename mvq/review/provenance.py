"""Which file is the original: for two claims showing the same footage, the evidence that one
file is the source of the other, weighed. A copy loses things an original has (frames, camera
tags, a manifest, pixels, bits); it rarely gains them. Thin evidence answers "can't tell":
a wrong answer costs a unit its award, an honest "can't tell" costs a senior a minute.

The rules are pure (`compare`); `for_claims` reads what ingest stored for them."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mvq.matching.duplicates import DUPLICATE_KINDS
from mvq.media.flags import capture_time
from mvq.media.models import Media, MediaStatus
from mvq.submissions.models import Flag, Submission

# How much each kind of evidence weighs. An answer needs a margin of ANSWER_MARGIN and at least
# one reason of FIRM weight on the winner's side: upload order alone never decides.
WEIGHTS = {
    "c2pa": 3.0,  # a valid manifest: signed at capture, lost by any re-encode
    "contains": 2.5,  # all of the other's frames plus more: the other was cut from it
    "camera": 2.5,  # the camera's own tags and encoding; the other re-encoded or stripped
    "bit_rate_much": 2.0,  # ≥ 1.6x the bits at the same resolution: a copy only loses bits
    "resolution": 1.5,  # ≥ 1.2x the pixels: copies are scaled down or cropped
    "earlier": 1.5,  # the files' own capture times (metadata or telemetry) apart
    "bit_rate": 0.75,  # ≥ 1.25x the bits
    "keeps_time": 0.75,  # a capture time the other file has lost
    "uploaded_first": 0.5,  # a copier may simply be faster: weak
}
ANSWER_MARGIN = 1.5
FIRM = 1.5
CONTAINS_MIN_SECONDS = 3.0  # trims shorter than this hide in the one-a-second sampling
EARLIER_MIN_SECONDS = 120.0


@dataclass(frozen=True)
class FileFacts:
    """What one claim's file says of itself."""

    submission_id: str
    media_id: str
    uploaded_at: datetime
    duration: float | None = None
    pixels: int | None = None
    bit_rate: int | None = None
    camera: bool = False  # camera make or model in its tags
    reencoded: bool = False  # an encoder tag or muxer of editing software
    captured_at: datetime | None = None
    time_source: str | None = None  # "file metadata" or "telemetry (...)"
    c2pa_valid: bool = False

    @classmethod
    def of(cls, media: Media, uploaded_at: datetime) -> "FileFacts":
        probe = media.probe or {}
        when, source = capture_time({"captured_at": media.captured_at,
                                     "telemetry": probe.get("telemetry")})  # fmt: skip
        return cls(
            submission_id=media.submission_id, media_id=media.id, uploaded_at=uploaded_at,
            duration=media.duration_seconds,
            pixels=media.width * media.height if media.width and media.height else None,
            bit_rate=media.bit_rate, camera=bool(media.device_make or media.device_model),
            reencoded=bool(probe.get("reencode_signals")), captured_at=when, time_source=source,
            c2pa_valid=media.c2pa_status == "valid",
        )  # fmt: skip


@dataclass(frozen=True)
class Alignment:
    """How the two files' frames meet: the share of each file's sampled frames found in the
    other. `exact`: the same bytes."""

    share_a: float
    share_b: float
    exact: bool = False
    # Linked only by the scene's geometry (a screen filmed by a phone, an inset, a heavy crop):
    # the two files do not hold the same picture.
    geometric: bool = False


@dataclass(frozen=True)
class Reason:
    code: str  # a key of WEIGHTS
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def weight(self) -> float:
        return WEIGHTS[self.code]


@dataclass(frozen=True)
class Verdict:
    """Two claims compared. `original` is a submission id, or None: can't tell."""

    a: str
    b: str
    original: str | None
    reasons: dict[str, list[Reason]]  # for each side, the evidence that it is the source
    same_file: bool = False

    @property
    def copy(self) -> str | None:
        if self.original is None:
            return None
        return self.b if self.original == self.a else self.a

    def score(self, side: str) -> float:
        return sum(r.weight for r in self.reasons.get(side, []))


def _for(a: FileFacts, b: FileFacts, link: Alignment) -> list[Reason]:
    """Evidence that `a` is the source of `b`.

    Where the files share only the scene's geometry, a copy may itself be a camera's original
    (a phone filming a screen has real camera tags, a manifest if it signs, more pixels and
    the bits of the screen's grain): what the file says of its own capture and quality tells
    nothing about which came first, so only time and containment count there."""
    found: list[Reason] = []
    own_evidence = not link.geometric
    if own_evidence and a.c2pa_valid and not b.c2pa_valid:
        found.append(Reason("c2pa"))
    if a.duration and b.duration and link.share_b >= 0.85:
        more = a.duration - b.duration
        if more >= CONTAINS_MIN_SECONDS and link.share_a < 0.9:
            found.append(Reason("contains", {"seconds": round(more)}))
    if own_evidence and a.camera and not a.reencoded and (b.reencoded or not b.camera):
        found.append(Reason("camera", {"other_reencoded": b.reencoded}))
    if a.captured_at and b.captured_at:
        ahead = (b.captured_at - a.captured_at).total_seconds()
        if ahead >= EARLIER_MIN_SECONDS:
            found.append(Reason("earlier", {"seconds": int(ahead),
                                            "source": a.time_source or ""}))  # fmt: skip
    elif a.captured_at and not b.captured_at and not any(r.code == "camera" for r in found):
        found.append(Reason("keeps_time", {"source": a.time_source or ""}))
    same_size = own_evidence and a.pixels and b.pixels and a.pixels >= b.pixels
    if own_evidence and a.pixels and b.pixels and a.pixels >= 1.2 * b.pixels:
        found.append(Reason("resolution", {"a": a.pixels, "b": b.pixels}))
    if a.bit_rate and b.bit_rate and same_size:
        ratio = a.bit_rate / b.bit_rate
        if ratio >= 1.6:
            found.append(Reason("bit_rate_much", {"ratio": round(ratio, 1)}))
        elif ratio >= 1.25:
            found.append(Reason("bit_rate", {"ratio": round(ratio, 1)}))
    if a.uploaded_at < b.uploaded_at:
        found.append(Reason("uploaded_first"))
    return found


def compare(a: FileFacts, b: FileFacts, link: Alignment) -> Verdict:
    """Weigh both sides' evidence. The same bytes: only the upload order differs, so can't tell."""
    if link.exact:
        return Verdict(a.submission_id, b.submission_id, None, {}, same_file=True)
    mirrored = Alignment(share_a=link.share_b, share_b=link.share_a, geometric=link.geometric)
    reasons = {a.submission_id: _for(a, b, link), b.submission_id: _for(b, a, mirrored)}
    verdict = Verdict(a.submission_id, b.submission_id, None, reasons)
    sa, sb = verdict.score(a.submission_id), verdict.score(b.submission_id)
    winner = a.submission_id if sa > sb else b.submission_id
    firm = any(r.weight >= FIRM for r in reasons[winner])
    if abs(sa - sb) >= ANSWER_MARGIN and firm:
        return Verdict(a.submission_id, b.submission_id, winner, reasons)
    return verdict


@dataclass
class Ranking:
    """Claims in a dispute ranked: `original` when one claim is the likely source of every
    other claim showing its footage; `verdicts` for each pair of claims with shared footage."""

    verdicts: list[Verdict]
    original: str | None
    copies: list[str]
    # Claims whose footage matches no other member's: filmed apart, nobody's copy.
    apart: list[str]
    facts: dict[str, FileFacts] = field(default_factory=dict)

    @property
    def told(self) -> bool:
        return self.original is not None


def _facts(session: Session, ids: list[str]) -> dict[str, FileFacts]:
    """Each claim's first processed file, and when the claim was made."""
    rows = session.execute(
        select(Media, Submission.created_at)
        .join(Submission, Submission.id == Media.submission_id)
        .where(Media.submission_id.in_(ids), Media.status == MediaStatus.processed)
        .order_by(Media.created_at)
    )
    out: dict[str, FileFacts] = {}
    for media, created in rows:
        if media.submission_id not in out:
            out[media.submission_id] = FileFacts.of(media, media.uploaded_at or created)
    return out


def _links(session: Session, facts: dict[str, FileFacts]) -> dict[tuple[str, str], Alignment]:
    """Alignments between the claims' files, from the duplicate flags ingest stored on the
    later-processed file of each pair. Keyed (a, b) as submission ids, either order."""
    by_media = {f.media_id: f.submission_id for f in facts.values()}
    out: dict[tuple[str, str], Alignment] = {}
    flags = session.scalars(
        select(Flag).where(Flag.media_id.in_(list(by_media)), Flag.kind.in_(DUPLICATE_KINDS))
    )
    for flag in flags:
        this = by_media[flag.media_id or ""]
        for m in flag.evidence.get("matches", []):
            other = by_media.get(str(m.get("media_id")))
            if other is None or other == this:
                continue
            if flag.kind == "exact_duplicate":
                out[(this, other)] = out[(other, this)] = Alignment(1.0, 1.0, exact=True)
                continue
            if (this, other) in out and out[(this, other)].exact:
                continue
            geometric = set(m.get("signals") or ()) == {"geometry"}
            share_this = float(m.get("share_this") or 0)
            share_other = (m.get("frames_other") or 0) / max(1, m.get("size_other") or 1)
            if "frames_other" not in m:
                share_other = float(m.get("share_other") or 0)
            out[(this, other)] = Alignment(share_this, share_other, geometric=geometric)
            out[(other, this)] = Alignment(share_other, share_this, geometric=geometric)
    return out


def for_claims(session: Session, ids: list[str]) -> Ranking:
    """Rank the claims `ids` (a dispute's members, or a claim and its duplicates)."""
    facts = _facts(session, ids)
    links = _links(session, facts)
    verdicts = []
    for i, a in enumerate(ids):
        for b in ids[i + 1 :]:
            if (a, b) in links and a in facts and b in facts:
                verdicts.append(compare(facts[a], facts[b], links[(a, b)]))
    linked = {x for v in verdicts for x in (v.a, v.b)}
    apart = [s for s in ids if s not in linked]
    # The original is the claim that won every comparison it took part in.
    original = None
    for sid in linked:
        mine = [v for v in verdicts if sid in (v.a, v.b)]
        if mine and all(v.original == sid for v in mine):
            original = sid
    # Copies of one original often can't be told apart from each other: that's no matter.
    group = {x for v in verdicts if original in (v.a, v.b) for x in (v.a, v.b)}
    copies = [s for s in ids if s in group and s != original] if original else []
    return Ranking(verdicts, original, copies, apart, facts)


def for_pair(session: Session, a: str, b: str) -> Verdict | None:
    ranking = for_claims(session, [a, b])
    return ranking.verdicts[0] if ranking.verdicts else None
