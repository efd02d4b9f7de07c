"""An auditor's view of the log: everything recorded about one claim, and actors by name.

A claim's story is spread over objects of its own: events name the submission (its states,
media.viewed, evidence.exported), its media (registered, uploaded, sealed, processed), its
review item (leases), its decisions (review.*), its ledger entries (ledger.*), its appeal, and
the dispute it is a member of (dispute.*, ledger.award_held). The ids are collected first, each
by an indexed foreign key; the events are then one `object_id IN (...)` page of the log.
"""

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mvq.audit import query
from mvq.auth import policy
from mvq.auth.models import StaffUser
from mvq.media.models import Media
from mvq.review.models import Appeal, Decision, ReviewItem
from mvq.scoring.models import DisputeMember, LedgerEntry
from mvq.submissions.models import Flag, Submission
from mvq.submissions.visibility import CLAIM_LISTS, HIDDEN, Scope
from mvq.units.models import Unit


def claim_object_ids(session: Session, *, submission_id: str) -> list[str]:
    """The claim's own id and those of every object recorded about it; just the id of a claim
    that does not exist (its events, if any, still show)."""
    ids = [submission_id]
    for model in (Media, ReviewItem, Decision, LedgerEntry, Appeal):
        column = model.submission_id
        ids += session.scalars(select(model.id).where(column == submission_id))
    ids += session.scalars(
        select(DisputeMember.dispute_id).where(DisputeMember.submission_id == submission_id)
    )
    return ids


def hidden_traces(session: Session, *, scope: Scope, submission_id: str) -> set[str]:
    """What would name a claim the scope's viewer may not see among those this claim's record
    touches (copies of its footage, claims credited for its target, its dispute's members): their
    ids, units (id and name), media, review items and stored objects."""
    named = [
        e["submission_id"]
        for flag in session.scalars(select(Flag).where(Flag.submission_id == submission_id))
        for key in CLAIM_LISTS
        for e in flag.evidence.get(key, [])
        if isinstance(e, dict) and "submission_id" in e
    ]
    dispute_ids = select(DisputeMember.dispute_id).where(
        DisputeMember.submission_id == submission_id
    )
    named += session.scalars(
        select(DisputeMember.submission_id).where(DisputeMember.dispute_id.in_(dispute_ids))
    )
    hidden = scope.hidden_of(named)
    if not hidden:
        return set()
    traces = set(hidden)
    for media in session.scalars(select(Media).where(Media.submission_id.in_(hidden))):
        keys = (media.s3_key, media.upload_key, media.thumbnail_key, media.contact_sheet_key)
        traces |= {media.id, *(k for k in keys if k)}
    traces |= set(
        session.scalars(select(ReviewItem.id).where(ReviewItem.submission_id.in_(hidden)))
    )
    units = {scope.unit_of(sid) for sid in hidden} - {None}
    for unit in session.scalars(select(Unit).where(Unit.id.in_(units))):
        traces |= {unit.id, unit.name}
    return traces


def unit_traces(session: Session, *, unit_id: str) -> set[str]:
    """What names one unit's claims: the unit (id and name) and the ids of its claims and of
    everything recorded about them. Stored objects' keys hold a claim's or a media's id."""
    claims = select(Submission.id).where(Submission.unit_id == unit_id)
    traces = {unit_id, *session.scalars(select(Unit.name).where(Unit.id == unit_id))}
    traces |= set(session.scalars(claims))
    for model in (Media, ReviewItem, Decision, LedgerEntry, Appeal):
        traces |= set(session.scalars(select(model.id).where(model.submission_id.in_(claims))))
    # The unit's whole ledger, spends too (they name no claim): each entry's event says whose.
    traces |= set(session.scalars(select(LedgerEntry.id).where(LedgerEntry.unit_id == unit_id)))
    return traces


def without_traces(row: dict[str, Any], traces: set[str]) -> dict[str, Any]:
    """A record (an audit event's row) as a viewer may read it: if it names anything in
    `traces`, its data is replaced by the placeholder and every other text naming one by
    "hidden". The same row comes back when nothing in it is hidden."""
    if not traces or not any(t in json.dumps(row, default=str) for t in traces):
        return row
    return {
        key: dict(HIDDEN) if key == "data"
        else "hidden" if isinstance(value, str) and any(t in value for t in traces)
        else value
        for key, value in row.items()
    }  # fmt: skip


def claim_events(
    session: Session,
    *,
    submission_id: str,
    where: query.Filters = query.Filters(),
    before: int | None = None,
    after: int | None = None,
    limit: int = 100,
) -> query.EventPage:
    ids = claim_object_ids(session, submission_id=submission_id)
    combined = query.Filters(**{**where.__dict__, "object_ids": ids})
    return query.page(session, where=combined, before=before, after=after, limit=limit)


@dataclass(frozen=True)
class Actor:
    name: str  # an e-mail, a unit's name, or the stored actor itself
    detail: str | None  # a role or a unit
    kind: str  # staff, member, unit, worker, system, other


def actor_names(session: Session, actors: set[str]) -> dict[str, Actor]:
    """Each stored actor (`staff:<id>`, `member:<id>`, `unit:<id>`, `worker`, `system:*`) as a
    reader knows it. Two queries for a page however many actors it shows."""
    people = {a.split(":", 1)[1] for a in actors if a.startswith(("staff:", "member:"))}
    units = {a.split(":", 1)[1] for a in actors if a.startswith("unit:")}
    users = {u.id: u for u in session.scalars(select(StaffUser).where(StaffUser.id.in_(people)))}
    units |= {u.unit_id for u in users.values() if u.unit_id}
    named = session.execute(select(Unit.id, Unit.name).where(Unit.id.in_(units)))
    unit_names = {unit_id: name for unit_id, name in named.tuples()}
    found: dict[str, Actor] = {}
    for actor in actors:
        kind, _, ident = actor.partition(":")
        if kind in ("staff", "member") and ident in users:
            # A member's own sign-in is recorded as staff:<id>: the role says who it is.
            user = users[ident]
            if policy.is_member(user.role):
                found[actor] = Actor(user.email, unit_names.get(user.unit_id or ""), "member")
            else:
                found[actor] = Actor(user.email, user.role, "staff")
        elif kind == "unit" and ident in unit_names:
            found[actor] = Actor(unit_names[ident], None, "unit")
        elif kind in ("worker", "system"):
            found[actor] = Actor(actor, None, kind)
        else:
            found[actor] = Actor(actor, None, "other")
    return found


def actor_of(session: Session, text: str) -> str:
    """What an auditor typed in the actor filter, as stored: an e-mail becomes `staff:<id>` or
    `member:<id>`, a unit's name `unit:<id>`; anything else is taken as an actor already."""
    text = text.strip()
    if "@" in text:
        user = session.scalar(select(StaffUser).where(StaffUser.email == text.lower()))
        if user is not None:
            return f"{'member' if policy.is_member(user.role) else 'staff'}:{user.id}"
    elif ":" not in text and text != "worker":
        unit_id = session.scalar(select(Unit.id).where(Unit.name == text))
        if unit_id is not None:
            return f"unit:{unit_id}"
    return text


SHORT_ID = 8  # the pages show a claim by the first 8 characters of its id


@dataclass(frozen=True)
class ClaimSearch:
    """What an auditor typed in the claim field, resolved: the claim's full id, or why not."""

    submission_id: str | None
    problem: str | None = None  # "too_short", "ambiguous" or "unknown"
    matches: int = 0


def find_claim(session: Session, *, text: str, hidden_unit: str | None) -> ClaimSearch:
    """A full claim id, or the short id the pages show (a prefix of at least 8 characters).
    A prefix that two claims share is refused, never guessed. The claims of the unit an
    auditor is linked to are not found by prefix: that would hand back their full ids."""
    if session.get(Submission, text) is not None:
        return ClaimSearch(text)
    if len(text) < SHORT_ID:
        return ClaimSearch(None, "too_short")
    asked = select(Submission.id).where(Submission.id.startswith(text, autoescape=True))
    if hidden_unit is not None:
        asked = asked.where(Submission.unit_id != hidden_unit)
    found = list(session.scalars(asked.limit(2)))
    if len(found) == 1:
        return ClaimSearch(found[0])
    return ClaimSearch(None, "ambiguous" if found else "unknown", len(found))
