"""An auditor in Chromium works from /audit: the chain verified on request, a claim's story from
one search, the log paged, an evidence bundle downloaded within the session. Screenshots at a
laptop's and a phone's size; axe finds nothing serious and nothing scrolls sideways."""

from playwright.sync_api import Browser, Page, ViewportSize, expect

from mvq.audit import service as audit
from mvq.auth.models import Role
from mvq.db import session_factory
from testkit import harness
from testkit.browser import Reviewer
from testkit.people import make_unit
from tests.browser import axe
from tests.browser.helpers import rejected_and_appealed
from tests.helpers import reviewer

LAPTOP: ViewportSize = {"width": 1366, "height": 768}
PHONE: ViewportSize = {"width": 390, "height": 844}


def fits(page: Page) -> bool:
    return bool(page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth"))


def test_an_auditor_works_from_the_audit_page(browser: Browser, stack: harness.Stack) -> None:
    with session_factory()() as session:
        unit_id = make_unit(session)[0]
        for n in range(120):  # more than a page
            audit.record(session, actor="system:test", action="thing.done", object_type="thing",
                         object_id=str(n), data={"n": n})  # fmt: skip
        session.commit()
    claim, _ = rejected_and_appealed(unit_id, reviewer(), "The hull burns at 0:41.")
    auditor = Reviewer(browser, stack, Role.auditor)
    try:
        page = auditor.login()
        page.set_viewport_size(LAPTOP)
        page.goto("/audit")
        page.get_by_role("button", name="Verify the whole chain now").click()
        expect(page.locator("#chain-status")).to_contain_text("Intact up to event")
        expect(page.locator("table.log tbody tr")).to_have_count(100)
        page.get_by_role("link", name="Older →").first.click()
        expect(page.locator("table.log tbody tr").first).to_be_visible()
        assert "before=" in page.url

        page.goto("/audit")
        # The short id every page shows finds the claim (issue 31); actions read as words.
        page.fill('input[name="claim"]', claim[:8])
        page.get_by_role("button", name="Search").click()
        expect(page.locator("#events-h")).to_contain_text(claim)
        for action, words in (("review.leased", "taken for review"), ("review.reject", "rejected"),
                              ("appeal.filed", "appeal filed")):  # fmt: skip
            expect(page.locator(f'a.action[data-action="{action}"]').first).to_have_text(words)
        expect(page.locator("td.actor", has_text="(reviewer)").first).to_be_visible()
        auditor.screenshot("audit-claim-1366")
        axe.assert_no_serious_violations(page, "/audit?claim at 1366")
        assert fits(page)

        with page.expect_download() as download:
            page.get_by_role("button", name="Download this claim's evidence bundle").click()
        assert download.value.suggested_filename == f"evidence-{claim}.zip"

        page.goto("/audit")
        auditor.screenshot("audit-1366")
        page.set_viewport_size(PHONE)
        page.goto(f"/audit?claim={claim}")
        auditor.screenshot("audit-claim-390")
        axe.assert_no_serious_violations(page, "/audit?claim at 390")
        assert fits(page)
        page.goto("/audit")
        auditor.screenshot("audit-390")
        assert fits(page)
    finally:
        auditor.close()
