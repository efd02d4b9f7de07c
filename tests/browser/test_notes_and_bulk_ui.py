"""Issue 32 in Chromium: a note naming a senior shows in the item page's header and on the
senior's queue; the senior ticks rows on the queue and rejects them with one reason, and the
page says which were not done and why. Screenshots in Ukrainian at laptop and phone sizes
(MVQ_ARTIFACTS_DIR chooses where)."""

from datetime import UTC, datetime
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from mvq.auth.models import Role
from mvq.db import session_factory
from mvq.review import leases
from testkit import harness
from testkit.browser import ARTIFACTS, Reviewer
from testkit.people import make_unit
from tests.browser import axe
from tests.browser.helpers import LAPTOP, PHONE, item_of, no_sideways_scroll, queued
from tests.helpers import queued_item, reviewer


def shots(page: Page, name: str) -> None:
    """The first screen as a person sees it, and the whole page."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
    page.screenshot(path=str(ARTIFACTS / f"{name}-full.png"), full_page=True)


def test_notes_and_bulk_rejection_in_the_browser(
    browser: Browser, stack: harness.Stack, unit_token: str, clips: Path
) -> None:
    senior = Reviewer(browser, stack, Role.senior)
    writer = Reviewer(browser, stack, Role.reviewer)
    item_id = item_of(queued(stack, unit_token, clips, "chelsea"))
    with session_factory()() as session:
        unit_id = make_unit(session)[0]
        batch = [queued_item(session, unit_id).id for _ in range(3)]
    try:
        page = writer.login()
        page.set_viewport_size(LAPTOP)
        page.goto(f"/review/{item_id}")
        page.locator("#notes summary").click()
        page.fill("#note-body", f"@{senior.email} the turret at 0:04: is it the same hit as "
                                "yesterday's claim? <b>not bold</b>")  # fmt: skip
        page.locator("#note-form button").click()
        expect(page.locator(".item-head #notes .note-entry")).to_have_count(1)
        expect(page.locator(".item-head #notes .note-body")).to_contain_text("<b>not bold</b>")

        page = senior.login()
        page.set_viewport_size(LAPTOP)
        expect(page.locator("#mentions")).to_contain_text("the turret at 0:04")
        page.goto(f"/review/{item_id}")
        head = page.locator(".item-head #notes")
        expect(head).to_be_visible()
        box = head.bounding_box()
        assert box is not None and box["y"] < LAPTOP["height"]

        # One item of the batch is held by someone else: the page says so, in words.
        held = batch[2]
        other = reviewer()
        with session_factory()() as session:
            leases.claim_item(session, reviewer=other, item_id=held, now=datetime.now(UTC),
                              lease_seconds=600)  # fmt: skip
            session.commit()
        page.goto("/review")
        rows = page.locator('input[name="item_id"][form="bulk-form"]')
        page.locator("#bulk-all").check()  # ticks every row of the page, and clears them
        expect(page.locator('input[name="item_id"][form="bulk-form"]:checked')).to_have_count(
            rows.count()
        )
        page.locator("#bulk-all").uncheck()
        expect(page.locator('input[name="item_id"][form="bulk-form"]:checked')).to_have_count(0)
        for item in batch:
            page.locator(f'tr[data-item="{item}"] input[type=checkbox]').check()
        page.select_option("#bulk-action", "reject")
        page.select_option("#bulk-reason", "not_visible")
        page.fill("#bulk-comment", "blank footage")
        page.locator("#bulk-submit").click()
        expect(page.locator("#bulk-summary")).to_contain_text("2 items done")
        expect(page.locator(f'#bulk-failures li[data-item="{held}"]')).to_contain_text(
            "someone else holds it"
        )

        # Ukrainian screenshots: the item page with its thread, the queue with bulk controls;
        # once the last rejection's undo offer (a toast over the page) has passed.
        page.wait_for_timeout(10_500)
        for size, tag in ((LAPTOP, "1366"), (PHONE, "390")):
            page.set_viewport_size(size)
            page.goto(f"/review/{item_id}?lang=uk")
            expect(page.locator(".item-head #notes")).to_be_visible()
            assert no_sideways_scroll(page), tag
            box = page.locator(".item-head #notes").bounding_box()
            assert box is not None and box["y"] < size["height"], tag  # on the first screen
            shots(page, f"item-notes-uk-{tag}")
            axe.assert_no_serious_violations(page, f"item with notes at {tag}px")
            page.goto("/review?lang=uk")
            expect(page.locator("#bulk-form")).to_be_visible()
            shots(page, f"queue-bulk-uk-{tag}")
            axe.assert_no_serious_violations(page, f"queue with bulk controls at {tag}px")
    finally:
        senior.close()
        writer.close()
