"""Issue 31 in Chromium: the item page's keys (Space and k play and pause without scrolling,
+ and - zoom the clip, ? lists every key in a dialog that keeps focus), the escalation note at
the top of the item page and on the senior's queue row, and a session that ends mid-task: the
login page says so, and signing in leads back to the item with the typed note. Ukrainian
screenshots at laptop and phone sizes go to /work/shots/h31keys/ (MVQ_SHOTS_DIR)."""

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy import select, update

from edge import web_session
from mvq.auth import service as auth
from mvq.auth.models import Role
from mvq.db import session_factory
from mvq.review.models import ReviewItem
from testkit import harness
from testkit.browser import Reviewer
from testkit.people import make_login
from tests.browser import axe
from tests.browser.helpers import queued

LAPTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
SHOTS = Path(os.environ.get("MVQ_SHOTS_DIR", "/work/shots/h31keys"))


@pytest.fixture
def person(browser: Browser, stack: harness.Stack) -> Iterator[Reviewer]:
    someone = Reviewer(browser, stack, Role.reviewer)
    someone.login()
    yield someone
    someone.close()


def claim_first(page: Page, submission_id: str) -> str:
    """Puts the claim first in the queue and claims it with `n`: its item id."""
    with session_factory()() as session:
        session.execute(
            update(ReviewItem)
            .where(ReviewItem.submission_id == submission_id)
            .values(priority=10**9)
        )
        session.commit()
        item_id = session.scalar(
            select(ReviewItem.id).where(ReviewItem.submission_id == submission_id)
        )
    page.goto("/review")
    page.keyboard.press("n")
    page.wait_for_url(f"**/review/{item_id}*")
    return str(item_id)


def paused(page: Page) -> bool:
    return bool(page.locator("video.footage").first.evaluate("v => v.paused"))


def end_the_session(context: BrowserContext) -> None:
    """The server forgets the session, as when it times out or is revoked elsewhere."""
    cookie = next(c for c in context.cookies() if c["name"] == web_session.COOKIE)
    token = web_session.token_from_cookie(cookie["value"])
    assert token
    with session_factory()() as session:
        auth.end_session(session, token=token, now=datetime.now(UTC))
        session.commit()


def test_space_k_plus_minus_and_the_list_of_keys(
    stack: harness.Stack, unit_token: str, clips: Path, person: Reviewer
) -> None:
    submission_id = queued(stack, unit_token, clips, "chelsea")
    page = person.page
    page.set_viewport_size(PHONE)  # a page taller than the screen: Space could scroll it
    claim_first(page, submission_id)
    page.keyboard.press("u")
    video = page.locator("video.footage").first
    page.wait_for_function("() => document.querySelector('video.footage').readyState >= 1")
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    assert page.evaluate("() => document.documentElement.scrollHeight > innerHeight")
    page.keyboard.press(" ")
    page.wait_for_function("() => !document.querySelector('video.footage').paused")
    assert page.evaluate("() => scrollY") == 0  # Space played the clip, the page stayed put
    page.keyboard.press("k")
    assert paused(page)
    page.keyboard.press("k")
    assert not paused(page)
    page.keyboard.press(" ")
    assert paused(page)
    assert page.evaluate("() => scrollY") == 0

    page.keyboard.press("+")
    assert video.evaluate("v => v.style.transform") == "translate(0px, 0px) scale(1.5)"
    page.keyboard.press("+")
    expect(page.locator(".zoom-level").first).to_have_text("2\u00d7")  # two times
    box = page.locator(".clip-frame").first.bounding_box()
    assert box is not None and box["width"] <= PHONE["width"]  # zoomed inside its frame
    # Zoomed, the arrows move the picture (a tenth of the frame each) to show its edges, and
    # no further than its edge: at 2x it overhangs by half its size.
    width = video.evaluate("v => v.offsetWidth")
    page.keyboard.press("ArrowRight")
    assert video.evaluate("v => v.style.transform").startswith(f"translate(-{width / 10:g}px, 0px)")
    for _ in range(8):
        page.keyboard.press("ArrowRight")
    assert video.evaluate("v => Number(v.dataset.panX)") == -width / 2
    page.keyboard.press("ArrowUp")
    assert video.evaluate("v => Number(v.dataset.panY)") > 0
    # A drag moves it back the other way.
    frame = page.locator(".clip-frame").first.bounding_box()
    assert frame is not None
    middle = (frame["x"] + frame["width"] / 2, frame["y"] + frame["height"] / 2)
    page.mouse.move(*middle)
    page.mouse.down()
    page.mouse.move(middle[0] + 40, middle[1], steps=4)
    page.mouse.up()
    assert video.evaluate("v => Number(v.dataset.panX)") == -width / 2 + 40
    page.keyboard.press("-")
    page.keyboard.press("-")
    assert video.evaluate("v => v.style.transform") == ""
    page.keyboard.press("ArrowRight")  # not zoomed: nothing to move
    assert video.evaluate("v => v.style.transform") == ""

    # Keys while typing are the field's: no play, no zoom, no list.
    page.locator("#reject-comment").fill("")
    page.locator("#reject-comment").focus()
    page.keyboard.type("k +? ")
    expect(page.locator("#reject-comment")).to_have_value("k +? ")
    assert paused(page) and video.evaluate("v => v.style.transform") == ""
    expect(page.locator("#keys-help")).not_to_be_visible()

    # ? lists every key; focus stays in the dialog; Esc gives it back where it was.
    page.set_viewport_size(LAPTOP)
    page.locator("#keys-open").focus()
    page.keyboard.press("?")
    help_box = page.locator("#keys-help")
    expect(help_box).to_be_visible()
    for key in ("n", "c", "a", "r", "e", "z", "u", "k", ",", ".", "s", "+", "-", "?", "Esc",
                "\u2190", "\u2192"):  # fmt: skip
        expect(help_box.locator("kbd", has_text=key).first).to_be_visible()
    expect(help_box).to_contain_text("Space")
    for _ in range(6):
        page.keyboard.press("Tab")
        assert page.evaluate("() => !!document.activeElement.closest('#keys-help')")
    page.keyboard.press("a")  # nothing is decided behind the open list
    page.keyboard.press(" ")
    assert "/review/" in page.url and paused(page)
    axe.assert_no_serious_violations(page, "item page, keys listed, laptop")
    page.set_viewport_size(PHONE)
    axe.assert_no_serious_violations(page, "item page, keys listed, phone")
    page.keyboard.press("Escape")
    expect(help_box).not_to_be_visible()
    assert page.evaluate("() => document.activeElement.id") == "keys-open"
    page.keyboard.press("?")
    expect(help_box).to_be_visible()
    page.keyboard.press("?")  # the same key closes it
    expect(help_box).not_to_be_visible()


def test_the_escalation_note_tops_the_item_page_and_the_queue_row(
    browser: Browser, stack: harness.Stack, unit_token: str, clips: Path, person: Reviewer
) -> None:
    submission_id = queued(stack, unit_token, clips, "astronaut")
    page = person.page
    item_id = claim_first(page, submission_id)
    note = "The turret is hidden by smoke at 0:03; a senior should judge the outcome."
    page.locator('#escalate-form input[name="comment"]').fill(note)
    page.locator("#escalate").click()
    page.wait_for_url("**/review?message=*")
    expect(page.locator(".notice")).to_contain_text("senior")
    senior = Reviewer(browser, stack, Role.senior)
    try:
        spage = senior.login()
        for size in (LAPTOP, PHONE):
            spage.set_viewport_size(size)
            spage.goto("/review")
            expect(spage.locator(f'tr[data-item="{item_id}"] .escalation-note')).to_contain_text(
                "hidden by smoke"
            )
            spage.goto(f"/review/{item_id}")
            shown = spage.locator("#escalation-note")
            expect(shown).to_contain_text(note)
            box = shown.bounding_box()
            assert box is not None and box["y"] + box["height"] <= size["height"], box  # no scroll
    finally:
        senior.close()


def test_a_session_ending_mid_task_says_so_and_leads_back_with_the_note(
    browser: Browser, stack: harness.Stack, unit_token: str, clips: Path
) -> None:
    submission_id = queued(stack, unit_token, clips, "coffee")
    person = Reviewer(browser, stack, Role.reviewer)
    try:
        page = person.login()
        page.set_viewport_size(LAPTOP)
        item_id = claim_first(page, submission_id)
        page.locator("#reason").select_option(index=1)
        page.locator("#reject-comment").fill("Smoke only; no hull in any frame.")
        end_the_session(person.context)
        page.locator("#reject").click()  # posted with a session that has ended
        page.wait_for_url("**/login?*")
        expect(page.locator("#session-ended")).to_contain_text("Your session ended")
        expect(page.locator("#session-ended")).to_contain_text("the item you were working on")
        expect(page.locator('input[name="next"]')).to_have_value(f"/review/{item_id}")
        axe.assert_no_serious_violations(page, "login after the session ended")
        page.fill('input[name="email"]', person.email)
        page.fill('input[name="password"]', person.password)
        page.press('input[name="password"]', "Enter")
        page.wait_for_url(f"**/review/{item_id}")
        expect(page.locator("#reject-comment")).to_have_value("Smoke only; no hull in any frame.")
        expect(page.locator("#decide")).to_be_visible()  # the hold outlived the session
        # A "next" that leaves the site is not followed.
        for bad in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
            page.goto(f"/login?ended=1&next={bad}")
            expect(page.locator('input[name="next"]')).to_have_value("/review")
    finally:
        person.close()


def test_a_heartbeat_after_the_session_ended_leads_to_the_login_and_back(
    stack: harness.Stack, unit_token: str, clips: Path, person: Reviewer
) -> None:
    """A reviewer watching an item (no click, no key) when the session ends: the lease's next
    heartbeat is answered by the login page, and the page goes there, saying why, with the
    way back to the item. The page's clock is driven (a heartbeat comes every 60 s)."""
    submission_id = queued(stack, unit_token, clips, "coffee")
    page = person.page
    page.set_viewport_size(LAPTOP)
    page.clock.install()
    item_id = claim_first(page, submission_id)
    end_the_session(person.context)
    page.clock.run_for(59_000)
    page.mouse.move(200, 200)  # at work: the heartbeat renews only for someone active
    page.mouse.move(220, 210)
    page.clock.run_for(2_000)
    page.wait_for_url("**/login?*")
    expect(page.locator("#session-ended")).to_contain_text("Your session ended")
    expect(page.locator('input[name="next"]')).to_have_value(f"/review/{item_id}")


def test_ukrainian_screenshots_of_the_keys_a_toast_and_the_ended_session(
    browser: Browser, stack: harness.Stack, unit_token: str, clips: Path
) -> None:
    submission_id = queued(stack, unit_token, clips, "rocket")
    email, password = make_login(Role.reviewer)
    context = browser.new_context(base_url=stack.url, locale="uk-UA")
    page = context.new_page()
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        page.goto("/review")
        page.fill('input[name="email"]', email)
        page.fill('input[name="password"]', password)
        page.press('input[name="password"]', "Enter")
        page.wait_for_url("**/review")
        page.set_viewport_size(LAPTOP)
        claim_first(page, submission_id)
        page.keyboard.press("u")
        page.keyboard.press("?")
        expect(page.locator("#keys-help")).to_be_visible()
        expect(page.locator("#keys-help h2")).to_have_text("Клавіші на цій сторінці")
        for name, size in (("laptop", LAPTOP), ("phone", PHONE)):
            page.set_viewport_size(size)
            page.screenshot(path=str(SHOTS / f"item-keys-{name}.png"))
        page.keyboard.press("Escape")
        page.set_viewport_size(LAPTOP)
        page.keyboard.press("a")
        page.wait_for_url("**/review?message=*")
        expect(page.locator("#undo-toast")).to_be_visible()
        for name, size in (("laptop", LAPTOP), ("phone", PHONE)):
            page.set_viewport_size(size)
            page.screenshot(path=str(SHOTS / f"toast-{name}.png"))
        # The toast runs out with focus on its Undo: focus moves to the page's next control.
        page.locator("#undo").focus()
        expect(page.locator("#undo-toast")).to_have_count(0, timeout=15000)
        assert page.evaluate("() => document.activeElement.closest('#claim-form') !== null")
        end_the_session(context)
        page.reload()
        page.wait_for_url("**/login?*")
        expect(page.locator("#session-ended")).to_be_visible()
        for name, size in (("laptop", LAPTOP), ("phone", PHONE)):
            page.set_viewport_size(size)
            axe.assert_no_serious_violations(page, f"login after the session ended, uk, {name}")
            page.screenshot(path=str(SHOTS / f"login-ended-{name}.png"))
    finally:
        context.close()
