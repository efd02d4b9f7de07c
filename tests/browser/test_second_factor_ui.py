"""The second factor in Chromium at a laptop (1366x768) and a phone (390x844): a senior with
none enrols at sign-in (the QR code drawn by the server, the key in text), sees the recovery
codes once, and the next sign-in asks for a code; nothing scrolls sideways and axe-core finds
nothing serious. Screenshots: artifacts/second-factor-{enrol,recovery,code}-<width>.png."""

import re

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from mvq.auth import second_factor
from mvq.auth.models import Role, StaffUser
from mvq.auth.policy import OPERATOR
from mvq.db import session_factory, utcnow
from testkit import harness
from testkit.browser import Reviewer
from testkit.people import OTP_SECRETS, otp_for
from tests.browser import axe
from tests.browser.helpers import password_step

SIZES = {1366: {"width": 1366, "height": 768}, 390: {"width": 390, "height": 844}}


def fits(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


@pytest.mark.parametrize("width", list(SIZES))
def test_a_senior_enrols_then_signs_in_with_a_code(
    browser: Browser, stack: harness.Stack, width: int
) -> None:
    person = Reviewer(browser, stack, Role.senior)
    with session_factory()() as session:  # made enrolled; start as a person with none
        uid = session.scalar(select(StaffUser.id).where(StaffUser.email == person.email))
        assert uid
        second_factor.reset_second_factor(session, principal=OPERATOR, user_id=uid, now=utcnow())
        session.commit()
    try:
        person.page.set_viewport_size(SIZES[width])
        page = password_step(person.page, person.email, person.password)
        page.wait_for_url("**/login/enrol*")
        expect(page.locator("h1")).to_have_text("Set up a second factor")
        expect(page.locator(".qr-code svg")).to_be_visible()
        assert fits(page)
        person.screenshot(f"second-factor-enrol-{width}")
        axe.assert_no_serious_violations(page, f"the enrolment page at {width}px")
        key = page.locator(".totp-key code").inner_text()
        assert re.fullmatch(r"[A-Z2-7 ]+", key)
        OTP_SECRETS[person.email] = key.replace(" ", "")
        page.fill('input[name="code"]', otp_for(person.email))
        page.press('input[name="code"]', "Enter")
        expect(page.locator("h1")).to_have_text("Recovery codes")
        expect(page.locator(".recovery-codes li")).to_have_count(10)
        assert fits(page)
        person.screenshot(f"second-factor-recovery-{width}")
        axe.assert_no_serious_violations(page, f"the recovery codes at {width}px")
        page.get_by_role("link", name="I have saved them; continue").click()
        page.wait_for_url("**/review")

        person.context.clear_cookies()  # a new sign-in
        page = password_step(person.page, person.email, person.password)
        page.wait_for_url("**/login/code*")
        page.fill('input[name="code"]', "000000")
        page.press('input[name="code"]', "Enter")
        expect(page.locator(".error")).to_contain_text("That code is wrong")
        assert fits(page)
        person.screenshot(f"second-factor-code-{width}")
        axe.assert_no_serious_violations(page, f"the code page at {width}px")
        page.fill('input[name="code"]', otp_for(person.email))
        page.press('input[name="code"]', "Enter")
        page.wait_for_url("**/review")
        expect(page.locator(".who")).to_contain_text(person.email)
    finally:
        person.close()
