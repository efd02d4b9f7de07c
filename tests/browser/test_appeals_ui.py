"""A senior in Chromium decides an appeal from /appeals: the case beside the forms, a refused
decision that keeps what was typed, an upheld appeal with a corrected outcome; and the appeal
they took part in shows why they may not decide it. Screenshots at laptop and phone sizes."""

from playwright.sync_api import Browser, expect
from sqlalchemy import func, select

from mvq.auth.models import Role, StaffUser
from mvq.auth.principal import Principal
from mvq.db import session_factory
from mvq.review import appeals
from mvq.scoring.models import LedgerEntry
from testkit import harness
from testkit.browser import Reviewer
from testkit.people import make_unit
from tests.browser.helpers import rejected_and_appealed
from tests.helpers import reviewer

LAPTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}


def test_a_senior_upholds_an_appeal_from_the_appeals_page(
    browser: Browser, stack: harness.Stack
) -> None:
    senior = Reviewer(browser, stack, Role.senior)
    with session_factory()() as session:
        unit_id = make_unit(session)[0]
        senior_id = session.scalar(select(StaffUser.id).where(StaffUser.email == senior.email))
    assert senior_id is not None
    theirs = Principal(kind="staff", id=senior_id, role=Role.senior)
    claim, appeal_id = rejected_and_appealed(
        unit_id, reviewer(), "The burning hull is at 0:41 of the second clip; the turret lies "
        "beside it. The first upload was cut short by the connection.",
    )  # fmt: skip
    _, blocked_id = rejected_and_appealed(unit_id, theirs, "Please look again.")
    try:
        page = senior.login()
        page.set_viewport_size(LAPTOP)
        page.goto("/appeals")
        mine = page.locator(f'section[data-appeal="{appeal_id}"]')
        expect(mine.locator(".unit-reason")).to_contain_text("burning hull")
        expect(mine.locator("ol.history li.appealed")).to_contain_text("Only smoke")
        expect(mine.locator("h2 a")).to_have_attribute("href", f"/review/{_item(claim)}")
        blocked = page.locator(f'section[data-appeal="{blocked_id}"]')
        expect(blocked.locator(".blocked")).to_contain_text("took part in the original decision")
        expect(blocked.locator("form")).to_have_count(0)
        senior.screenshot("appeals")
        page.set_viewport_size(PHONE)
        senior.screenshot("appeals-phone")
        page.set_viewport_size(LAPTOP)

        uphold = mine.locator("form.uphold")
        uphold.locator('select[name="outcome"]').select_option("damaged")
        uphold.locator("textarea").fill("   ")  # passes `required`, not the server
        uphold.locator("button").click()
        mine = page.locator(f'section[data-appeal="{appeal_id}"]')
        expect(mine.locator(".error")).to_contain_text("Write a reason")
        uphold = mine.locator("form.uphold")
        expect(uphold.locator('select[name="outcome"]')).to_have_value("damaged")  # kept
        uphold.locator("textarea").fill("Hull burning at 0:41; turret intact, so damaged.")
        uphold.locator("button").click()
        page.wait_for_url("**/appeals?done=upheld")
        expect(page.locator(".notice")).to_contain_text("Appeal upheld")
        expect(page.locator(f'section[data-appeal="{appeal_id}"]')).to_have_count(0)
        senior.screenshot("appeals-after-uphold")
    finally:
        senior.close()
    with session_factory()() as session:
        awarded = session.scalar(
            select(func.sum(LedgerEntry.points)).where(LedgerEntry.submission_id == claim)
        )
        appeal = appeals.of_claim(session, submission_id=claim)
    assert awarded == 20  # a damaged tank under the demo rules
    assert appeal is not None and appeal.status == "upheld" and appeal.decided_by == senior_id


def _item(claim: str) -> str:
    with session_factory()() as session:
        appeal = appeals.of_claim(session, submission_id=claim)
        assert appeal is not None
        return appeals.item_of(session, appeal=appeal).id
