"""A golden copy in Chromium, in Ukrainian: a reviewer takes the next item from the queue, is
served a golden copy of a claim decided 40 days ago, and reads it as a fresh claim (the hit
time hours old, the file's clock beside it) and writes a note, which its thread shows. The
senior finds that note on the real claim's page, marked as written on a QA copy. Screenshots
at laptop and phone sizes go to the artifacts directory."""

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import update

from mvq.auth.models import Role
from mvq.db import session_factory, utcnow
from mvq.review.qa import golden
from mvq.submissions.models import Submission
from testkit import harness
from testkit.browser import Reviewer
from testkit.people import make_unit
from tests.browser import axe
from tests.browser.helpers import LAPTOP, PHONE, item_of, no_sideways_scroll, queued
from tests.contested import decide
from tests.helpers import queued_item, reviewer


@pytest.fixture(scope="module")
def golden_stack(backing: harness.Backing, database: str) -> Iterator[harness.Stack]:
    """Every claim golden while one waits (the rate's own test is in tests/integration)."""
    stack = harness.start_stack(backing, database, extra_env={"MVQ_GOLDEN_RATE": "1"})
    try:
        yield stack
    finally:
        stack.group.stop()


def test_a_golden_copy_reads_as_fresh_and_takes_a_note(
    browser: Browser, golden_stack: harness.Stack, unit_token: str, clips: Path
) -> None:
    original = queued(golden_stack, unit_token, clips, "chelsea")
    with session_factory()() as session:
        decide(session, reviewer(), original, "reject")
        golden.mark(session, senior=reviewer(Role.senior), submission_id=original,
                    decision="reject", reason_code="not_visible", now=utcnow())  # fmt: skip
        # An old claim, as golden items are: hit 40 days ago, sent two hours later.
        hit = utcnow() - timedelta(days=40)
        session.execute(update(Submission).where(Submission.id == original)
                        .values(occurred_at=hit, created_at=hit + timedelta(hours=2)))  # fmt: skip
        # Golden copies come among live claims, so one waits.
        queued_item(session, make_unit(session)[0])
        session.commit()
    writer = Reviewer(browser, golden_stack, Role.reviewer)
    senior = Reviewer(browser, golden_stack, Role.senior)
    try:
        page = writer.login()
        page.set_viewport_size(LAPTOP)
        page.goto("/review?lang=uk")
        page.locator("#claim-form button").first.click()
        expect(page).to_have_url(re.compile(r"/review/[0-9a-f-]{36}"))
        copy_url = page.url.split("?")[0]
        assert item_of(original) not in copy_url  # a fresh id, never the claim's item
        occurred = page.locator(".claim-line time").first.get_attribute("datetime") or ""
        shown = datetime.fromisoformat(occurred.replace("Z", "+00:00"))
        assert datetime.now(UTC) - shown < timedelta(hours=3), occurred
        page.locator("#notes summary").click()
        page.fill("#note-body", "Чи видно башту на 0:02?")
        page.locator("#note-form button").click()
        expect(page.locator(".item-head #notes .note-entry")).to_have_count(1)
        expect(page.locator(".item-head #notes .note-body")).to_contain_text(
            "Чи видно башту на 0:02?"
        )
        expect(page.locator(".item-head #notes")).not_to_contain_text("контрольній копії")
        for size, name in ((LAPTOP, "1366"), (PHONE, "390")):
            page.set_viewport_size(size)
            page.goto(f"{copy_url}?lang=uk")
            expect(page.locator(".item-head #notes .note-entry")).to_have_count(1)
            writer.screenshot(f"golden-copy-with-note-{name}")
            axe.assert_no_serious_violations(page, f"a golden copy with a note at {name}")
            assert no_sideways_scroll(page), name

        page = senior.login()
        for size, name in ((LAPTOP, "1366"), (PHONE, "390")):
            page.set_viewport_size(size)
            page.goto(f"/review/{item_of(original)}?lang=uk")
            entry = page.locator(".note-entry", has_text="Чи видно башту на 0:02?")
            expect(entry).to_contain_text("написано на контрольній копії")
            senior.screenshot(f"golden-original-note-senior-{name}")
            assert no_sideways_scroll(page), name
    finally:
        writer.close()
        senior.close()
