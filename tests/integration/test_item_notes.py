"""Issue 32, notes on an item: a thread reviewers and seniors write to, naming colleagues with
`@name`. Mentions resolve to active staff who may see the claim, and those named find the note
on their queue. Every note is an audit event; notes are append-only; the item page shows the
thread in its header; and no route a unit can call ever shows a note (checked over the
application's whole GET route table)."""

import html
import re
import uuid

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from mvq.audit.models import AuditEvent
from mvq.auth import service as auth
from mvq.auth.models import Role, StaffUser
from mvq.db import session_factory, utcnow
from mvq.review.models import ItemNote
from testkit import harness
from testkit.people import Accounts, make_login, web_login
from tests.helpers import queued_item
from tests.routes import fill, get_routes


def person(role: Role, *, unit_id: str | None = None, disabled: bool = False) -> tuple[str, str]:
    """A member of staff: (e-mail, API token)."""
    with session_factory()() as session:
        user, _ = auth.create_user(session, email=f"n{uuid.uuid4().hex[:10]}@notes.mvq",
                                   role=role, unit_id=unit_id, actor="test")  # fmt: skip
        token = auth.issue_staff_token(session, user=user, now=utcnow(), second_factor=True)
        if disabled:
            user.disabled_at = utcnow()
        session.commit()
        return user.email, token


def user_id(email: str) -> str:
    with session_factory()() as session:
        return session.scalars(select(StaffUser.id).where(StaffUser.email == email)).one()


def test_a_thread_with_mentions_reaches_the_people_named_and_no_one_else(
    stack: harness.Stack, accounts: Accounts
) -> None:
    with session_factory()() as session:
        item = queued_item(session, accounts.unit_id)
    author_email, author = person(Role.reviewer)
    senior_email, senior_password = make_login(Role.senior)
    short_email, _ = person(Role.reviewer)
    linked_email, linked = person(Role.reviewer, unit_id=accounts.unit_id)  # the claim's unit
    gone_email, _ = person(Role.reviewer, disabled=True)
    short = short_email.split("@")[0]
    body = (f"@{senior_email} is this the same strike? Ask @{short} too. Not @{linked_email}, "
            f"not @{gone_email}, not @nobody. <script>alert(1)</script>")  # fmt: skip
    with stack.client(author) as api:
        written = api.post(f"/api/v1/review/{item.id}/notes", json={"body": body})
        assert written.status_code == 201, written.text
        assert sorted(written.json()["mentioned"]) == sorted([senior_email, short_email])
        reply = api.post(f"/api/v1/review/{item.id}/notes", json={"body": "   "})
        assert reply.status_code == 422, reply.text
    with stack.client(linked) as api:  # linked to the claim's unit: may not see it at all
        assert api.get(f"/api/v1/review/{item.id}/notes").status_code == 404
    with stack.client(accounts.staff_tokens["auditor"]) as api:  # staff read, only reviewers write
        thread = api.get(f"/api/v1/review/{item.id}/notes")
        assert thread.status_code == 200 and [n["body"] for n in thread.json()] == [body]
        refused = api.post(f"/api/v1/review/{item.id}/notes", json={"body": "x"})
        assert refused.status_code == 403, refused.text

    # The senior named finds it on the queue, escaped, with a marker on the item's row.
    web = web_login(stack, senior_email, senior_password)
    queue = web.client.get("/review", headers={"Accept": "text/html"}).text
    mentions = re.search(r'<section class="mentions".*?</section>', queue, re.S)
    assert mentions and f"/review/{item.id}#notes" in mentions[0], queue[:3000]
    assert "<script>alert(1)</script>" not in queue
    row = re.search(rf'<tr[^>]*data-item="{item.id}".*?</tr>', queue, re.S)
    if row:  # on the first page of the queue: the marker says the note names the reader
        assert "mentions you" in row[0]
    # The item page shows the thread in its header, above the flags and the footage.
    page = web.client.get(f"/review/{item.id}", headers={"Accept": "text/html"}).text
    header = page.split('<section class="flag-summary"', 1)[0]
    assert 'id="notes"' in header and html.escape(body, quote=False) in header
    assert "<script>alert(1)</script>" not in page
    # Someone not named sees no "mentioned you" list.
    other = web_login(stack, *make_login(Role.reviewer))
    assert (
        'class="mentions"' not in other.client.get("/review", headers={"Accept": "text/html"}).text
    )

    # Written through the page too; the note is audited with who wrote it and whom it named.
    ids = {e: user_id(e) for e in (author_email, senior_email, short_email)}
    with session_factory()() as session:
        note = session.scalars(select(ItemNote).where(ItemNote.review_item_id == item.id)).first()
        assert note is not None
        event = session.scalars(select(AuditEvent).where(AuditEvent.object_id == note.id)).one()
        assert event.action == "review.note_added"
        assert event.actor == f"staff:{ids[author_email]}"
        assert sorted(event.data["mentioned_ids"]) == sorted([ids[senior_email], ids[short_email]])
    form = {"body": f"@{author_email} yes, same", "csrf_token": web.csrf}
    posted = web.client.post(f"/review/{item.id}/notes", data=form,
                             headers={"Accept": "text/html"})  # fmt: skip
    assert posted.status_code == 303, posted.text
    with stack.client(author) as api:
        notes = api.get(f"/api/v1/review/{item.id}/notes").json()
    assert [n["author"] for n in notes] == [author_email, senior_email]
    assert notes[1]["mentioned"] == [author_email]


def test_notes_are_append_only(database: str, accounts: Accounts) -> None:
    with session_factory()() as session:
        item = queued_item(session, accounts.unit_id)
    author = user_id(person(Role.reviewer)[0])
    with session_factory()() as session:
        session.add(ItemNote(review_item_id=item.id, submission_id=item.submission_id,
                             author_id=author, body="first"))  # fmt: skip
        session.commit()
        for statement in ("UPDATE item_notes SET body = 'changed'", "DELETE FROM item_notes",
                          "DELETE FROM note_mentions"):  # fmt: skip
            with pytest.raises(DBAPIError, match="append-only"):
                session.execute(text(statement))
            session.rollback()


def test_no_route_a_unit_can_call_shows_a_note(stack: harness.Stack, accounts: Accounts) -> None:
    """Every GET route of the application, filled with the unit's own claim, item and ids, as
    the unit's token and as its member signed in: the note's words never appear. The write
    routes refuse them (test_roles)."""
    with session_factory()() as session:
        item = queued_item(session, accounts.unit_id)
    secret = f"secret-note-{uuid.uuid4().hex}"
    _, author = person(Role.reviewer)
    with stack.client(author) as api:
        assert api.post(f"/api/v1/review/{item.id}/notes", json={"body": secret}).status_code == 201
    member = web_login(stack, *make_login(Role.unit, unit_id=accounts.unit_id))
    values = {"item_id": [item.id], "submission_id": [item.submission_id],
              "unit_id": [accounts.unit_id], "entry_id": ["none"], "endpoint_id": ["none"],
              "user_id": ["none"], "level": ["0"], "index": ["000"],
              "reason_code": ["not_visible"]}  # fmt: skip
    checked = 0
    with stack.client(accounts.unit_token) as api:
        for route in get_routes():
            for path in fill(route, values):
                if path == "/logout":
                    continue
                page, script = {"Accept": "text/html"}, {"X-CSRF-Token": member.csrf}
                answers = [api.get(path), member.client.get(path, headers=page),
                           member.client.get(path, headers=script)]  # fmt: skip
                for answer in answers:
                    assert secret not in answer.text, (path, answer.status_code)
                checked += 1
    assert checked >= 40
    # The unit's own views of the claim answered (so the check above read real pages).
    with stack.client(accounts.unit_token) as api:
        assert api.get(f"/api/v1/submissions/{item.submission_id}").status_code == 200
        assert api.get(f"/api/v1/review/{item.id}/notes").status_code == 403
    page = member.client.get(f"/unit/claims/{item.submission_id}", headers={"Accept": "text/html"})
    assert page.status_code == 200


def test_the_escalation_note_stays_on_the_seniors_row_beside_the_notes(
    stack: harness.Stack, accounts: Accounts, empty_queue: None
) -> None:
    with session_factory()() as session:
        item = queued_item(session, accounts.unit_id)
    _, reviewer = person(Role.reviewer)
    with stack.client(reviewer) as api:
        lease = api.post(f"/api/v1/review/{item.id}/claim").json()
        done = api.post(f"/api/v1/review/{item.id}/decision",
                        json={"lease_token": lease["lease_token"], "decision": "escalate",
                              "comment": "tank or APC? a senior please"})  # fmt: skip
        assert done.status_code == 200, done.text
        assert api.post(f"/api/v1/review/{item.id}/notes",
                        json={"body": "the turret is at 0:04"}).status_code == 201  # fmt: skip
    web = web_login(stack, *make_login(Role.senior))
    queue = web.client.get("/review", headers={"Accept": "text/html"}).text
    row = re.search(rf'<tr[^>]*data-item="{item.id}".*?</tr>', queue, re.S)
    assert row, queue[:2000]
    assert "tank or APC? a senior please" in row[0] and "1 note" in row[0]
