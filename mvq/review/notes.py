"""The thread of notes on a review item: reviewers and seniors ask and answer there, and name
colleagues with `@name` (an e-mail address, or its part before the `@` where that is one
person's). Staff only: a note never reaches a unit, on any path.

A mention is resolved once, when the note is written, to an active member of staff who may see
the claim; anything else stays plain text. Notes and mentions are appended, never changed.
"""

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from mvq.audit import binding
from mvq.audit import service as audit
from mvq.auth import policy
from mvq.auth.models import StaffUser
from mvq.auth.policy import Action
from mvq.auth.principal import Principal
from mvq.errors import Invalid, NotFound
from mvq.review.leases import may_view
from mvq.review.models import ItemNote, NoteMention, ReviewItem
from mvq.review.qa import tasks as qa_tasks
from mvq.review.qa.models import QaTask
from mvq.submissions.models import Submission

MAX_BODY = 4000
# "@anna" or "@anna.k@example.org": letters, digits and . _ + - around at most one more @.
MENTION = re.compile(r"(?<![\w@])@([\w.+-]+(?:@[\w-]+(?:\.[\w-]+)+)?)")


@dataclass(frozen=True)
class Note:
    note: ItemNote
    author_email: str
    mentioned: list[str]  # the e-mail addresses it resolved to


def _item(
    session: Session, *, viewer: Principal, item_id: str
) -> tuple[ReviewItem, Submission, QaTask | None]:
    """The item, its claim, and the QA task when `item_id` is one the viewer holds: a golden
    or re-review copy takes notes as a live item does (refusing them would tell it apart);
    they are kept against the real claim and shown in that copy's thread only."""
    task = qa_tasks.find(session, item_id=item_id, reviewer=viewer)
    if task is not None:
        item_id = qa_tasks.real_item_id(session, task=task)
    item = session.get(ReviewItem, item_id)
    submission = session.get(Submission, item.submission_id) if item else None
    # Not found, rather than forbidden: whether a claim exists is not told to whom may not see it.
    if item is None or submission is None or not may_view(viewer, submission=submission):
        raise NotFound("no such review item")
    return item, submission, task


def mentionable(session: Session, *, names: set[str], claim_unit_id: str) -> list[StaffUser]:
    """The people `names` (lower-cased) stand for: active staff who may see the claim; a short
    name counts only where it is one person's."""
    if not names:
        return []
    people = session.scalars(
        select(StaffUser).where(StaffUser.disabled_at.is_(None), policy.staff_accounts())
    ).all()
    found: dict[str, StaffUser] = {}
    short: dict[str, list[StaffUser]] = {}
    for person in people:
        if not policy.is_staff_role(person.role) or policy.is_service_account(person.role):
            continue
        if person.unit_id == claim_unit_id:
            continue  # linked to the claim's unit: may not see it, so may not be asked about it
        short.setdefault(person.email.split("@", 1)[0].lower(), []).append(person)
        if person.email.lower() in names:
            found[person.id] = person
    for name in names:
        if len(short.get(name, [])) == 1:
            found.setdefault(short[name][0].id, short[name][0])
    return list(found.values())


def add(session: Session, *, author: Principal, item_id: str, body: str) -> Note:
    policy.require(author, Action.write_notes)
    item, submission, task = _item(session, viewer=author, item_id=item_id)
    text = body.strip()
    if not text or len(text) > MAX_BODY:
        raise Invalid(f"a note is 1 to {MAX_BODY} characters", code="bad_note")
    names = {m.lower().rstrip(".") for m in MENTION.findall(text)}
    people = [p for p in mentionable(session, names=names, claim_unit_id=submission.unit_id)
              if p.id != author.id]  # fmt: skip
    note = ItemNote(review_item_id=item.id, submission_id=submission.id, author_id=author.id,
                    body=text, qa_task_id=task.id if task else None)  # fmt: skip
    session.add(note)
    session.flush()
    session.add_all(NoteMention(note_id=note.id, staff_user_id=p.id) for p in people)
    session.flush()
    audit.record(
        session,
        actor=author.actor,
        action="review.note_added",
        object_type="item_note",
        object_id=note.id,
        data={
            "submission_id": submission.id,
            "review_item_id": item.id,
            "qa_task_id": task.id if task else None,
            "mentioned_ids": sorted(p.id for p in people),
            binding.ROW_DIGEST: binding.row_digest(note),
        },
    )
    author_email = session.scalar(select(StaffUser.email).where(StaffUser.id == author.id))
    return Note(note, author_email or "?", sorted(p.email for p in people))


def thread(session: Session, *, viewer: Principal, item_id: str) -> list[Note]:
    """The item's notes, oldest first, for anyone on staff who may see the claim; a QA copy's
    thread holds only the notes written on it (the real claim's thread holds them all)."""
    item, _, task = _item(session, viewer=viewer, item_id=item_id)
    which = ItemNote.qa_task_id == task.id if task else ItemNote.review_item_id == item.id
    rows = session.execute(
        select(ItemNote, StaffUser.email)
        .join(StaffUser, StaffUser.id == ItemNote.author_id)
        .where(which)
        .order_by(ItemNote.created_at, ItemNote.id)
    ).all()
    mentioned: dict[str, list[str]] = {}
    for note_id, email in session.execute(
        select(NoteMention.note_id, StaffUser.email)
        .join(StaffUser, StaffUser.id == NoteMention.staff_user_id)
        .where(NoteMention.note_id.in_([n.id for n, _ in rows]))
    ):
        mentioned.setdefault(note_id, []).append(email)
    return [Note(n, email, sorted(mentioned.get(n.id, []))) for n, email in rows]


@dataclass(frozen=True)
class Mention:
    note: ItemNote
    author_email: str
    item_id: str
    short_id: str


def mentions_of(
    session: Session, *, viewer: Principal, since: datetime, limit: int = 10
) -> list[Mention]:
    """The newest notes that name this person, for the queue's "mentions you" list; a claim
    they may no longer see (linked to its unit since) is left out."""
    if not policy.allows(viewer, Action.view_queue):
        return []
    rows = session.execute(
        select(ItemNote, StaffUser.email, Submission)
        .join(NoteMention, NoteMention.note_id == ItemNote.id)
        .join(StaffUser, StaffUser.id == ItemNote.author_id)
        .join(Submission, Submission.id == ItemNote.submission_id)
        .where(NoteMention.staff_user_id == viewer.id, NoteMention.created_at >= since)
        .order_by(NoteMention.created_at.desc(), NoteMention.id.desc())
        .limit(limit)
    ).all()
    return [Mention(note, email, note.review_item_id, sub.id[:8]) for note, email, sub in rows
            if may_view(viewer, submission=sub)]  # fmt: skip


def noted_items(
    session: Session, *, viewer: Principal, item_ids: list[str]
) -> dict[str, tuple[int, bool]]:
    """For a page of queue rows: each item's number of notes, and whether one names the viewer.
    A QA copy's row (its id is the task's) counts the notes written on that copy."""
    found: dict[str, tuple[int, bool]] = {}
    if not item_ids:
        return found
    rows = session.execute(
        select(ItemNote.review_item_id, ItemNote.qa_task_id, NoteMention.id)
        .outerjoin(NoteMention, (NoteMention.note_id == ItemNote.id)
                   & (NoteMention.staff_user_id == viewer.id))
        .where(ItemNote.review_item_id.in_(item_ids) | ItemNote.qa_task_id.in_(item_ids))
    )  # fmt: skip
    for review_item_id, qa_task_id, names_viewer in rows:
        item_id = qa_task_id if qa_task_id in item_ids else review_item_id
        count, named = found.get(item_id, (0, False))
        found[item_id] = (count + 1, named or names_viewer is not None)
    return found
