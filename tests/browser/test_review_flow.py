"""The reviewer's flow in Chromium: from one decision straight to the next item, undo, the
second press for a duplicate, one's own items first, claiming from an item's page, the lease
countdown, loss and idle release, and the queue's pages. The stack runs with short leases and
idle time (MVQ_LEASE_SECONDS, MVQ_REVIEW_IDLE_SECONDS), so nothing waits minutes."""

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select, update

from mvq.audit.models import AuditEvent
from mvq.auth.models import Role
from mvq.db import session_factory
from mvq.flows import intake
from mvq.review.models import ItemState, ReviewItem
from mvq.scoring.models import LedgerEntry
from mvq.submissions.models import Flag, Submission, SubmissionStatus
from testkit import harness
from testkit.browser import Reviewer
from testkit.people import make_unit
from tests.browser.helpers import queued

LEASE_SECONDS = 12
IDLE_SECONDS = 7


@pytest.fixture(scope="module")
def stack(backing: harness.Backing, database: str) -> Iterator[harness.Stack]:
    stack = harness.start_stack(backing, database, extra_env={
        "MVQ_LEASE_SECONDS": str(LEASE_SECONDS),
        "MVQ_REVIEW_IDLE_SECONDS": str(IDLE_SECONDS),
        "MVQ_UNDO_SECONDS": "10",
    })  # fmt: skip
    try:
        yield stack
    finally:
        stack.group.stop()


@pytest.fixture(scope="module")
def unit_id(database: str) -> str:
    with session_factory()() as session:
        return make_unit(session)[0]


@pytest.fixture
def empty_queue(database: str) -> None:
    """Each test starts with nothing waiting, so `n` takes the items it made."""
    with session_factory()() as session:
        session.execute(
            update(ReviewItem)
            .where(ReviewItem.state.in_(["pending", "leased", "escalated"]))
            .values(state=ItemState.decided)
        )
        session.commit()


@pytest.fixture
def person(browser: Browser, stack: harness.Stack) -> Iterator[Reviewer]:
    who = Reviewer(browser, stack, Role.reviewer)
    who.login()
    yield who
    who.close()


def waiting_item(unit_id: str, target: str = "tank", flags: tuple[str, ...] = ()) -> str:
    """A claim straight into the queue (no footage: the flow, not the evidence, is tested)."""
    with session_factory()() as session:
        submission = Submission(unit_id=unit_id, status=SubmissionStatus.in_queue,
                                target_type=target, outcome="destroyed",
                                occurred_at=datetime.now(UTC) - timedelta(hours=1))  # fmt: skip
        session.add(submission)
        session.flush()
        for kind in flags:
            session.add(Flag(submission_id=submission.id, kind=kind, evidence={}))
        session.flush()
        item = intake.queue_for_review(session, submission=submission)
        session.commit()
        return item.id


def item_row(item_id: str) -> ReviewItem:
    with session_factory()() as session:
        return session.get_one(ReviewItem, item_id)


def ledger_of(item_id: str) -> list[tuple[str, int]]:
    with session_factory()() as session:
        sid = session.get_one(ReviewItem, item_id).submission_id
        return [(e.entry_type, e.points) for e in session.scalars(
            select(LedgerEntry).where(LedgerEntry.submission_id == sid)
            .order_by(LedgerEntry.created_at))]  # fmt: skip


def on_item(page: Page, item_id: str) -> None:
    page.wait_for_url(f"**/review/{item_id}*")


def test_a_decision_leads_to_the_next_item_and_z_undoes_it(
    unit_id: str, empty_queue: None, person: Reviewer
) -> None:
    first = waiting_item(unit_id)
    second = waiting_item(unit_id)
    page = person.page
    page.goto("/review")
    page.keyboard.press("n")
    on_item(page, first)
    page.keyboard.press("a")
    on_item(page, second)  # straight to the next item: no stop at the queue
    assert item_row(first).state == ItemState.decided and ledger_of(first) == [("award", 40)]
    toast = page.locator("#undo-toast")
    expect(toast).to_be_visible()
    expect(toast).to_contain_text("approved")
    seconds = int(page.locator("#undo-seconds").inner_text())
    assert 0 < seconds <= 10
    page.wait_for_timeout(1100)
    assert int(page.locator("#undo-seconds").inner_text()) < seconds  # it counts down
    page.set_viewport_size({"width": 1366, "height": 768})
    person.screenshot("undo")
    page.keyboard.press("z")
    on_item(page, first)
    expect(page.locator(".notice")).to_contain_text("undone")
    expect(page.locator("#approve")).to_be_enabled()
    row = item_row(first)
    assert row.state == ItemState.leased and row.lease_token
    # The append-only answer: the award stands and a reversal follows; the item the decision
    # led to went back to the queue.
    assert ledger_of(first) == [("award", 40), ("reversal", -40)]
    assert item_row(second).state == ItemState.pending
    page.keyboard.press("r")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    on_item(page, second)
    # Too late after the window: the toast has gone and `z` does nothing.
    page.wait_for_timeout(10_500)
    expect(page.locator("#undo-toast")).to_have_count(0)
    assert item_row(first).state == ItemState.decided
    # My recent decisions on the queue, the undone one marked.
    page.goto("/review")
    recent = page.locator(".recent li")
    expect(recent).to_have_count(2)
    expect(recent.nth(0)).to_contain_text("reject")
    expect(recent.nth(1)).to_contain_text("undone")


def test_approving_a_duplicate_takes_a_second_press(
    unit_id: str, empty_queue: None, person: Reviewer
) -> None:
    item = waiting_item(unit_id, flags=("cross_unit_duplicate",))
    page = person.page
    page.goto(f"/review/{item}")
    expect(page.locator("#claim-item")).to_be_visible()
    page.keyboard.press("c")  # claim the listed item from its own page
    page.wait_for_selector("#approve-form")
    page.keyboard.press("a")
    confirm = page.locator("#approve-confirm")
    expect(confirm).to_be_visible()
    expect(page.locator("#approve-confirm-button")).to_be_focused()
    expect(confirm).to_contain_text("another unit's footage")  # the flag by its name
    assert item_row(item).state == ItemState.leased  # one press decided nothing
    page.keyboard.press("Escape")
    expect(confirm).to_be_hidden()
    page.locator("#approve").click()  # the button asks too
    expect(confirm).to_be_visible()
    page.keyboard.press("Escape")
    page.keyboard.press("a")
    page.keyboard.press("a")
    page.wait_for_url("**/review?message=*")
    assert item_row(item).state == ItemState.decided


def test_n_returns_an_item_still_leased_to_you(
    unit_id: str, empty_queue: None, person: Reviewer
) -> None:
    mine = waiting_item(unit_id)
    other = waiting_item(unit_id, target="apc")
    page = person.page
    page.goto("/review")
    page.keyboard.press("n")
    on_item(page, mine)
    page.goto("/review")  # left without deciding
    expect(page.locator(f'.mine li[data-item="{mine}"]')).to_be_visible()
    page.keyboard.press("n")
    on_item(page, mine)
    page.goto(f"/review/{other}")  # `n` on another item's page, too
    page.keyboard.press("n")
    on_item(page, mine)
    assert item_row(other).state == ItemState.pending


def test_losing_the_lease_locks_the_controls_and_claim_again_works(
    unit_id: str, empty_queue: None, person: Reviewer
) -> None:
    item = waiting_item(unit_id)
    page = person.page
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto("/review")
    page.keyboard.press("n")
    on_item(page, item)
    expect(page.locator("#lease-countdown")).to_have_text(re.compile(r"^\d+:\d\d$"))
    # The lease runs out behind the page's back (a stalled laptop, a lost network).
    with session_factory()() as session:
        past = datetime.now(UTC) - timedelta(seconds=1)
        session.execute(
            update(ReviewItem).where(ReviewItem.id == item).values(lease_expires_at=past)
        )
        session.commit()
    page.mouse.move(200, 200)
    page.mouse.move(300, 300)
    lost = page.locator("#lease-lost")
    expect(lost).to_be_visible(timeout=LEASE_SECONDS * 1000)
    expect(lost).to_contain_text("no longer hold this item")
    expect(page.locator("#approve")).to_be_disabled()
    expect(page.locator("#lease-status")).to_be_hidden()
    person.screenshot("lease-lost")
    sent: list[str] = []
    page.on(
        "request", lambda request: sent.append(f"{request.method} {urlsplit(request.url).path}")
    )
    page.keyboard.press("a")  # locked: nothing is sent
    # The page's next request is the claim again: a decision sent by the key would have left
    # before it (the key's handler submits at once), so when the claim is seen, it is settled.
    claim_again = f"/review/{item}/claim"
    with page.expect_request(lambda r: r.method == "POST" and urlsplit(r.url).path == claim_again):
        page.locator("#claim-again").click()
    assert f"POST /review/{item}/decision" not in sent, sent
    on_item(page, item)
    expect(page.locator("#approve")).to_be_enabled()
    with session_factory()() as session:
        actions = list(session.scalars(select(AuditEvent.action).where(
            AuditEvent.object_id == item).order_by(AuditEvent.seq)))  # fmt: skip
    assert actions.count("review.leased") == 2 and "review.lease_expired" in actions
    assert "review.lease_renewed" not in actions and "review.approve" not in actions


def test_an_idle_page_gives_the_item_back_and_says_so(
    unit_id: str, empty_queue: None, person: Reviewer
) -> None:
    item = waiting_item(unit_id)
    page = person.page
    page.goto("/review")
    page.keyboard.press("n")
    on_item(page, item)
    warning = page.locator("#lease-warning")
    expect(warning).to_be_visible()  # under a minute left: warned at once with these settings
    lost = page.locator("#lease-lost")
    expect(lost).to_be_visible(timeout=(IDLE_SECONDS + 3) * 1000)
    expect(lost).to_contain_text("You were away")
    expect(page.locator("#approve")).to_be_disabled()
    row = item_row(item)
    assert row.state == ItemState.pending and row.leased_by is None
    with session_factory()() as session:
        released = session.scalars(
            select(AuditEvent).where(
                AuditEvent.object_id == item, AuditEvent.action == "review.released"
            )
        ).all()
    assert [e.data["reason"] for e in released] == ["idle"]


def test_the_queue_pages_sorts_and_keeps_filters_in_the_url(
    stack: harness.Stack, unit_token: str, clips: Path, unit_id: str, empty_queue: None,
    person: Reviewer,
) -> None:  # fmt: skip
    filmed = queued(stack, unit_token, clips, "chelsea")
    for n in range(60):
        waiting_item(unit_id, target="apc" if n % 2 else "tank")
    page = person.page
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto("/review")
    rows = page.locator("table.queue tbody tr[data-item]")
    expect(rows).to_have_count(50)
    with session_factory()() as session:
        filmed_item = session.scalar(select(ReviewItem.id).where(
            ReviewItem.submission_id == filmed))  # fmt: skip
    thumb = page.locator(f'tr[data-item="{filmed_item}"] img.thumb')
    expect(thumb).to_be_visible()
    thumb.scroll_into_view_if_needed()
    page.wait_for_function(
        "() => [...document.querySelectorAll('img.thumb')]"
        ".every(i => i.complete && i.naturalWidth > 0)"
    )
    expect(page.locator(f'tr[data-item="{filmed_item}"] .claim-id')).to_have_text(f"#{filmed[:8]}")
    person.screenshot("queue-1366")
    page.select_option("select[name=target_type]", "tank")
    page.select_option("#sort", "oldest")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/review?*sort=oldest*")
    assert "target_type=tank" in page.url
    # 31 tanks (the filmed one and 30 made here), the oldest first.
    tanks = rows.evaluate_all("rows => rows.map(r => r.querySelector('a').textContent)")
    assert len(tanks) == 31 and all("tank" in t for t in tanks)
    assert tanks[0].startswith(f"#{filmed[:8]}")
    # Pages: 61 waiting items, 50 a page; the next page keeps the filter and sort.
    page.goto("/review?sort=newest")
    one = rows.evaluate_all("rows => rows.map(r => r.dataset.item)")
    page.locator("#next-page").click()
    page.wait_for_url("**after=*")
    assert "sort=newest" in page.url
    two = rows.evaluate_all("rows => rows.map(r => r.dataset.item)")
    assert len(one) == 50 and len(two) == 11 and not set(one) & set(two)
    counts = {s: int(page.locator(f'[data-state="{s}"] b').inner_text())
              for s in ("pending", "escalated", "leased")}  # fmt: skip
    assert counts["pending"] == 61 and counts["leased"] == 0
    # Blind four-eyes: a reviewer's counts have no separate "waiting for a second approval".
    expect(page.locator('[data-state="awaiting_second"]')).to_have_count(0)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/review")
    person.screenshot("queue-390")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 1


def test_going_back_to_the_queue_after_each_decision_is_a_preference(
    unit_id: str, empty_queue: None, person: Reviewer
) -> None:
    first = waiting_item(unit_id)
    waiting_item(unit_id)
    page = person.page
    page.goto("/review")
    page.locator("#auto-next").uncheck()  # stored in a cookie the server reads
    assert {c["name"]: c["value"] for c in person.context.cookies()}["mvq_auto_next"] == "0"
    page.keyboard.press("n")
    on_item(page, first)
    page.keyboard.press("e")
    page.wait_for_url("**/review?message=*")
    expect(page.locator(".notice")).to_contain_text("Escalated")
    expect(page.locator("#undo-toast")).to_be_visible()  # the undo is offered here, too
    expect(page.locator("#auto-next")).not_to_be_checked()
    page.locator("#auto-next").check()
