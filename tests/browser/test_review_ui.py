"""Reviewers in Chromium: log in, claim by keyboard, watch the clip, decide."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from mvq.auth.models import Role
from testkit import harness
from testkit.browser import Reviewer
from testkit.claims import upload_claim, wait_for_status
from tests.browser.helpers import queued


@pytest.fixture(scope="module")
def reviewer(browser: Browser, stack: harness.Stack) -> Iterator[Reviewer]:
    person = Reviewer(browser, stack, Role.reviewer)
    person.login()
    yield person
    person.close()


def status_of(stack: harness.Stack, token: str, submission_id: str) -> dict:  # type: ignore[type-arg]
    with stack.client(token) as api:
        return api.get(f"/api/v1/submissions/{submission_id}").json()  # type: ignore[no-any-return]


def claim_by_keyboard(page: Page) -> None:
    page.goto("/review")
    page.keyboard.press("n")
    page.wait_for_url("**/review/*-*")


def test_claim_by_keyboard_watch_the_clip_and_approve(
    stack: harness.Stack, unit_token: str, clips: Path, reviewer: Reviewer
) -> None:
    submission_id = queued(stack, unit_token, clips, "chelsea")
    page = reviewer.page
    page.goto("/review")
    expect(page.locator('[data-state="pending"] b')).to_have_text("1")
    reviewer.screenshot("queue")
    claim_by_keyboard(page)
    media = page.locator("#media")
    expect(media).to_have_class("veiled")
    video = page.locator("video.footage")
    assert video.evaluate("v => v.muted") is True
    assert "blur" in video.evaluate("v => getComputedStyle(v).filter")
    reviewer.screenshot("item-veiled")
    page.keyboard.press("u")  # lift the veil for this item
    expect(media).not_to_have_class("veiled")
    assert video.evaluate("v => v.muted") is False
    video.evaluate("v => v.play()")
    page.wait_for_function(
        "() => document.querySelector('video.footage').currentTime > 0.5", timeout=15000
    )
    reviewer.screenshot("item")
    page.keyboard.press("a")
    page.wait_for_url("**/review?message=*")
    expect(page.locator(".notice")).to_contain_text("Approved")
    body = status_of(stack, unit_token, submission_id)
    assert body["status"] == "approved" and body["points"] == 40


def test_reject_with_a_reason_by_keyboard(
    stack: harness.Stack, unit_token: str, clips: Path, reviewer: Reviewer
) -> None:
    submission_id = queued(stack, unit_token, clips, "coffee")
    page = reviewer.page
    claim_by_keyboard(page)
    page.keyboard.press("r")
    expect(page.locator("#reason")).to_be_focused()
    page.keyboard.press("ArrowDown")  # the first reason: target not visible
    page.keyboard.press("Tab")
    page.keyboard.type("smoke only, no vehicle")
    page.keyboard.press("Enter")
    page.wait_for_url("**/review?message=*")
    body = status_of(stack, unit_token, submission_id)
    assert body["status"] == "rejected"
    assert body["decision"]["reason_code"] == "not_visible"


def test_escalate_reaches_a_senior(
    browser: Browser, stack: harness.Stack, unit_token: str, clips: Path, reviewer: Reviewer
) -> None:
    submission_id = queued(stack, unit_token, clips, "rocket")
    claim_by_keyboard(reviewer.page)
    reviewer.page.keyboard.press("e")
    reviewer.page.wait_for_url("**/review?message=*")
    assert status_of(stack, unit_token, submission_id)["status"] == "escalated"
    reviewer.page.keyboard.press("n")  # nothing left for a plain reviewer
    reviewer.page.wait_for_url("**/review?message=*")
    expect(reviewer.page.locator(".notice")).to_contain_text("empty")
    senior = Reviewer(browser, stack, Role.senior)
    try:
        claim_by_keyboard(senior.login())
        expect(senior.page.locator("#item-state")).to_have_attribute("data-state", "leased")
        senior.page.keyboard.press("a")
        senior.page.wait_for_url("**/review?message=*")
    finally:
        senior.close()
    assert status_of(stack, unit_token, submission_id)["status"] == "approved"


def test_a_high_value_claim_needs_a_second_reviewer(
    browser: Browser, stack: harness.Stack, unit_token: str, clips: Path, reviewer: Reviewer
) -> None:
    submission_id = queued(stack, unit_token, clips, "astronaut", target="mlrs")  # 50 points
    claim_by_keyboard(reviewer.page)
    reviewer.page.keyboard.press("a")
    reviewer.page.wait_for_url("**/review?message=*")
    body = status_of(stack, unit_token, submission_id)
    assert body["status"] == "in_queue" and not body.get("points")
    reviewer.page.keyboard.press("n")  # the first approver does not get it back
    reviewer.page.wait_for_url("**/review?message=*")
    expect(reviewer.page.locator(".notice")).to_contain_text("empty")
    second = Reviewer(browser, stack, Role.reviewer)
    try:
        claim_by_keyboard(second.login())
        expect(second.page.locator("#four-eyes")).to_be_visible()
        second.page.keyboard.press("a")
        second.page.wait_for_url("**/review?message=*")
    finally:
        second.close()
    body = status_of(stack, unit_token, submission_id)
    assert body["status"] == "approved" and body["points"] == 50


def test_forged_forms_are_refused(
    stack: harness.Stack, unit_token: str, clips: Path, reviewer: Reviewer
) -> None:
    submission_id = queued(stack, unit_token, clips, "motorcycle_left")
    page = reviewer.page
    # Same origin, wrong token: the server refuses the form.
    page.goto("/review")
    page.locator('#claim-form input[name="csrf_token"]').evaluate("i => i.value = 'forged'")
    page.locator("#claim").click()
    expect(page.locator("h1")).to_contain_text("403")
    # Another site's auto-submitting form: the session is not carried and nothing is claimed.
    page.goto("about:blank")
    page.set_content(
        f'<form method="post" action="{stack.url}/review/claim" id="f"></form>'
        "<script>document.getElementById('f').submit()</script>"
    )
    page.wait_for_url("**/login*")
    assert status_of(stack, unit_token, submission_id)["status"] == "in_queue"


def test_a_duplicate_shows_matched_frames_side_by_side(
    stack: harness.Stack, unit_token: str, clips: Path, reviewer: Reviewer
) -> None:
    from mvq.db import session_factory
    from testkit.people import make_unit

    first = queued(stack, unit_token, clips, "camera")
    with session_factory()() as session:
        other_token = make_unit(session)[1]
    copy = upload_claim(stack, other_token, clips / "camera.mp4")  # the same footage again
    wait_for_status(stack, other_token, copy, "in_queue")
    page = reviewer.page
    page.goto("/review?flag=cross_unit_duplicate")
    rows = page.locator("table.queue tbody tr[data-item]")
    expect(rows).to_have_count(1)
    rows.locator("a").click()
    # One row per matching claim; its frame pairs open on demand.
    page.locator("#matches .match-row details.pairs summary").first.click()
    pair = page.locator("#matches .pair").first
    expect(pair).to_be_visible()
    assert pair.locator("img").count() == 2
    page.wait_for_function(
        "() => [...document.querySelectorAll('.pair img')]"
        ".every(i => i.complete && i.naturalWidth > 0)"
    )
    expect(pair.locator(".distance")).to_contain_text("distance 0 of 31")
    reviewer.screenshot("item-duplicate")
    page.locator("#matches a.other-item").first.click()
    expect(page.locator("#item")).to_have_attribute("data-submission-id", first)
