"""The seniors' disputes page: each open dispute with, on top, which file is the likely original
and the split that follows (accepted with one key), then the target's worth, what is paid and
left, and its claims side by side with their footage, file facts, standing and the signals
tying each to the others by claim id; share inputs only for claims that can still be paid. A
refused settlement re-renders the page with what was typed and why."""

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from edge.deps import NowDep
from edge.errors import localised
from edge.i18n import gettext
from edge.unit_of_work import SessionDep, discard_so_far
from mvq import storage
from mvq.audit import service as audit
from mvq.auth import service as auth
from mvq.auth.policy import Action
from mvq.errors import Conflict, Invalid
from mvq.media.models import Frame, Media, MediaStatus
from mvq.review import provenance
from mvq.review.models import ReviewItem
from mvq.scoring.disputes import reading, settlement
from mvq.scoring.disputes.suggestion import Suggestion, suggest
from web import provenance_words
from web.deps import WebFormUserDep, WebUser, WebUserDep
from web.templating import redirect, render

router = APIRouter(include_in_schema=False)


@dataclass
class MemberView:
    contender: reading.Contender
    unit_name: str
    item_id: str | None
    thumbnail: str | None
    signals: list[dict[str, Any]]
    file: provenance.FileFacts | None
    role: str  # "original", "copy" or "" (can't tell, or filmed apart)
    reasons: list[str]  # the evidence that its file is the source, in words

    @property
    def short_id(self) -> str:
        return self.contender.submission.id[:8]


@dataclass
class DisputeView:
    contest: reading.Contest
    members: list[MemberView]
    ranking: provenance.Ranking
    suggestion: Suggestion
    # What the members claimed, as (target, outcome) pairs, each once: the heading's words.
    claimed: list[tuple[str, str]]
    # After a refused settlement of this dispute: what was typed, and why it was refused.
    typed: dict[str, Any] = field(default_factory=dict)
    refusal: str | None = None
    # Over the worth: the sum in numbers, for the page to say in the reader's language.
    over: dict[str, int] | None = None

    @property
    def by_id(self) -> dict[str, MemberView]:
        return {m.contender.submission.id: m for m in self.members}


def _first_frames(session: Session, submission_ids: list[str]) -> dict[str, str]:
    """Each claim's first stored still (its first processed file's), as an object key."""
    rows = session.execute(
        select(Media.submission_id, Frame.s3_key)
        .join(Frame, Frame.media_id == Media.id)
        .where(Media.submission_id.in_(submission_ids), Media.status == MediaStatus.processed)
        .order_by(Media.submission_id, Media.created_at, Frame.index)
    )
    first: dict[str, str] = {}
    for submission_id, key in rows:
        first.setdefault(submission_id, key)
    return first


def _views(session: Session, user: WebUser) -> list[DisputeView]:
    contests = reading.open_disputes(session, viewer=user.principal)
    ids = [c.submission.id for contest in contests for c in contest.members]
    names = auth.unit_names(session, ids=[c.member.unit_id for x in contests for c in x.members])
    items = dict(
        session.execute(
            select(ReviewItem.submission_id, ReviewItem.id).where(ReviewItem.submission_id.in_(ids))
        ).all()
    )
    frames = _first_frames(session, ids)
    views = []
    for contest in contests:
        members = []
        ranking = provenance.for_claims(session, [c.submission.id for c in contest.members])
        for c in contest.members:
            sid = c.submission.id
            key = frames.get(sid)
            signals = [
                {"other": other.submission.id[:8],
                 "other_unit": names.get(other.member.unit_id, "?"), **signal}
                for other in contest.members if other is not c
                for signal in reading.signals_between(contest.dispute, sid, other.submission.id)
            ]  # fmt: skip
            thumbnail = storage.presign_get(key, content_type="image/jpeg") if key else None
            unit_name = names.get(c.member.unit_id, "?")
            role = ("original" if ranking.original == sid else
                    "copy" if sid in ranking.copies else "")  # fmt: skip
            file = ranking.facts.get(sid)
            members.append(MemberView(c, unit_name, items.get(sid), thumbnail, signals, file,
                                      role, _reasons(ranking, sid)))  # fmt: skip
        claimed = list(dict.fromkeys((c.submission.target_type, c.submission.outcome)
                                     for c in contest.members))  # fmt: skip
        found = suggest(contest, ranking)
        views.append(DisputeView(contest, members, ranking, found, claimed))
    if frames:
        # Stills of the claims were presigned for this viewer: who saw what is on record.
        audit.record(session, actor=user.principal.actor, action="media.viewed",
                     object_type="disputes", object_id="open",
                     data={"objects": sorted(frames.values())})  # fmt: skip
    return views


def _reasons(ranking: provenance.Ranking, sid: str) -> list[str]:
    """The evidence that this claim's file is the source of the others', each reason once."""
    found: dict[str, None] = {}
    for verdict in ranking.verdicts:
        if sid in (verdict.a, verdict.b):
            found |= dict.fromkeys(provenance_words.reasons(verdict, sid))
    return list(found)


def _note(ranking: provenance.Ranking, found: Suggestion) -> str:
    """The settlement's reason when the senior accepts the suggestion: what it rests on."""
    if found.kind == "original" and ranking.original:
        return gettext("Claim %(id)s holds the original file: %(reasons)s.",
                       id=ranking.original[:8],
                       reasons="; ".join(_reasons(ranking, ranking.original)))  # fmt: skip
    return gettext("Shared: no claim's file is shown to be the source of another's.")


def fingerprint(found: Suggestion) -> str:
    """What the page showed, so that accepting it settles exactly that or nothing."""
    shown = json.dumps({"shares": found.shares, "reverse": found.reverse}, sort_keys=True)
    return hashlib.sha256(shown.encode()).hexdigest()[:16]


def _accepted(session: Session, user: WebUser, dispute_id: str, shown: str) -> Suggestion:
    """The suggestion as it stands now, refused unless it is the one the page showed."""
    contest = next((c for c in reading.open_disputes(session, viewer=user.principal)
                    if c.dispute.id == dispute_id), None)  # fmt: skip
    if contest is None:
        raise Conflict("the dispute is settled", code="dispute_settled")
    ranking = provenance.for_claims(session, [c.submission.id for c in contest.members])
    found = suggest(contest, ranking)
    if found.blocked or fingerprint(found) != shown:
        raise Conflict("the suggestion changed since the page was shown",
                       code="suggestion_changed")  # fmt: skip
    found.note = _note(ranking, found)
    return found


def _over(contest: reading.Contest, shares: dict[str, int], reverse: list[str]) -> dict[str, int]:
    kept = sum(c.paid for c in contest.members if c.submission.id not in reverse)
    added = sum(shares.values())
    return {"worth": contest.worth.points or 0, "paid": kept, "shares": added,
            "total": kept + added}  # fmt: skip


def _page(
    request: Request, user: WebUser, views: list[DisputeView], *, message: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:  # fmt: skip
    return render(request, "disputes.html", user=user, disputes=views, message=message,
                  can_settle=user.can(Action.settle_disputes), fingerprint=fingerprint,
                  status_code=status_code)  # fmt: skip


@router.get("/disputes", response_class=HTMLResponse)
def disputes_page(
    request: Request, user: WebUserDep, session: SessionDep, message: str | None = None
) -> HTMLResponse:
    views = _views(session, user)
    return _page(request, user, views, message=message)


@router.post("/disputes/{dispute_id}/settle", response_class=RedirectResponse)
async def settle(dispute_id: str, request: Request, user: WebFormUserDep, session: SessionDep,
                 now: NowDep) -> Response:  # fmt: skip
    form = await request.form()
    typed = {k: v for k, v in form.items() if isinstance(v, str)}
    reverse = [str(v) for v in form.getlist("reverse")]
    note = typed.get("note")
    shares: dict[str, int] = {}
    try:
        if "accept" in typed:  # the suggestion, computed again here: nothing typed is trusted
            found = _accepted(session, user, dispute_id, typed["accept"])
            shares, reverse, note = found.shares, found.reverse, found.note
        else:
            for key, value in typed.items():
                if key.startswith("share:") and value.strip():
                    if not value.strip().isdigit():
                        raise Invalid("a share is a whole number of points", code="bad_shares")
                    shares[key.removeprefix("share:")] = int(value)
        settlement.settle(session, senior=user.principal, dispute_id=dispute_id, shares=shares,
                        note=note, now=now, reverse=reverse)  # fmt: skip
    except (Invalid, Conflict) as exc:
        discard_so_far(session)
        views = _views(session, user)
        for view in views:
            if view.contest.dispute.id == dispute_id:
                view.typed = typed | {"reverse": reverse}
                view.refusal = localised(exc)
                if exc.code == "suggestion_changed":
                    view.refusal = gettext("The suggestion changed since the page was shown: "
                                           "read it again.")  # fmt: skip
                if exc.code == "over_worth":
                    view.over = _over(view.contest, shares, reverse)
        return _page(request, user, views, status_code=exc.status)
    return redirect(request, "disputes_page", message=gettext("Dispute settled."))
