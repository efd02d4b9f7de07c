"""Admins and seniors in Chromium: the rules with their diff and a preview, the leaderboard
chart, and a dispute split by a senior."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Browser, expect

from mvq.auth.models import Role
from mvq.db import session_factory
from mvq.flows import intake
from mvq.scoring import disputes
from mvq.submissions.models import Submission, SubmissionStatus
from mvq.units.models import Unit
from tests import harness
from tests.browser.conftest import Reviewer
from tests.integration.conftest import make_unit


@pytest.fixture(scope="module")
def admin(browser: Browser, stack: harness.Stack) -> Iterator[Reviewer]:
    person = Reviewer(browser, stack, Role.admin)
    person.login()
    yield person
    person.close()


def test_rules_show_demo_data_a_diff_and_a_preview(admin: Reviewer) -> None:
    page = admin.page
    page.goto("/scoring/rules")
    expect(page.locator(".demo")).to_contain_text("Demo data")
    page.fill('#rules-form input[name="effective_from"]', "2032-06-01T00:00")
    draft = "tank destroyed 40\ntank damaged 20\nmlrs destroyed 70\ninfantry destroyed 12"
    page.fill('#rules-form textarea[name="rules"]', draft)
    page.click("#rules-form button")
    expect(page.locator(".notice").first).to_contain_text("Version saved")
    newest = page.locator("section.version").first
    expect(newest.locator("tr.changed", has_text="mlrs")).to_contain_text("50 → 70")
    expect(newest.locator("tr.changed", has_text="infantry")).to_contain_text("6 → 12")
    expect(newest.locator("tr.removed", has_text="apc")).to_have_count(2)
    admin.screenshot("rules")


def test_a_senior_splits_a_disputed_hit_and_the_leaderboard_draws_it(
    browser: Browser, stack: harness.Stack, admin: Reviewer
) -> None:
    hit = datetime.now(UTC) - timedelta(hours=2)
    reviewer_one = Reviewer(browser, stack, Role.reviewer)
    senior = Reviewer(browser, stack, Role.senior)
    with session_factory()() as session:
        units = [make_unit(session)[0] for _ in range(2)]
        claims = []
        for n, unit_id in enumerate(units):
            s = Submission(unit_id=unit_id, status=SubmissionStatus.in_queue, target_type="tank",
                           outcome="destroyed", occurred_at=hit + timedelta(minutes=n),
                           lat=48.5, lon=35.0 + n * 0.001)  # fmt: skip
            session.add(s)
            session.flush()
            intake.queue_for_review(session, submission=s)
            claims.append(s.id)
        session.commit()
        assert disputes.member_of(session, submission_id=claims[0]) is not None
    try:
        page = reviewer_one.login()
        for _ in claims:
            page.goto("/review")
            page.keyboard.press("n")
            page.wait_for_url("**/review/*-*")
            page.keyboard.press("a")
            page.wait_for_url("**/review?message=*")
        spage = senior.login()
        spage.goto("/disputes")
        dispute = spage.locator("section.dispute").first
        dispute.locator(f'input[name="share:{claims[0]}"]').fill("25")
        dispute.locator(f'input[name="share:{claims[1]}"]').fill("15")
        dispute.locator("button").click()
        expect(spage.locator(".notice").first).to_contain_text("settled")
    finally:
        reviewer_one.close()
        senior.close()
    with session_factory()() as session:
        names = [session.get_one(Unit, unit_id).name for unit_id in units]
    page = admin.page
    page.goto("/leaderboard?period=7d")
    for name, points in zip(names, ("25", "15"), strict=True):
        expect(page.locator(f'tr[data-unit="{name}"] .points')).to_have_text(points)
    expect(page.locator("svg#chart polyline")).not_to_have_count(0)
    admin.screenshot("leaderboard")
