"""A unit's member at a phone (390x844) and a laptop: "my claims" shows each claim's state in
words, what failed and what to do, the decision and the points; the appeal goes from the page;
a member of another unit sees none of it. axe-core finds nothing serious; screenshots of both
sizes go to artifacts/unit-claims-<width>.png."""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from mvq.auth.models import Role
from mvq.db import session_factory
from testkit import footage, harness
from testkit.browser import Reviewer
from testkit.claims import upload_claim, wait_for_status
from testkit.people import make_unit
from tests.browser import axe
from tests.browser.helpers import approve_all

SIZES = {1366: {"width": 1366, "height": 768}, 390: {"width": 390, "height": 844}}


@dataclass
class Claims:
    unit_id: str
    approved: str
    failed: str
    points: int


@pytest.fixture(scope="module")
def claims(stack: harness.Stack, clips: Path) -> Claims:
    with session_factory()() as session:
        unit_id, token = make_unit(session)
    good = footage.clip("rocket", clips / "member-rocket.mp4")
    cut = clips / "member-cut.mp4"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    approved = upload_claim(stack, token, good)
    failed = upload_claim(stack, token, cut)
    wait_for_status(stack, token, approved, "in_queue")
    wait_for_status(stack, token, failed, "failed")
    points = approve_all(stack, {approved: None})[approved]
    return Claims(unit_id, approved, failed, points)


@pytest.fixture(scope="module")
def member(browser: Browser, stack: harness.Stack, claims: Claims) -> Iterator[Reviewer]:
    person = Reviewer(browser, stack, Role.unit, unit_id=claims.unit_id)
    person.login()
    yield person
    person.close()


@pytest.mark.parametrize("width", list(SIZES))
def test_my_claims_reads_at_a_phone_and_a_laptop(
    member: Reviewer, claims: Claims, width: int
) -> None:
    page = member.page
    page.set_viewport_size(SIZES[width])
    page.goto("/unit")
    approved = page.locator(f"#claim-{claims.approved}")
    expect(approved).to_contain_text("Approved")
    expect(approved.locator(".outcome")).to_have_text(f"Approved: {claims.points} points.")
    failed = page.locator(f"#claim-{claims.failed}")
    expect(failed).to_contain_text("The file ends early")
    expect(page.locator(".summary")).to_contain_text(str(claims.points))
    expect(page.locator("ol.ledger")).to_contain_text(f"+{claims.points}")
    # Nothing wider than the screen: a phone never scrolls sideways.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    member.screenshot(f"unit-claims-{width}")
    axe.assert_no_serious_violations(page, f"my claims at {width}px")
    # The claim in full on its own page: files, what the reviewers are told, the points.
    approved.get_by_role("link").first.click()
    page.wait_for_url(f"**/unit/claims/{claims.approved}")
    expect(page.locator("article.claim")).to_contain_text(f"+{claims.points} points awarded")
    expect(page.locator("ul.flags")).to_contain_text("The file does not say when it was recorded.")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    member.screenshot(f"unit-claim-{width}")
    axe.assert_no_serious_violations(page, f"a claim's page at {width}px")


def test_a_member_of_another_unit_sees_none_of_it(
    browser: Browser, stack: harness.Stack, claims: Claims
) -> None:
    with session_factory()() as session:
        other_unit = make_unit(session)[0]
    stranger = Reviewer(browser, stack, Role.unit, unit_id=other_unit)
    try:
        page = stranger.login()
        expect(page.locator("h1")).to_be_visible()
        assert claims.approved not in page.content() and claims.failed not in page.content()
        response = page.goto(f"/api/v1/submissions/{claims.approved}")
        assert response is not None and response.status in (403, 404)
        # The staff's pages are not a member's either.
        response = page.goto("/review")
        assert response is not None and response.status == 403
    finally:
        stranger.close()


@pytest.mark.parametrize("width", list(SIZES))
def test_my_settings_from_the_header(member: Reviewer, width: int) -> None:
    page = member.page
    page.set_viewport_size(SIZES[width])
    page.goto("/unit")
    page.locator(".who a").click()  # the header's e-mail leads to one's settings
    page.wait_for_url("**/account")
    page.select_option("#time_zone", "Europe/Warsaw")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("[role=status]")).to_contain_text("Saved")
    expect(page.locator("#time_zone")).to_have_value("Europe/Warsaw")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    member.screenshot(f"account-{width}")
    axe.assert_no_serious_violations(page, f"my settings at {width}px")
