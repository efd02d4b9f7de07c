"""In Chromium, with the warnings on: a verdict too fast for the footage asks for the second key
with its reason, and the second key decides; a blind second approval whose queue row and
page say nothing of the first verdict; the written policy's page and its admin editor.
Screenshots in Ukrainian at 1366x768 and 390x844."""

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from mvq.auth.models import Role
from mvq.db import session_factory
from mvq.review.models import ReviewWarning
from testkit import harness
from testkit.browser import Reviewer
from tests.browser.helpers import LAPTOP, PHONE, item_of, no_sideways_scroll, queued

ON = {"MVQ_FAST_DECISION_WARNINGS": "true"}


@pytest.fixture(scope="module")
def stack(backing: harness.Backing, database: str) -> Iterator[harness.Stack]:
    stack = harness.start_stack(backing, database, extra_env=ON)
    try:
        yield stack
    finally:
        stack.group.stop()


def events_of(item_id: str) -> list[str]:
    with session_factory()() as session:
        return list(session.scalars(select(ReviewWarning.event)
                                    .where(ReviewWarning.review_item_id == item_id)
                                    .order_by(ReviewWarning.created_at)))  # fmt: skip


def in_ukrainian(person: Reviewer, path: str, name: str) -> None:
    """The page in Ukrainian at both sizes, as `name`-1366 and `name`-390."""
    page = person.page
    for size, suffix in ((LAPTOP, "1366"), (PHONE, "390")):
        page.set_viewport_size(size)
        page.goto(path + ("&" if "?" in path else "?") + "lang=uk")
        assert no_sideways_scroll(page), (name, suffix)
        person.screenshot(f"{name}-{suffix}")
    page.goto(path + ("&" if "?" in path else "?") + "lang=en")
    page.set_viewport_size(LAPTOP)


def claim_by_keyboard(page: Page, submission_id: str) -> None:
    page.goto("/review")
    page.keyboard.press("n")
    page.wait_for_url(f"**/review/{item_of(submission_id)}")


def claim_here(page: Page, item_id: str) -> None:
    page.goto(f"/review/{item_id}")
    page.keyboard.press("c")
    expect(page.locator("#decide")).to_be_visible()


def test_a_too_fast_approval_asks_for_the_second_key(
    browser: Browser, stack: harness.Stack, unit_token: str, clips: Path
) -> None:
    submission_id = queued(stack, unit_token, clips, "chelsea")
    person = Reviewer(browser, stack, Role.reviewer)
    try:
        page = person.login()
        claim_by_keyboard(page, submission_id)
        item_id = item_of(submission_id)
        page.keyboard.press("a")  # at once: the footage unseen, the 5 s floor not passed
        box = page.locator("#pace-warning")
        expect(box).to_be_visible()
        expect(box).to_contain_text("not been shown")
        expect(box).to_contain_text("under its floor of 5 s")
        expect(page.locator("#pace-confirm")).to_be_focused()
        assert page.url.endswith(f"/review/{item_id}")  # nothing was sent
        harness.wait_until(lambda: events_of(item_id) == ["shown"], what="the warning on record")
        page.keyboard.press("Escape")
        expect(box).to_be_hidden()
        page.keyboard.press("a")  # asked again, still too soon
        expect(box).to_be_visible()
        page.keyboard.press("a")  # the second key decides
        page.wait_for_url("**/review?message=*")
        expect(page.locator(".notice")).to_contain_text("Approved")
        assert events_of(item_id) == ["shown", "overridden"]

        # The same warning in Ukrainian, on another claim, at both sizes.
        other = queued(stack, unit_token, clips, "coffee")
        page.goto("/review?lang=uk")
        page.keyboard.press("n")
        page.wait_for_url(f"**/review/{item_of(other)}")
        for size, suffix in ((LAPTOP, "1366"), (PHONE, "390")):
            page.set_viewport_size(size)
            page.keyboard.press("a")
            expect(box).to_be_visible()
            expect(box).to_contain_text("Надто швидко")
            box.scroll_into_view_if_needed()
            person.screenshot("too-fast-warning-" + suffix)
            page.keyboard.press("Escape")
        page.goto("/review?lang=en")
    finally:
        person.close()


def test_a_blind_second_approval_shows_nothing_of_the_first_verdict(
    browser: Browser, stack: harness.Stack, unit_token: str, clips: Path
) -> None:
    first_look = queued(stack, unit_token, clips, "rocket", target="mlrs")  # 50 points
    second_look = queued(stack, unit_token, clips, "astronaut", target="mlrs")
    first = Reviewer(browser, stack, Role.reviewer)
    try:
        # The first approval of `second_look`, by another reviewer, the second key included.
        page = first.login()
        # Back to the queue after the decision: the first look must stay unclaimed.
        first.context.add_cookies([{"name": "mvq_auto_next", "value": "0", "url": stack.url}])
        claim_here(page, item_of(second_look))
        page.keyboard.press("a")
        expect(page.locator("#pace-warning")).to_be_visible()
        page.keyboard.press("a")
        page.wait_for_url("**/review?message=*")
        expect(page.locator(".notice")).to_contain_text("second reviewer approves")
    finally:
        first.close()

    second = Reviewer(browser, stack, Role.reviewer)
    try:
        page = second.login()
        page.goto("/review")
        rows = {}
        for sid in (first_look, second_look):
            row = page.locator(f'tr[data-item="{item_of(sid)}"]')
            expect(row).to_be_visible()
            # The ids, and the wait: it counts from the upload, not from any decision.
            text = re.sub(r"#\w{8}", "#ID", row.inner_text())
            rows[sid] = re.sub(r"\t\d+ (sec|min)\t", "\tAGE\t", text)
        assert rows[first_look] == rows[second_look], rows
        expect(page.locator("table.queue")).not_to_contain_text("second approval")
        expect(page.locator('[data-state="awaiting_second"]')).to_have_count(0)
        pages = {}
        for sid in (first_look, second_look):
            page.goto(f"/review/{item_of(sid)}")
            expect(page.locator("#four-eyes")).to_contain_text("two different reviewers")
            expect(page.locator("section.history li")).to_have_text(["None yet."])
            pages[sid] = page.locator("#item-side").inner_text()
        assert pages[first_look] == pages[second_look]
        in_ukrainian(second, "/review", "queue-blind")
        # The second approval itself: look at the footage, then approve; it scores.
        claim_here(page, item_of(second_look))
        page.keyboard.press("u")
        page.wait_for_timeout(5500)  # past the floor, the footage shown: no warning at all
        page.keyboard.press("a")
        page.wait_for_url("**message=*")  # on to the next item, or the queue
        expect(page.locator(".notice").first).to_contain_text("50 points awarded")
    finally:
        second.close()


def test_the_written_policy_and_its_editor(browser: Browser, stack: harness.Stack) -> None:
    admin = Reviewer(browser, stack, Role.admin)
    try:
        page = admin.login()
        page.goto("/admin/policies")
        form = page.locator("#edit-not_visible form")
        form.locator('textarea[name="text_uk"]').fill(
            "Ціль не видно: на жодному кадрі ціль не можна впізнати настільки, щоб назвати її "
            "тип.\nЯкщо ціль видно лише на одному розмитому кадрі, оберіть цю причину."  # noqa: RUF001
        )
        form.locator('textarea[name="text_en"]').fill(
            "Target not visible: no frame shows the target well enough to name its type.\n"
            "If the target shows only on one blurred frame, choose this reason."
        )
        form.get_by_role("button").click()
        page.wait_for_url("**/admin/policies?done=policy_saved")
        expect(page.locator(".notice")).to_contain_text("new version")
        in_ukrainian(admin, "/admin/policies", "admin-policy-editor")
        in_ukrainian(admin, "/policies/not_visible", "policy-page")
        expect(page.locator("#policy-version")).to_contain_text("Version 1")
        expect(page.locator("#policy-history")).to_be_visible()
    finally:
        admin.close()
