"""The calibration page in Chromium, in Ukrainian: a senior reads everyone's figures and a
reviewer only their own, at a laptop's and a phone's size; axe finds nothing serious and
nothing scrolls sideways. Screenshots go to the artifacts directory."""

from playwright.sync_api import Browser, Page, ViewportSize, expect

from mvq.auth.models import Role
from mvq.db import session_factory
from testkit import harness
from testkit.browser import Reviewer
from testkit.people import make_unit
from tests.browser import axe
from tests.browser.helpers import item_of
from tests.qa_data import seed, user_id

LAPTOP: ViewportSize = {"width": 1366, "height": 768}
PHONE: ViewportSize = {"width": 390, "height": 844}


def fits(page: Page) -> bool:
    return bool(page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth"))


def test_the_calibration_page_for_a_senior_and_a_reviewer(
    browser: Browser, stack: harness.Stack
) -> None:
    senior = Reviewer(browser, stack, Role.senior)
    mine = Reviewer(browser, stack, Role.reviewer)
    others = [Reviewer(browser, stack, Role.reviewer) for _ in range(2)]
    try:
        with session_factory()() as session:
            unit_id = make_unit(session)[0]
        ids = [user_id(p.email) for p in (mine, *others)]
        goldens = seed(unit_id, ids)
        page = senior.login()
        for size, name in ((LAPTOP, "1366"), (PHONE, "390")):
            page.set_viewport_size(size)
            page.goto("/qa?lang=uk")
            expect(page.locator("h1")).to_contain_text("Калібрування")
            expect(page.locator("#by-reviewer .bar-row")).to_have_count(3)
            # Three pairs from the golden items, and the re-reviewed claim's two reviewers.
            expect(page.locator("#pairs .bar-row")).to_have_count(4)
            expect(page.locator("article.disputed")).to_have_count(1)
            expect(page.locator("#fleiss")).to_contain_text("Фляйса")
            senior.screenshot(f"calibration-senior-{name}")
            axe.assert_no_serious_violations(page, f"/qa (senior) at {name}")
            assert fits(page), name
        # A golden item's own page, for a senior: its mark and the control to change it.
        page.set_viewport_size(LAPTOP)
        page.goto(f"/review/{item_of(goldens[1])}?lang=uk")
        expect(page.locator("#golden-form")).to_be_visible()
        expect(page.locator("#golden-mark")).to_be_visible()
        senior.screenshot("item-golden-senior-1366")
        axe.assert_no_serious_violations(page, "a golden item's page (senior)")
        page = mine.login()
        for size, name in ((LAPTOP, "1366"), (PHONE, "390")):
            page.set_viewport_size(size)
            page.goto("/qa?lang=uk")
            # Only their own: one reviewer's bar, no pairs, no one else's e-mail.
            expect(page.locator("#by-reviewer .bar-row")).to_have_count(1)
            expect(page.locator("#pairs")).to_have_count(0)
            expect(page.locator("table.golden-results tbody tr")).to_have_count(12)
            for other in others:
                assert other.email not in page.content()
            mine.screenshot(f"calibration-reviewer-{name}")
            axe.assert_no_serious_violations(page, f"/qa (reviewer) at {name}")
            assert fits(page), name
    finally:
        for person in (senior, mine, *others):
            person.close()
