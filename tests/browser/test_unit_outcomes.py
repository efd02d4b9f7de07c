"""A unit's member at a phone (390x844) learns what became of each claim (issue 30): a member
whose unit lost a dispute sees the outcome, this claim's share of the target's worth and the
senior's note, on "my claims" and on the claim's own page, and nothing of the other unit.
axe-core finds nothing serious. Screenshots of both pages in Ukrainian at 1366x768 and 390x844
go to artifacts/unit-outcomes-uk-<page>-<width>.png (MVQ_ARTIFACTS_DIR moves them)."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from playwright.sync_api import Browser, Page, expect

from mvq.auth.models import Role
from mvq.db import session_factory
from mvq.scoring.disputes import settlement
from testkit import harness
from testkit.browser import ARTIFACTS, Reviewer
from testkit.people import make_unit
from tests.browser import axe
from tests.contested import claim, decide, dispute_of
from tests.helpers import reviewer

PHONE = {"width": 390, "height": 844}
SIZES = {1366: {"width": 1366, "height": 768}, 390: PHONE}
NOTE = "Дрон першого підрозділу зняв удар; друге відео переслане."


@dataclass
class Lost:
    unit_id: str
    winner_unit_id: str
    winner: str
    lost: str
    others: list[str]


@pytest.fixture(scope="module")
def lost(stack: harness.Stack) -> Lost:
    first_look, second_look, senior = reviewer(), reviewer(), reviewer(Role.senior)
    with session_factory()() as session:
        winner_unit, unit = make_unit(session)[0], make_unit(session)[0]
        session.commit()
        winner = claim(session, winner_unit, lat=48.1, lon=37.7)
        mine = claim(session, unit, copies=[winner.id])
        decide(session, first_look, winner.id, "approve")
        decide(session, first_look, mine.id, "approve")
        dispute_id = dispute_of(session, mine.id).dispute.id
        settlement.settle(session, senior=senior, dispute_id=dispute_id,
                          shares={winner.id: 40, mine.id: 0}, note=NOTE,
                          now=datetime.now(UTC))  # fmt: skip
        session.commit()
        # The member's other claims, for the pages' pictures: rejected, waiting for a second
        # approval, approved.
        rejected = claim(session, unit, "artillery")
        decide(session, first_look, rejected.id, "reject")
        approved = claim(session, unit, "apc")
        decide(session, first_look, approved.id, "approve")
        # Last: its item stays first in the queue, waiting for the second look.
        waiting = claim(session, unit, "mlrs")
        decide(session, second_look, waiting.id, "approve")
    return Lost(unit, winner_unit, winner.id, mine.id, [rejected.id, approved.id, waiting.id])


@pytest.fixture(scope="module")
def member(browser: Browser, stack: harness.Stack, lost: Lost) -> Iterator[Reviewer]:
    person = Reviewer(browser, stack, Role.unit, unit_id=lost.unit_id)
    person.login()
    yield person
    person.close()


def test_a_member_who_lost_a_dispute_sees_the_outcome_and_the_note(
    member: Reviewer, lost: Lost
) -> None:
    page = member.page
    page.set_viewport_size(PHONE)
    page.goto("/unit")
    row = page.locator(f"#claim-{lost.lost}")
    told = row.locator(".outcome")
    expect(told).to_contain_text("this claim gets 0 points of the target's 40 points")
    expect(told).to_contain_text(NOTE)
    expect(row).not_to_contain_text("No points yet")
    assert lost.winner not in page.content() and lost.winner_unit_id not in page.content()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    axe.assert_no_serious_violations(page, "my claims with a lost dispute at 390px")

    row.get_by_role("link").first.click()
    page.wait_for_url(f"**/unit/claims/{lost.lost}")
    expect(page.locator("h1")).to_contain_text("tank")
    expect(page.locator(".outcome")).to_contain_text(f"The senior reviewer's note: {NOTE}")
    assert lost.winner not in page.content() and lost.winner_unit_id not in page.content()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    axe.assert_no_serious_violations(page, "a lost claim's page at 390px")


def test_the_filter_applies_as_it_changes(member: Reviewer, lost: Lost) -> None:
    page = member.page
    page.set_viewport_size(PHONE)
    page.goto("/unit")
    expect(page.locator("form.filter button")).to_be_hidden()  # the script took its place
    page.select_option("#status-filter", "rejected")
    page.wait_for_url("**/unit?status=rejected")
    expect(page.locator("article.claim")).to_have_count(1)
    expect(page.locator(f"#claim-{lost.others[0]}")).to_be_visible()


@pytest.mark.parametrize("width", list(SIZES))
def test_the_pages_in_ukrainian(
    browser: Browser, stack: harness.Stack, lost: Lost, width: int
) -> None:
    person = Reviewer(browser, stack, Role.unit, unit_id=lost.unit_id)
    try:
        page = person.login()
        page.set_viewport_size(SIZES[width])
        page.goto("/unit?lang=uk")
        expect(page.locator("html")).to_have_attribute("lang", "uk")
        mine = page.locator(f"#claim-{lost.lost}")
        expect(mine.locator("h3")).to_contain_text("танк")
        expect(mine.locator(".outcome")).to_contain_text(f"Примітка старшого рецензента: {NOTE}")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        axe.assert_no_serious_violations(page, f"my claims in Ukrainian at {width}px")
        shot(page, f"unit-outcomes-uk-list-{width}")
        page.goto(f"/unit/claims/{lost.lost}")
        expect(page.locator("h1")).to_contain_text("танк")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        axe.assert_no_serious_violations(page, f"a claim's page in Ukrainian at {width}px")
        shot(page, f"unit-outcomes-uk-claim-{width}")
        page.goto("/review")  # a staff page: the error page leads to the member's claims
        expect(page.locator("p.ways a").first).to_have_attribute("href", "/unit")
        shot(page, f"unit-outcomes-uk-error-{width}")
    finally:
        person.close()


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
