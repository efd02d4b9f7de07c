"""Golden items and blind re-review through the real queue: the rate, that nothing tells a
golden item from a live one, that a golden answer touches nothing live, and who reads whose
figures."""

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DBAPIError

from mvq.audit.models import AuditEvent
from mvq.auth import service as auth
from mvq.auth.models import Role, StaffUser
from mvq.auth.principal import Principal
from mvq.db import session_factory, utcnow
from mvq.flows import qa as qa_flow
from mvq.media.models import Media, MediaStatus
from mvq.review import leases
from mvq.review.models import Decision, ReviewItem, ReviewWarning, Stage
from mvq.review.qa import figures, golden
from mvq.review.qa.models import GoldenItem, QaRecord, QaTask, Rereview, RereviewState
from mvq.scoring.models import LedgerEntry
from mvq.settings import get_settings
from mvq.submissions.models import Submission, SubmissionStatus
from mvq.webhooks.models import WebhookEvent
from testkit import harness
from testkit.people import Accounts, make_login, web_login
from tests.contested import HIT, claim, decide
from tests.helpers import reviewer
from tests.qa_data import seed

RATE = 0.25
CLAIMS = 40
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture(scope="module")
def qa_stack(backing: harness.Backing, database: str) -> Iterator[harness.Stack]:
    stack = harness.start_stack(backing, database,
                                extra_env={"MVQ_GOLDEN_RATE": str(RATE)})  # fmt: skip
    try:
        yield stack
    finally:
        stack.group.stop()


def make_golden(accounts: Accounts, count: int, *, days_ago: int = 0) -> list[str]:
    """Claims decided (rejected) by a reviewer of their own, then marked golden by a senior.
    `days_ago`: when the hit was (the claim came two hours later, the file's clock says four
    minutes before it), as for the old claims golden items are in practice."""
    crew, senior = reviewer(), reviewer(Role.senior)
    made = []
    with session_factory()() as session:
        for _ in range(count):
            if days_ago:
                hit = utcnow() - timedelta(days=days_ago)
                sub = claim(session, accounts.unit_id, at=hit,
                            captured_at=hit - timedelta(minutes=4))  # fmt: skip
                sub.created_at = hit + timedelta(hours=2)
            else:
                sub = claim(session, accounts.unit_id, captured_at=HIT - timedelta(minutes=4))
            decide(session, crew, sub.id, "reject")
            golden.mark(session, senior=senior, submission_id=sub.id, decision="reject",
                        reason_code="not_visible", now=utcnow())  # fmt: skip
            session.commit()
            made.append(sub.id)
    return made


def retire_golden() -> None:
    with session_factory()() as session:
        session.execute(update(GoldenItem).values(active=False))
        session.commit()


def queue_live(accounts: Accounts, count: int) -> None:
    """Fresh claims of a hit three hours ago, the file's clock four minutes before it."""
    with session_factory()() as session:
        for _ in range(count):
            claim(session, accounts.unit_id, captured_at=HIT - timedelta(minutes=4))


def person(role: Role = Role.reviewer) -> tuple[str, str, str, str]:
    """(user id, e-mail, password, API token) of a new person who signs in on the web."""
    email, password = make_login(role)
    with session_factory()() as session:
        user = session.scalars(select(StaffUser).where(StaffUser.email == email)).one()
        token = auth.issue_staff_token(session, user=user, now=utcnow(), second_factor=True)
        session.commit()
        return user.id, email, password, token


def tasks_of(user_id: str) -> dict[str, QaTask]:
    with session_factory()() as session:
        rows = session.scalars(select(QaTask).where(QaTask.reviewer_id == user_id)).all()
        return {t.id: t for t in rows}


def test_golden_items_come_at_the_configured_rate_through_the_queue(
    qa_stack: harness.Stack, accounts: Accounts, empty_queue: None
) -> None:
    originals = set(make_golden(accounts, 14))
    queue_live(accounts, CLAIMS)
    user_id, _, _, token = person()
    served: list[dict[str, Any]] = []
    with qa_stack.client(token) as api:
        for _ in range(CLAIMS):
            got = api.post("/api/v1/review/claim")
            assert got.status_code == 200, got.text
            lease = got.json()
            served.append(lease)
            done = api.post(f"/api/v1/review/{lease['item_id']}/decision", json={
                "lease_token": lease["lease_token"], "decision": "reject",
                "reason_code": "other"})  # fmt: skip
            assert done.status_code == 200, done.text
    tasks = tasks_of(user_id)
    goldens = [s for s in served if s["item_id"] in tasks]
    assert abs(len(goldens) - RATE * CLAIMS) <= 0.2 * RATE * CLAIMS, len(goldens)
    with session_factory()() as session:
        item_ids = set(session.scalars(select(ReviewItem.id)))
        claim_ids = set(session.scalars(select(Submission.id)))
    for lease in goldens:
        # A fresh id each: never the original claim's or its item's, nor any other's.
        assert lease["item_id"] not in item_ids and lease["submission_id"] not in claim_ids
        assert tasks[lease["item_id"]].submission_id in originals


class Skeleton(HTMLParser):
    """A page's tags, their attributes and its text, with every id, number and signed URL
    masked: what is left is what a reviewer could compare between two items."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        shown = [(k, mask(v or "") if k not in ("src", "href", "poster") else "URL")
                 for k, v in attrs]  # fmt: skip
        self.parts.append(f"<{tag} {sorted(shown)}>")

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.parts.append(mask(data.strip()))


def mask(text: str) -> str:
    text = UUID.sub("ID", text)
    text = re.sub(r"[0-9a-f]{8}", "SHORT", text)
    text = re.sub(r"[A-Za-z0-9_-]{32}", "TOKEN", text)
    return re.sub(r"\d+", "0", text)


def skeleton(html: str) -> list[str]:
    parser = Skeleton()
    parser.feed(html)
    return parser.parts


def test_nothing_tells_a_golden_item_from_a_live_one(
    qa_stack: harness.Stack, accounts: Accounts, empty_queue: None
) -> None:
    retire_golden()  # the module's earlier golden items are recent; these are old
    originals = make_golden(accounts, 8, days_ago=40)
    queue_live(accounts, 30)
    user_id, email, password, token = person()
    web = web_login(qa_stack, email, password)
    seen: dict[str, dict[str, Any]] = {}
    decided_before = False
    with qa_stack.client(token) as api:
        for _ in range(30):
            counts_before = api.get("/api/v1/review/queue").json()["counts"]
            asked = time.monotonic()
            lease = api.post("/api/v1/review/claim").json()
            kind = "golden" if lease["item_id"] in tasks_of(user_id) else "live"
            # Each page compared follows a decision (its undo toast shows), as in a session.
            if kind in seen or not decided_before:
                decided_before = True
                api.post(f"/api/v1/review/{lease['item_id']}/decision", json={
                    "lease_token": lease["lease_token"], "decision": "reject",
                    "reason_code": "other"})  # fmt: skip
                continue
            listed = api.get("/api/v1/review/queue").json()
            counts_after = listed["counts"]
            row = next((r for r in listed["items"] if r["item_id"] == lease["item_id"]), None)
            row_shape = None if row is None else (
                sorted(row), row["state"], row["submission_id"] == lease["submission_id"],
                row["needs_second"], row["senior_only"])  # fmt: skip
            pages, times = [], []
            for _ in range(7):
                started = time.monotonic()
                page = web.client.get(f"/review/{lease['item_id']}",
                                      headers={"Accept": "text/html"})  # fmt: skip
                times.append(time.monotonic() - started)
                assert page.status_code == 200, page.text[:300]
                pages.append(page.text)
            # A note is taken, and the thread then holds that one note, as on a live item.
            noted = api.post(f"/api/v1/review/{lease['item_id']}/notes",
                             json={"body": "is the turret visible at 0:02?"})  # fmt: skip
            thread = api.get(f"/api/v1/review/{lease['item_id']}/notes")
            note_page = web.client.get(f"/review/{lease['item_id']}",
                                       headers={"Accept": "text/html"})  # fmt: skip
            got = api.get(f"/api/v1/submissions/{lease['submission_id']}")
            claim_json = got.json()
            shown = (got.status_code, sorted(claim_json), claim_json.get("status"),
                     claim_json.get("decision"), len(claim_json.get("media", [])),
                     claim_json.get("id") == lease["submission_id"])  # fmt: skip
            beat = api.post(f"/api/v1/review/{lease['item_id']}/heartbeat",
                            json={"lease_token": lease["lease_token"]})  # fmt: skip
            decided = api.post(f"/api/v1/review/{lease['item_id']}/decision", json={
                "lease_token": lease["lease_token"], "decision": "reject",
                "reason_code": "other"})  # fmt: skip
            seen[kind] = {
                "lease": lease, "asked": asked, "page": pages[0], "time": min(times),
                "counts": {k: counts_after[k] - counts_before[k] for k in counts_before},
                "beat": (beat.status_code, sorted(beat.json())), "claim": shown, "row": row_shape,
                "decided": (decided.status_code, decided.json()),
                "note": (noted.status_code, sorted(noted.json()), thread.status_code,
                         [n["body"] for n in thread.json()],
                         "is the turret visible" in note_page.text,
                         noted.json().get("item_id") == lease["item_id"]),
                "hit": datetime.fromisoformat(claim_json["occurred_at"]),
                "sent": datetime.fromisoformat(claim_json["created_at"]),
                "times": [datetime.fromisoformat(t.replace("Z", "+00:00"))
                          for t in re.findall(r'<time datetime="([^"]+)"', pages[0])],
            }  # fmt: skip
            if len(seen) == 2:
                break
    assert set(seen) == {"golden", "live"}, "the queue served no golden item in 30 claims"
    g, live = seen["golden"], seen["live"]
    # The claim's answer: the same fields, ids of the same form, the same lease length.
    assert sorted(g["lease"]) == sorted(live["lease"])
    for one in (g, live):
        assert UUID.fullmatch(one["lease"]["item_id"]) and UUID.fullmatch(
            one["lease"]["submission_id"]
        )
        runs = datetime.fromisoformat(one["lease"]["lease_expires_at"]) - utcnow()
        assert abs(runs.total_seconds() - get_settings().lease_seconds) < 60
    assert len(g["lease"]["lease_token"]) == len(live["lease"]["lease_token"])
    # The URL is /review/<fresh uuid> for both; the page's markup and words are the same.
    assert skeleton(g["page"]) == skeleton(live["page"])
    assert "second" not in g["page"].lower() or skeleton(g["page"]) == skeleton(live["page"])
    # The counts move alike: one fewer waiting, one more held.
    assert g["counts"] == live["counts"]
    assert g["counts"]["pending"] == -1 and g["counts"]["leased"] == 1
    # The queue lists the held item alike, as the holder's leased row.
    assert g["row"] is not None and g["row"] == live["row"]
    assert g["row"][1] == "leased" and g["row"][2]
    # The claim's own address answers alike: in review, no decision, its files, its id.
    assert g["claim"] == live["claim"]
    assert g["claim"][0] == 200 and g["claim"][2] == "in_review" and g["claim"][5]
    # Heartbeat and decision answer alike.
    assert g["beat"] == live["beat"]
    assert g["decided"][0] == live["decided"][0] == 200
    assert sorted(g["decided"][1]) == sorted(live["decided"][1])
    assert g["decided"][1]["status"] == live["decided"][1]["status"] == "rejected"
    assert UUID.fullmatch(g["decided"][1]["decision_id"])
    # A note is taken alike, and each thread holds just the note written there.
    assert g["note"] == live["note"]
    assert g["note"][0] == 201 and g["note"][3] == ["is the turret visible at 0:02?"]
    assert g["note"][4] and g["note"][5]
    # The hit is as recent: the golden claim's times move with it, the hit two hours before it
    # was sent as the original's was, and no moment on the page is the original's 40 days ago.
    assert g["sent"] - g["hit"] == timedelta(hours=2)
    assert utcnow() - g["hit"] < timedelta(days=1) and utcnow() - live["hit"] < timedelta(days=1)
    assert g["times"] and all(utcnow() - t < timedelta(days=1) for t in g["times"]), g["times"]
    with session_factory()() as session:
        served = tasks_of(user_id)[g["lease"]["item_id"]].submission_id
        assert served in originals
        real = session.get_one(Submission, served)
        assert utcnow() - real.occurred_at > timedelta(days=39)  # the original is untouched
    # The page takes as long to serve: the fastest of seven tries each (the least disturbed by
    # other work on the machine), within half, or 60 ms.
    assert abs(g["time"] - live["time"]) < max(0.06, 0.5 * min(g["time"], live["time"])), (
        g["time"], live["time"])  # fmt: skip


def test_a_golden_answer_touches_nothing_live(
    qa_stack: harness.Stack, accounts: Accounts, empty_queue: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MVQ_GOLDEN_RATE", str(RATE))
    get_settings.cache_clear()
    (original,) = make_golden(accounts, 1)
    queue_live(accounts, 1)

    def state() -> tuple[Any, ...]:
        with session_factory()() as session:
            return (
                session.get_one(Submission, original).status,
                session.scalar(select(func.count()).select_from(Decision)),
                session.scalar(select(func.count()).select_from(LedgerEntry)),
                session.scalar(select(func.count()).select_from(WebhookEvent)),
            )

    before, seq = state(), _head()
    user = reviewer()
    with session_factory()() as session:
        # The queue's own choice, with a draw that makes this claim golden.
        held = qa_flow.claim_next(session, reviewer=user, now=utcnow(), lease_seconds=600,
                                  rng=_Always())  # fmt: skip
        assert held is not None
        item, sub = held
        assert sub.id != original and item.id not in session.scalars(select(ReviewItem.id)).all()
        qa_flow.decide(session, reviewer=user, item_id=item.id, lease_token=item.lease_token or "",
                       decision="approve", target_type=None, outcome=None, reason_code=None,
                       comment=None, now=utcnow())  # fmt: skip
        session.commit()
        record = session.scalars(select(QaRecord).where(QaRecord.reviewer_id == user.id)).one()
        assert (record.kind, record.correct, record.expected_decision) == (
            "golden",
            False,
            "reject",
        )
    assert state() == before
    actions = _actions_after(seq)
    assert "qa.golden_decided" in actions and "qa.task_leased" in actions
    assert not [a for a in actions if a.startswith(("review.", "ledger.", "submission."))]
    get_settings.cache_clear()


def test_an_undone_golden_answer_is_withdrawn_by_a_record_and_records_never_change(
    qa_stack: harness.Stack, accounts: Accounts, empty_queue: None
) -> None:
    make_golden(accounts, 1)
    queue_live(accounts, 20)
    user_id, _, _, token = person()
    with qa_stack.client(token) as api:
        for _ in range(20):  # live claims, decided, until the queue serves the golden one
            lease = api.post("/api/v1/review/claim").json()
            if lease["item_id"] in tasks_of(user_id):
                break
            api.post(f"/api/v1/review/{lease['item_id']}/decision", json={
                "lease_token": lease["lease_token"], "decision": "reject",
                "reason_code": "other"}).raise_for_status()  # fmt: skip
        else:
            raise AssertionError("the queue served no golden item in 20 claims")
        answer = {"lease_token": lease["lease_token"], "decision": "approve"}
        first = api.post(f"/api/v1/review/{lease['item_id']}/decision", json=answer).json()
        undone = api.post(f"/api/v1/review/decisions/{first['decision_id']}/undo")
        assert undone.status_code == 200, undone.text
        # Undone, there is nothing left to undo, as on a live item.
        again = api.post(f"/api/v1/review/decisions/{first['decision_id']}/undo")
        assert again.status_code == 409 and again.json()["error"]["code"] == "undo_expired"
        answer = {"lease_token": undone.json()["lease_token"], "decision": "reject",
                  "reason_code": "not_visible"}  # fmt: skip
        second = api.post(f"/api/v1/review/{lease['item_id']}/decision", json=answer)
        assert second.status_code == 200, second.text
    with session_factory()() as session:
        records = session.scalars(select(QaRecord).where(QaRecord.reviewer_id == user_id)
                                  .order_by(QaRecord.created_at, QaRecord.id)).all()  # fmt: skip
        # The withdrawn answer stays, named by the undo; the answer that counts is the last.
        assert [(r.kind, r.decision) for r in records] == [
            ("golden", "approve"), ("undo", "approve"), ("golden", "reject")]  # fmt: skip
        assert records[1].withdraws_id == records[0].id == first["decision_id"]
        user = Principal(kind="staff", id=user_id, role=Role.reviewer, unit_id=None)
        mine = figures.calibration(session, viewer=user, since=utcnow() - timedelta(hours=1))
        assert [(g.decision, g.correct) for g in mine.golden] == [("reject", True)]
        for statement in ("UPDATE qa_records SET decision = 'approve'",
                          "DELETE FROM qa_records"):  # fmt: skip
            with pytest.raises(DBAPIError, match="append-only"):
                session.execute(text(statement))
            session.rollback()


class _Always:
    """A draw that always falls for a golden item (the rate's test is separate)."""

    def random(self) -> float:
        return 0.999999

    def choice(self, rows: list[Any]) -> Any:
        return rows[0]


def _head() -> int:
    with session_factory()() as session:
        return int(session.scalar(select(func.max(AuditEvent.seq))) or 0)


def _actions_after(seq: int) -> list[str]:
    with session_factory()() as session:
        return list(session.scalars(select(AuditEvent.action).where(AuditEvent.seq > seq)))


def test_blind_rereview_disagreement_goes_to_a_senior_who_overturns(
    accounts: Accounts, empty_queue: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MVQ_REREVIEW_RATE", "1")
    monkeypatch.setenv("MVQ_GOLDEN_RATE", "0")
    get_settings.cache_clear()
    first, second, senior = reviewer(), reviewer(), reviewer(Role.senior)
    now = datetime.now(UTC)
    with session_factory()() as session:
        sub = claim(session, accounts.unit_id)
        item, _ = leases.claim_next(session, reviewer=first, now=now, lease_seconds=600) or (
            None, None)  # fmt: skip
        assert item is not None and item.submission_id == sub.id
        qa_flow.decide(session, reviewer=first, item_id=item.id,
                       lease_token=item.lease_token or "", decision="reject", target_type=None,
                       outcome=None, reason_code="not_visible", comment=None, now=now)  # fmt: skip
        session.commit()
        sampled = session.scalars(select(Rereview).where(Rereview.submission_id == sub.id)).one()
        claim(session, accounts.unit_id)  # a live item waits, so a QA item may be served
        # The first reviewer is never given their own decision to look at again.
        mine = qa_flow.claim_next(session, reviewer=first, now=now, lease_seconds=600)
        assert mine is not None
        assert not session.scalars(select(QaTask).where(QaTask.reviewer_id == first.id)).all()
        session.rollback()
        looked = qa_flow.claim_next(session, reviewer=second, now=now, lease_seconds=600)
        assert looked is not None
        masked_item, masked_sub = looked
        assert session.get(QaTask, masked_item.id) is not None and masked_sub.id != sub.id
        assert masked_item.first_reviewer_id is None  # nothing says a first look happened
        qa_flow.decide(session, reviewer=second, item_id=masked_item.id,
                       lease_token=masked_item.lease_token or "", decision="approve",
                       target_type=None, outcome=None, reason_code=None, comment=None,
                       now=now)  # fmt: skip
        session.commit()
        session.refresh(sampled)
        assert sampled.state == RereviewState.disputed
        record = qa_flow.rule(session, senior=senior, rereview_id=sampled.id, decision="approve",
                              reason_code=None, comment="tank seen at 0:04", now=now)  # fmt: skip
        session.commit()
        assert record.overturn_id is not None
        overturn = session.get_one(Decision, record.overturn_id)
        assert overturn.stage == Stage.overturn and overturn.reviewer_id == senior.id
        # tank/destroyed is worth 40, under the four-eyes threshold (50): approved at once.
        assert session.get_one(Submission, sub.id).status == SubmissionStatus.approved
    get_settings.cache_clear()


def test_reviewers_read_only_their_own_figures(
    qa_stack: harness.Stack, accounts: Accounts, empty_queue: None
) -> None:
    _, mine_email, mine_password, mine_token = person()
    _, other_email, _, other_token = person()
    _, senior_email, senior_password, senior_token = person(Role.senior)
    queue_live(accounts, 4)
    for token in (mine_token, other_token):
        with qa_stack.client(token) as api:
            for _ in range(2):
                lease = api.post("/api/v1/review/claim").json()
                api.post(f"/api/v1/review/{lease['item_id']}/decision", json={
                    "lease_token": lease["lease_token"], "decision": "reject",
                    "reason_code": "other"})  # fmt: skip
    with qa_stack.client(mine_token) as api:
        rows = api.get("/api/v1/review/stats").json()
        assert [r["email"] for r in rows] == [mine_email]
        figures = api.get("/api/v1/qa/agreement").json()
        assert figures["pairs"] == []
        assert {r["key"] for r in figures["accuracy_by_reviewer"]} <= {mine_email}
    with qa_stack.client(senior_token) as api:
        emails = {r["email"] for r in api.get("/api/v1/review/stats").json()}
        assert {mine_email, other_email} <= emails
    web = web_login(qa_stack, mine_email, mine_password)
    for path in ("/review/stats", "/qa"):
        page = web.client.get(path, headers={"Accept": "text/html"})
        assert page.status_code == 200
        assert mine_email in page.text or path == "/qa"
        assert other_email not in page.text, path
    senior = web_login(qa_stack, senior_email, senior_password)
    page = senior.client.get("/review/stats", headers={"Accept": "text/html"})
    assert mine_email in page.text and other_email in page.text


def test_the_calibration_figures_match_statsmodels_on_recorded_answers(
    accounts: Accounts, empty_queue: None
) -> None:
    """From the database's records to the figures: Cohen per pair over the claims both
    judged, and Fleiss over each claim's first two verdicts, against statsmodels."""
    from statsmodels.stats.inter_rater import aggregate_raters, cohens_kappa, fleiss_kappa

    crew = [reviewer() for _ in range(3)]
    seed(accounts.unit_id, [c.id for c in crew], seed=5)
    since = utcnow() - timedelta(days=1)
    cats = ["approve", "reject", "escalate"]
    with session_factory()() as session:
        found = figures.calibration(session, viewer=reviewer(Role.senior), since=since)
        emails = {u.id: u.email for u in session.scalars(select(StaffUser))}
        records = session.scalars(select(QaRecord).where(QaRecord.created_at >= since)).all()
        withdrawn = {r.withdraws_id for r in records}  # answers taken back by an undo
        given: list[tuple[datetime, str, str, str]] = [
            (r.created_at, r.submission_id, r.reviewer_id, r.decision) for r in records
            if r.kind in ("golden", "rereview") and r.id not in withdrawn
        ]  # fmt: skip
        for d, sub in session.execute(
            select(Decision, Rereview.submission_id)
            .join(Rereview, Rereview.decision_id == Decision.id)
            .where(Rereview.created_at >= since)
        ):
            given.append((d.created_at, sub, d.reviewer_id, d.decision))
    by_subject: dict[str, dict[str, str]] = {}
    for _, sub, who, verdict in sorted(given):
        by_subject.setdefault(sub, {}).setdefault(who, verdict)
    judged = {s: v for s, v in by_subject.items() if len(v) >= 2}
    # Cohen for each pair of the crew, over the claims both judged.
    for a, b in [(0, 1), (0, 2), (1, 2)]:
        x, y = crew[a].id, crew[b].id
        both = [v for v in judged.values() if x in v and y in v]
        assert len(both) == 12
        table = [[sum(1 for v in both if (v[x], v[y]) == (p, q)) for q in cats] for p in cats]
        pair = next(p for p in found.pairs if {p.first, p.second} == {emails[x], emails[y]})
        assert pair.items == 12
        assert pair.kappa == pytest.approx(cohens_kappa(table).kappa, abs=1e-9)
    # Fleiss over the first two verdicts of each claim judged at least twice.
    firsts = [[cats.index(v) for v in list(votes.values())[:2]] for votes in judged.values()]
    counts, _ = aggregate_raters(firsts, n_cat=3)
    assert found.fleiss_items == len(firsts)
    assert found.fleiss == pytest.approx(fleiss_kappa(counts), abs=1e-9)


@pytest.fixture(scope="module")
def paced_stack(backing: harness.Backing, database: str) -> Iterator[harness.Stack]:
    """Every claim golden while any waits, and the too-fast check on, as deployed."""
    stack = harness.start_stack(backing, database, extra_env={
        "MVQ_GOLDEN_RATE": "1", "MVQ_FAST_DECISION_WARNINGS": "true"})  # fmt: skip
    try:
        yield stack
    finally:
        stack.group.stop()


def _footage(submission_id: str, seconds: float) -> None:
    """The claim's file, processed, `seconds` long: a floor of half that, up to 60 s."""
    with session_factory()() as session:
        done = (MediaStatus.processed, seconds)
        session.execute(update(Media).where(Media.submission_id == submission_id)
                        .values(status=done[0], duration_seconds=done[1]))  # fmt: skip
        assert session.scalar(select(func.count()).where(Media.submission_id == submission_id))
        session.commit()


def test_an_instant_verdict_is_refused_on_a_golden_item_as_on_a_live_one(
    paced_stack: harness.Stack, accounts: Accounts, empty_queue: None
) -> None:
    """Issue 32's gap: the pace check read only live leases, so an instant verdict went
    through on a golden item and was refused on a live one, telling them apart."""
    make_golden(accounts, 1)
    with session_factory()() as session:
        live = claim(session, accounts.unit_id)
        live_item = session.scalars(
            select(ReviewItem.id).where(ReviewItem.submission_id == live.id)).one()  # fmt: skip
    _footage(live.id, 60)
    user_id, _, _, token = person()
    refusals = []
    with paced_stack.client(token) as api:
        golden_lease = api.post("/api/v1/review/claim").json()
        # At rate 1, a golden item: this test's or one an earlier test left waiting. Its claim
        # gets the same footage as the live one, so both floors are alike.
        task = tasks_of(user_id).get(golden_lease["item_id"])
        assert task is not None
        _footage(task.submission_id, 60)
        live_lease = api.post(f"/api/v1/review/{live_item}/claim").json()
        for lease in (golden_lease, live_lease):
            body = {"lease_token": lease["lease_token"], "decision": "approve"}
            refused = api.post(f"/api/v1/review/{lease['item_id']}/decision", json=body)
            assert refused.status_code == 409, refused.text
            refusals.append(re.sub(r"\d+", "N", refused.json()["error"]["message"]))
            done = api.post(f"/api/v1/review/{lease['item_id']}/decision",
                            json={**body, "override": True})  # fmt: skip
            assert done.status_code == 200, done.text
    assert refusals[0] == refusals[1] and "never shown" in refusals[0]
    with session_factory()() as session:
        events = [w.event for w in session.scalars(select(ReviewWarning).where(
            ReviewWarning.reviewer_id == user_id).order_by(ReviewWarning.created_at))]  # fmt: skip
    assert events == ["shown", "overridden", "shown", "overridden"]
