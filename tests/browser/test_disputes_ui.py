"""The disputes page in Chromium, on a pair made from one clip by two units (crf 31 uploaded
first, crf 24 second), both approved: the suggestion names the crf 24 claim as the likely
original with its reasons; the page fits two laptop screens and under four phone screens, in
English and Ukrainian, with no serious axe finding; `u` unveils the stills and `a` accepts
the suggestion, which settles the dispute all to the original."""

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from mvq.auth.models import Role
from mvq.db import session_factory
from mvq.scoring.disputes import reading
from mvq.scoring.models import Dispute, DisputeStatus
from testkit import footage, harness
from testkit.browser import Reviewer
from testkit.claims import upload_claim, wait_for_status
from testkit.people import make_unit
from tests.browser import axe
from tests.browser.helpers import approve_all
from tests.contested import paid

LAPTOP, PHONE = {"width": 1366, "height": 768}, {"width": 390, "height": 844}
SHOTS = Path(os.environ.get("MVQ_SHOTS_DIR", Path(__file__).parents[2] / "artifacts" / "shots"))


@dataclass
class Pair:
    original: str
    copy: str
    dispute_id: str


def disputed_copy(stack: harness.Stack, clips: Path, photo: str) -> Pair:
    """One clip as two units upload it: the crf 31 copy first, the crf 24 file second; both
    approved, so their awards are held in one dispute."""
    source = footage.clip(photo, clips / f"{photo}-lossless.mp4", seconds=8, lossless=True)
    with session_factory()() as session:
        first, second = make_unit(session)[1], make_unit(session)[1]
    copy = upload_claim(stack, first, footage.at_crf(source, 31))
    wait_for_status(stack, first, copy, "in_queue")
    original = upload_claim(stack, second, footage.at_crf(source, 24))
    wait_for_status(stack, second, original, "in_queue")
    approve_all(stack, {copy: None, original: None})
    with session_factory()() as session:
        found = reading.member_of(session, submission_id=original)
        assert found is not None
    return Pair(original, copy, found[0].id)


@pytest.fixture(scope="module")
def pair(stack: harness.Stack, clips: Path) -> Pair:
    return disputed_copy(stack, clips, "rocket")


@pytest.fixture
def senior(browser: Browser, stack: harness.Stack) -> Iterator[Reviewer]:
    person = Reviewer(browser, stack, Role.senior)
    person.login()
    yield person
    person.close()


def height(page: Page) -> int:
    return int(page.evaluate("() => document.documentElement.scrollHeight"))


def test_a_senior_reads_the_suggestion_and_accepts_it_with_one_key(
    senior: Reviewer, pair: Pair
) -> None:
    page = senior.page
    SHOTS.mkdir(parents=True, exist_ok=True)
    heights = {}
    for lang in ("uk", "en"):
        for name, size in (("phone", PHONE), ("laptop", LAPTOP)):
            page.set_viewport_size(size)
            page.goto(f"/disputes?lang={lang}")
            dispute = page.locator(f'section.dispute[data-dispute="{pair.dispute_id}"]')
            expect(dispute).to_be_visible()
            heights[(lang, name)] = height(page)
            page.screenshot(path=str(SHOTS / f"disputes-{lang}-{size['width']}.png"),
                            full_page=True)  # fmt: skip
            axe.assert_no_serious_violations(page, f"/disputes in {lang} at {size['width']}px")
    print(f"\npage heights: {heights}")
    # Two claims side by side in two laptop screens; under four screens on a phone.
    assert all(h <= 2 * LAPTOP["height"] for (_, n), h in heights.items() if n == "laptop"), heights
    assert all(h < 4 * PHONE["height"] for (_, n), h in heights.items() if n == "phone"), heights

    dispute = page.locator(f'section.dispute[data-dispute="{pair.dispute_id}"]')
    suggestion = dispute.locator(".suggestion")
    expect(suggestion).to_contain_text(f"Likely original: claim {pair.original[:8]}")
    expect(suggestion).to_contain_text("higher bit rate")
    expect(dispute.locator("h2")).to_contain_text("tank · destroyed")
    expect(dispute.locator(f'[data-member="{pair.original}"] .signals')).to_contain_text(
        f"same footage as claim {pair.copy[:8]}")  # fmt: skip
    # Stills veiled as on the item page, until `u`.
    expect(page.locator("#media")).to_have_class("veiled")
    page.keyboard.press("u")
    expect(page.locator("#media")).not_to_have_class("veiled")
    page.keyboard.press("a")
    expect(page.locator(".notice").first).to_contain_text("settled")
    with session_factory()() as session:
        worth = session.get_one(Dispute, pair.dispute_id)
        assert worth.status == DisputeStatus.settled
        assert paid(session, pair.copy) == 0 and paid(session, pair.original) > 0
