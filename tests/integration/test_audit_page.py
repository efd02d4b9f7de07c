"""The auditors' page over plain HTTP with a signed-in session: a claim's whole story from one
search (its decision, award and dispute), the log paged by seq without gaps or repeats, filters
by action, actor and date, actors by name, downloads within the session that are audited, and
the chain verified on request. Other roles get 403."""

import html
import re
import uuid
import zipfile
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from mvq.audit import service as audit
from mvq.audit.models import AuditEvent
from mvq.auth.models import Role, StaffUser
from mvq.db import session_factory
from mvq.media.models import Media
from mvq.review.models import Appeal, Decision, ReviewItem
from mvq.scoring.models import DisputeMember, EntryType, LedgerEntry
from mvq.settings import get_settings
from mvq.units.models import Unit
from testkit import harness
from testkit.claims import upload_claim, wait_for_status
from testkit.people import Accounts, Browserless, make_login, web_login

HTML = {"Accept": "text/html"}
SEQ = re.compile(r'<tr data-seq="(\d+)">')


@pytest.fixture(scope="module")
def auditor(stack: harness.Stack) -> Browserless:
    return web_login(stack, *make_login(Role.auditor))


def actor_id(web: Browserless) -> str:
    """`staff:<id>` of the person signed in on `web`."""
    page = web.client.get("/audit", headers=HTML)
    # The header names the person, their e-mail linked to their settings.
    email = re.search(r'class="who"><a [^>]*>([^<]+)</a>', page.text)
    assert email, page.text
    with session_factory()() as session:
        return f"staff:{session.scalar(select(StaffUser.id).where(StaffUser.email == email[1]))}"


def seqs(text: str) -> list[int]:
    return [int(s) for s in SEQ.findall(text)]


def link(text: str, rel: str) -> str | None:
    found = re.search(rf'<a href="\?([^"]*)" rel="{rel}">', text)
    return None if found is None else "/audit?" + html.unescape(found[1])


def events_of(session_actions: list[str], text: str) -> set[str]:
    return {a for a in session_actions if f'data-action="{a}"' in text}


def decide_all(stack: harness.Stack, token: str, count: int) -> None:
    """The reviewer approves `count` claims from the front of the queue, through the API."""
    with stack.client(token) as reviewer:
        for _ in range(count):
            lease = reviewer.post("/api/v1/review/claim")
            assert lease.status_code == 200, lease.text
            body = lease.json()
            done = reviewer.post(
                f"/api/v1/review/{body['item_id']}/decision",
                json={"lease_token": body["lease_token"], "decision": "approve"},
            )
            assert done.status_code == 200, done.text


def test_one_search_by_claim_shows_its_decision_award_dispute_and_views(
    stack: harness.Stack, accounts: Accounts, tank_clip: Path, auditor: Browserless
) -> None:
    first = upload_claim(stack, accounts.unit_token, tank_clip)
    wait_for_status(stack, accounts.unit_token, first, "in_queue")
    # The same footage claimed by another unit: a dispute over the one target.
    copy = upload_claim(stack, accounts.other_unit_token, tank_clip)
    wait_for_status(stack, accounts.other_unit_token, copy, "in_queue")
    viewer = web_login(stack, *make_login(Role.reviewer))
    with session_factory()() as session:
        item = session.scalar(select(ReviewItem.id).where(ReviewItem.submission_id == first))
    assert viewer.client.get(f"/review/{item}", headers=HTML).status_code == 200
    viewed = viewer.client.post(f"/review/{item}/viewed", headers={"X-CSRF-Token": viewer.csrf})
    assert viewed.status_code == 204
    decide_all(stack, accounts.staff_tokens["reviewer"], 2)

    page = auditor.client.get("/audit", params={"claim": first}, headers=HTML)
    assert page.status_code == 200, page.text
    with session_factory()() as session:
        actions = list(session.scalars(select(AuditEvent.action).distinct()))
        unit_name = session.scalar(select(Unit.name).where(Unit.id == accounts.unit_id))
    shown = events_of(actions, page.text)
    # Exactly the events of the claim's own objects (counted here from the tables, not by the
    # page's query), newest first: a row of another claim, or one missing, fails.
    own, dispute = own_events(first)
    assert seqs(page.text) == [seq for seq, _ in own], (seqs(page.text), own)
    assert shown == {action for _, action in own}, shown
    assert {"submission.created", "media.registered", "media.processed", "review.leased",
            "review.approve", "media.viewed", "submission.approved"} <= shown, shown  # fmt: skip
    # The award: paid, or held while the dispute stands; the ledger says which.
    with session_factory()() as session:
        kinds = set(session.scalars(select(LedgerEntry.entry_type).where(
            LedgerEntry.submission_id == first)))  # fmt: skip
    assert ("ledger.award" in shown) == (EntryType.award in kinds), (shown, kinds)
    assert dispute is not None and "dispute.opened" in shown, shown
    # Actors by name: the unit that uploaded, the reviewer's e-mail and role, the worker.
    assert unit_name is not None and f'{unit_name} <span class="muted">(unit)' in page.text
    assert "(reviewer)</span>" in page.text and "staff:" not in page.text.split("<tbody>")[1]
    assert ">worker<" in page.text
    # The other claim's search holds the same dispute.
    other = auditor.client.get("/audit", params={"claim": copy}, headers=HTML)
    theirs, same_dispute = own_events(copy)
    assert same_dispute == dispute
    assert seqs(other.text) == [seq for seq, _ in theirs]
    with session_factory()() as session:
        shared = set(session.scalars(select(AuditEvent.seq).where(AuditEvent.object_id == dispute)))
    assert shared and shared <= set(seqs(page.text)) & set(seqs(other.text))


def own_events(submission_id: str) -> tuple[list[tuple[int, str]], str | None]:
    """(seq, action) of every event about the claim's own objects (the claim, its files, its
    review items, decisions, ledger entries and appeals, and its dispute), newest first; and
    its dispute's id."""
    with session_factory()() as session:
        ids = {submission_id}
        for model in (Media, ReviewItem, Decision, LedgerEntry, Appeal):
            ids |= set(
                session.scalars(select(model.id).where(model.submission_id == submission_id))
            )
        dispute = session.scalar(select(DisputeMember.dispute_id).where(
            DisputeMember.submission_id == submission_id))  # fmt: skip
        if dispute is not None:
            ids.add(dispute)
        rows = session.execute(select(AuditEvent.seq, AuditEvent.action)
                               .where(AuditEvent.object_id.in_(ids))
                               .order_by(AuditEvent.seq.desc())).tuples()  # fmt: skip
        found = list(rows)
    assert len(found) < 100, "more than the page's first page"
    return found, dispute


def test_paging_by_seq_shows_each_event_once_in_order(
    stack: harness.Stack, auditor: Browserless
) -> None:
    kind = f"paging{uuid.uuid4().hex[:6]}"
    with session_factory()() as session:
        for n in range(350):
            audit.record(session, actor="system:test", action=f"{kind}.step",
                         object_type="thing", object_id=str(n))  # fmt: skip
            if n == 200:  # others' events in between must not show
                audit.record(session, actor="system:test", action="other.step",
                             object_type="thing", object_id="x")  # fmt: skip
        session.commit()
        expected = list(session.scalars(
            select(AuditEvent.seq).where(AuditEvent.action == f"{kind}.step")
            .order_by(AuditEvent.seq.desc())))  # fmt: skip
    url: str | None = f"/audit?action={kind}."
    seen: list[int] = []
    pages = []
    while url is not None:
        page = auditor.client.get(url, headers=HTML)
        assert page.status_code == 200, page.text
        pages.append(page.text)
        seen += seqs(page.text)
        url = link(page.text, "next")
    assert len(pages) == 4 and [len(seqs(p)) for p in pages] == [100, 100, 100, 50]
    assert seen == expected  # newest first, each once
    assert link(pages[0], "prev") is None
    # And back again from the last page, by the newer links.
    back: list[int] = []
    url = link(pages[-1], "prev")
    while url is not None:
        page = auditor.client.get(url, headers=HTML)
        back = seqs(page.text) + back
        url = link(page.text, "prev")
    assert back == expected[:300]
    # The cursor is a seq, not a row count: new events do not shift an older page.
    with session_factory()() as session:
        audit.record(session, actor="system:test", action=f"{kind}.step", object_type="thing",
                     object_id="late")  # fmt: skip
        session.commit()
    second = auditor.client.get(f"/audit?action={kind}.&before={expected[99]}", headers=HTML)
    assert seqs(second.text) == expected[100:200]


def test_filters_by_action_actor_and_date_and_actor_names(
    stack: harness.Stack, accounts: Accounts, auditor: Browserless
) -> None:
    kind = f"filter{uuid.uuid4().hex[:6]}"
    email, _ = make_login(Role.senior)
    member_email, _ = make_login(Role.unit, unit_id=accounts.unit_id)
    with session_factory()() as session:
        senior = session.scalar(select(StaffUser.id).where(StaffUser.email == email))
        member = session.scalar(select(StaffUser.id).where(StaffUser.email == member_email))
        unit_name = session.scalar(select(Unit.name).where(Unit.id == accounts.unit_id))
        for action, actor in [(f"{kind}.open", f"staff:{senior}"),
                              (f"{kind}.open.more", f"member:{member}"),
                              (f"{kind}.close", f"unit:{accounts.unit_id}"),
                              (f"{kind}x.open", "worker")]:  # fmt: skip
            audit.record(session, actor=actor, action=action, object_type="thing",
                         object_id=kind)  # fmt: skip
        session.commit()

    def shown(**params: str) -> list[str]:
        page = auditor.client.get("/audit", params=params, headers=HTML)
        assert page.status_code == 200, page.text
        return re.findall(rf'data-action="({kind}[^"]*)"', page.text)

    # A prefix is a prefix of the stored text; "exact" is one action.
    assert shown(action=f"{kind}.") == [f"{kind}.close", f"{kind}.open.more", f"{kind}.open"]
    assert shown(action=f"{kind}.open") == [f"{kind}.open.more", f"{kind}.open"]
    assert shown(action=f"{kind}.open", match="exact") == [f"{kind}.open"]
    assert shown(action=f"{kind}_") == []  # LIKE's wildcards are plain characters here
    # By actor: the stored id, an e-mail or a unit's name.
    assert shown(action=kind, actor=f"staff:{senior}") == [f"{kind}.open"]
    assert shown(action=kind, actor=email) == [f"{kind}.open"]
    assert shown(action=kind, actor=member_email) == [f"{kind}.open.more"]
    assert shown(action=kind, actor=str(unit_name)) == [f"{kind}.close"]
    assert shown(action=kind, actor="worker") == [f"{kind}x.open"]
    # By object.
    assert len(shown(object_type="thing", object_id=kind)) == 4
    # By day in the reader's zone (the page's times are in it), both ends inclusive.
    today = datetime.now(ZoneInfo(get_settings().default_time_zone)).date()
    assert len(shown(action=kind, since=str(today), until=str(today))) == 4
    assert shown(action=kind, until=str(today - timedelta(days=1))) == []
    assert shown(action=kind, since=str(today + timedelta(days=1))) == []
    # The search form sends its empty fields too.
    assert len(shown(action=kind, since="", until="", claim="", actor="")) == 4
    # Names with their role or unit.
    page = auditor.client.get("/audit", params={"action": kind}, headers=HTML).text
    assert f'{email} <span class="muted">(senior)</span>' in page
    assert f'{member_email} <span class="muted">(unit member, {unit_name})</span>' in page
    assert f'{unit_name} <span class="muted">(unit)</span>' in page


def test_downloads_within_the_session_are_audited(
    stack: harness.Stack, accounts: Accounts, tank_clip: Path, auditor: Browserless
) -> None:
    sid = upload_claim(stack, accounts.unit_token, tank_clip)
    wait_for_status(stack, accounts.unit_token, sid, "in_queue")
    me = actor_id(auditor)

    def last(action: str) -> AuditEvent | None:
        with session_factory()() as session:
            return session.scalar(select(AuditEvent).where(AuditEvent.action == action)
                                  .order_by(AuditEvent.seq.desc()).limit(1))  # fmt: skip

    bundle = auditor.client.post(
        "/audit/evidence.zip", data={"submission_id": sid, "csrf_token": auditor.csrf}
    )
    assert bundle.status_code == 200, bundle.text
    assert f"evidence-{sid}.zip" in bundle.headers["content-disposition"]
    names = zipfile.ZipFile(BytesIO(bundle.content)).namelist()
    assert "manifest.json" in names and any(n.startswith("original/") for n in names)
    event = last("evidence.exported")
    assert event is not None and event.actor == me and event.object_id == sid

    today = str(datetime.now(UTC).date())
    export = auditor.client.post("/audit/export.zip", data={
        "since": today, "until": today, "format": "jsonl", "csrf_token": auditor.csrf})  # fmt: skip
    assert export.status_code == 200, export.text
    assert "manifest.json" in zipfile.ZipFile(BytesIO(export.content)).namelist()
    event = last("export.downloaded")
    assert event is not None and event.actor == me and event.object_id == "jsonl"

    # Without the session's CSRF token nothing is built or recorded.
    with session_factory()() as session:
        before = session.scalar(select(func.max(AuditEvent.seq)))
    refused = auditor.client.post("/audit/evidence.zip", data={"submission_id": sid})
    assert refused.status_code == 403
    nothing = {"submission_id": "nope", "csrf_token": auditor.csrf}
    missing = auditor.client.post("/audit/evidence.zip", data=nothing)
    assert missing.status_code == 404
    with session_factory()() as session:
        assert session.scalar(select(func.max(AuditEvent.seq))) == before


def test_verify_now_records_and_shows_the_chain_state(auditor: Browserless) -> None:
    done = auditor.client.post("/audit/verify", data={"csrf_token": auditor.csrf})
    assert done.status_code == 303
    page = auditor.client.get(done.headers["location"], headers=HTML)
    with session_factory()() as session:
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "audit.verified")
                               .order_by(AuditEvent.seq.desc()).limit(1))  # fmt: skip
    assert event is not None and event.data["ok"] is True, event and event.data
    status = re.search(r'id="chain-status" class="ok" data-up-to="(\d+)"', page.text)
    assert status and int(status[1]) == event.seq - 1, page.text
    assert "Intact up to event" in page.text
    assert 'id="checkpoint"' in page.text


def test_the_short_id_the_pages_show_finds_the_claim_and_an_ambiguous_one_is_refused(
    auditor: Browserless, accounts: Accounts
) -> None:
    """Issue 31: the 8-character id shown everywhere found 0 events, with no hint."""
    from mvq.submissions.models import Submission

    stem = uuid.uuid4().hex[:8]
    with session_factory()() as session:
        claims = [Submission(id=f"{stem}-{n:04d}-4000-8000-{uuid.uuid4().hex[:12]}",
                             unit_id=accounts.unit_id, status="in_queue", target_type="tank",
                             outcome="destroyed", occurred_at=datetime.now(UTC))
                  for n in (1, 2)]  # fmt: skip
        session.add_all(claims)
        session.flush()
        for c in claims:
            audit.record(session, actor="system:test", action="submission.created",
                         object_type="submission", object_id=c.id)  # fmt: skip
        session.commit()
        first = claims[0].id

    def page(claim: str) -> str:
        return auditor.client.get("/audit", params={"claim": claim}, headers=HTML).text

    whole = page(first)
    assert len(seqs(whole)) == 1
    # Thirteen characters ("<stem>-0001") tell the two apart; eight are the shared stem.
    short = page(first[:13])
    assert seqs(short) == seqs(whole) and first in short
    ambiguous = page(stem)
    assert seqs(ambiguous) == [] and 'id="claim-problem"' in ambiguous
    assert "More than one claim" in ambiguous
    too_short = page(stem[:5])
    assert seqs(too_short) == [] and "first 8 characters" in too_short
    unknown = page("ffffffff-ffff")
    assert seqs(unknown) == [] and "No claim" in unknown


def test_only_auditors_read_the_log_and_download_from_it(
    stack: harness.Stack, accounts: Accounts
) -> None:
    today = str(datetime.now(UTC).date())
    for role in (Role.reviewer, Role.admin, Role.unit):
        web = web_login(stack, *make_login(role, unit_id=accounts.unit_id
                                            if role == Role.unit else None))  # fmt: skip
        assert web.client.get("/audit", headers=HTML).status_code == 403
        for path, form in [("/audit/verify", {}),
                           ("/audit/export.zip", {"since": today, "until": today}),
                           ("/audit/evidence.zip", {"submission_id": "x"})]:  # fmt: skip
            answer = web.client.post(path, data=form | {"csrf_token": web.csrf}, headers=HTML)
            assert answer.status_code == 403, (role, path, answer.status_code)


def test_a_linked_auditor_cannot_complete_a_short_id_of_their_units_claims(
    stack: harness.Stack, accounts: Accounts
) -> None:
    """The prefix search would hand back the full id: for the claims of the unit an auditor
    is linked to (whose ids they may not read) it finds nothing, as for any unknown id."""
    from mvq.submissions.models import Submission

    with session_factory()() as session:
        claim = Submission(unit_id=accounts.unit_id, status="in_queue", target_type="tank",
                           outcome="destroyed", occurred_at=datetime.now(UTC))  # fmt: skip
        session.add(claim)
        session.commit()
        claim_id = claim.id
    linked = web_login(stack, *make_login(Role.auditor, unit_id=accounts.unit_id))
    page = linked.client.get("/audit", params={"claim": claim_id[:8]}, headers=HTML).text
    assert claim_id not in page and "No claim" in page
    free = web_login(stack, *make_login(Role.auditor))
    assert claim_id in free.client.get("/audit", params={"claim": claim_id[:8]},
                                       headers=HTML).text  # fmt: skip
