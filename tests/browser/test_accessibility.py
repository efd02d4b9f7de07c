"""axe-core (vendored from the npm registry, tests/browser/vendor/) over the staff pages with real
content, at a laptop's 1366x768 and a phone's 390x844: no serious or critical violation.
Screenshots of each page at each size go to artifacts/axe-<page>-<width>.png."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from mvq.auth.models import Role
from mvq.db import session_factory
from mvq.flows import intake
from mvq.review.models import ReviewItem
from mvq.scoring.disputes import reading
from mvq.submissions.models import Submission, SubmissionStatus
from testkit import footage, harness
from testkit.browser import Reviewer
from testkit.claims import upload_claim, wait_for_status
from testkit.people import make_unit
from tests.browser import axe
from tests.browser.helpers import approve_all, rejected_and_appealed
from tests.helpers import reviewer as make_reviewer

SIZES = {1366: {"width": 1366, "height": 768}, 390: {"width": 390, "height": 844}}
ALSO_BLOCKING = ("landmark-unique",)
# The pages issue 31 found it on; the disputes page (two disputes' sections named alike) is
# being rebuilt on its own branch (h31orig).
UNIQUE_LANDMARKS = {"admin", "labels", "rules"}


@dataclass
class World:
    item_id: str  # a flagged copy with processed footage, leased to the senior
    senior: Reviewer
    admin: Reviewer


def _item_of(submission_id: str) -> str:
    with session_factory()() as session:
        item = session.scalar(
            select(ReviewItem.id).where(ReviewItem.submission_id == submission_id)
        )
    assert item is not None
    return item


def _disputed_pair() -> list[str]:
    """Two units' tank claims a minute and 70 m apart: one dispute, both still waiting."""
    hit = datetime.now(UTC) - timedelta(hours=2)
    with session_factory()() as session:
        claims = []
        for n in range(2):
            unit_id = make_unit(session)[0]
            s = Submission(unit_id=unit_id, status=SubmissionStatus.in_queue, target_type="tank",
                           outcome="destroyed", occurred_at=hit + timedelta(minutes=n),
                           lat=48.5, lon=35.0 + n * 0.001)  # fmt: skip
            session.add(s)
            session.flush()
            intake.queue_for_review(session, submission=s)
            claims.append(s.id)
        session.commit()
        assert reading.member_of(session, submission_id=claims[0]) is not None
    return claims


@pytest.fixture(scope="module")
def world(browser: Browser, stack: harness.Stack, clips: Path) -> Iterator[World]:
    # Disputes, appeals and stats: two approved claims in a dispute, a rejected claim appealed.
    approve_all(stack, dict.fromkeys(_disputed_pair()))
    with session_factory()() as session:
        appealing_unit = make_unit(session)[0]
    rejected_and_appealed(appealing_unit, make_reviewer(), "The hull burns at 0:03; look again.")
    # The queue and the item: footage paid to one unit, the same footage claimed by another
    # (cross-unit duplicate, already credited), and a clean claim beside it.
    with session_factory()() as session:
        first, second = make_unit(session)[1], make_unit(session)[1]
    original = footage.clip("chelsea", clips / "axe-chelsea.mp4")
    paid = upload_claim(stack, first, original)
    wait_for_status(stack, first, paid, "in_queue")
    approve_all(stack, {paid: None})
    copy = upload_claim(stack, second, footage.messenger_copy(original, clips / "axe-copy.mp4"))
    clean = upload_claim(stack, first, footage.clip("coffee", clips / "axe-coffee.mp4"))
    wait_for_status(stack, second, copy, "in_queue")
    wait_for_status(stack, first, clean, "in_queue")
    senior, admin = Reviewer(browser, stack, Role.senior), Reviewer(browser, stack, Role.admin)
    try:
        page = senior.login()
        page.keyboard.press("n")  # the flagged copy sits at the top of the queue
        page.wait_for_url("**/review/*-*")
        admin.login()
        yield World(item_id=_item_of(copy), senior=senior, admin=admin)
    finally:
        senior.close()
        admin.close()


PAGES = {
    "queue": ("senior", "/review"),
    "item": ("senior", "/review/{item_id}"),
    "disputes": ("senior", "/disputes"),
    "rules": ("admin", "/scoring/rules"),
    "admin": ("admin", "/admin"),
    "labels": ("admin", "/admin/labels"),
    "leaderboard": ("senior", "/leaderboard"),
    "stats": ("senior", "/review/stats"),
    "appeals": ("senior", "/appeals"),
    "calibration": ("senior", "/qa"),
}


@pytest.mark.parametrize("width", list(SIZES))
@pytest.mark.parametrize("name", list(PAGES))
def test_no_serious_or_critical_axe_violation(world: World, name: str, width: int) -> None:
    who, path = PAGES[name]
    person: Reviewer = getattr(world, who)
    page = person.page
    page.set_viewport_size(SIZES[width])
    path = path.format(item_id=world.item_id)
    response = page.goto(path)
    assert response is not None and response.ok, f"{path}: {response and response.status}"
    page.wait_for_load_state("load")
    if name == "item":
        page.wait_for_selector("video", state="attached")  # the footage is on the page
    person.screenshot(f"axe-{name}-{width}")
    found = axe.assert_no_serious_violations(page, f"{name} at {width}px ({path})")
    # axe calls these moderate; issue 31 found them on /admin, /admin/labels and the rules.
    also = [v for v in found if v["id"] in ALSO_BLOCKING and name in UNIQUE_LANDMARKS]
    assert not also, f"{name} at {width}px:\n{axe.describe(also)}"
    report(found, name, width)
    if name == "item":
        # What is folded away is checked too: every <details> open (frame pairs, stills), and
        # the confirmation a duplicate asks for before approval (then Esc: nothing decided).
        page.evaluate("() => document.querySelectorAll('details').forEach((d) => d.open = true)")
        confirm = page.locator("#approve-confirm")
        asks = confirm.count() > 0
        if asks:
            page.keyboard.press("a")
            expect(confirm).to_be_visible()
        person.screenshot(f"axe-item-open-{width}")
        label = f"item at {width}px, details open{', confirmation shown' if asks else ''}"
        report(axe.assert_no_serious_violations(page, label), "item-open", width)
        if asks:
            page.keyboard.press("Escape")
            expect(confirm).to_be_hidden()


def test_the_page_after_a_decision_with_its_undo_offer(world: World) -> None:
    """Last, as it decides the item: approved by keyboard (a, and a again for a duplicate), the
    reviewer lands on the next item or the queue with the undo offer; checked at both sizes."""
    page = world.senior.page
    page.set_viewport_size(SIZES[1366])
    page.goto(f"/review/{world.item_id}")
    page.keyboard.press("a")
    if page.locator("#approve-confirm").count():
        expect(page.locator("#approve-confirm")).to_be_visible()
        page.keyboard.press("a")
    page.wait_for_url(lambda url: world.item_id not in url)
    page.wait_for_load_state("load")
    for width in SIZES:
        page.set_viewport_size(SIZES[width])
        world.senior.screenshot(f"axe-after-decision-{width}")
        found = axe.assert_no_serious_violations(page, f"after a decision at {width}px")
        report(found, "after-decision", width)


def report(found: list[axe.Violation], name: str, width: int) -> None:
    """Minor and moderate findings are printed (pytest -s), not failed."""
    if found:
        print(f"\n{name} at {width}px, minor/moderate:\n{axe.describe(found)}")


def test_the_helper_finds_and_names_a_critical_violation(browser: Browser) -> None:
    """The check can fail: an image without alt text under the pages' own CSP is caught, and
    the message names the rule, its impact and the element."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_content(
            "<!doctype html><html lang=en><head><title>t</title>"
            "<meta http-equiv='Content-Security-Policy' content=\"script-src 'self'\"></head>"
            "<body><main><img id=shot src='data:image/gif;base64,R0lGODlhAQABAAAAACw='>"
            "</main></body></html>"
        )
        with pytest.raises(AssertionError) as failed:
            axe.assert_no_serious_violations(page, "a page with an unlabelled image")
        assert "image-alt [critical]" in str(failed.value)
        assert "#shot" in str(failed.value)
    finally:
        context.close()
