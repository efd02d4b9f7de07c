"""Admins and seniors in Chromium: the rules with their diff, a preview of a draft over real
approvals, the leaderboard chart, and a dispute split by a senior."""

import re
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from mvq.auth.models import Role
from mvq.db import session_factory
from mvq.flows import intake
from mvq.rules.service import DEMO_RULES
from mvq.scoring.disputes import reading
from mvq.scoring.models import LedgerEntry
from mvq.submissions.models import Submission, SubmissionStatus
from mvq.units.models import Unit
from testkit import harness
from testkit.browser import ARTIFACTS, Reviewer
from testkit.people import make_unit
from tests.browser.helpers import approve_all


@pytest.fixture(scope="module")
def admin(browser: Browser, stack: harness.Stack) -> Iterator[Reviewer]:
    person = Reviewer(browser, stack, Role.admin)
    person.login()
    yield person
    person.close()


def test_rules_show_demo_data_and_a_diff(admin: Reviewer) -> None:
    page = admin.page
    page.goto("/scoring/rules")
    expect(page.locator(".demo")).to_contain_text("Demo data")
    # The editor starts from the version in force, one rule a line as the parser reads it.
    expect(page.locator('#rules-form textarea[name="rules"]')).to_have_value(
        "".join(f"{t} {o} {p}\n" for t, o, p in sorted(DEMO_RULES))
    )
    page.fill('#rules-form input[name="effective_from"]', "2032-06-01T00:00")
    draft = "tank destroyed 40\ntank damaged 20\nmlrs destroyed 70\ninfantry destroyed 12"
    page.fill('#rules-form textarea[name="rules"]', draft)
    page.click("#save-version")
    # Five rules would disappear: nothing is saved until the admin says these may go.
    expect(page.locator("#removal-warning")).to_contain_text("removes 5 rules")
    expect(page.locator("#draft-diff tr.removed")).to_have_count(5)
    expect(page.locator("#draft-diff tr.changed", has_text="mlrs")).to_contain_text("50 → 70")
    expect(page.locator('#rules-form textarea[name="rules"]')).to_have_value(draft)
    admin.screenshot("rules-confirm-removal")
    page.check('input[name="confirm_removal"]')
    page.click("#save-version")
    expect(page.locator(".notice").first).to_contain_text("Version saved")
    newest = page.locator("section.version").first
    expect(newest.locator("tr.changed", has_text="mlrs")).to_contain_text("50 → 70")
    expect(newest.locator("tr.changed", has_text="infantry")).to_contain_text("6 → 12")
    expect(newest.locator("tr.removed", has_text="apc")).to_have_count(2)
    admin.screenshot("rules")


def test_a_scheduled_version_is_withdrawn_and_a_bad_preview_line_keeps_the_draft(
    admin: Reviewer,
) -> None:
    page = admin.page
    page.goto("/scoring/rules")
    page.fill('#rules-form input[name="effective_from"]', "2033-01-01T00:00")
    page.fill('#rules-form textarea[name="rules"]', "tank destroyed 41\n" + "".join(
        f"{t} {o} {p}\n" for t, o, p in DEMO_RULES if (t, o) != ("tank", "destroyed")
    ))  # fmt: skip
    page.click("#save-version")  # nothing removed against 2032's: saved straight away
    expect(page.locator(".notice").first).to_contain_text("Version saved")
    scheduled = page.locator("section.version", has_text="From Jan 1, 2033")
    expect(scheduled).to_contain_text("scheduled")
    scheduled.locator("form.withdraw button").click()
    expect(page.locator(".notice").first).to_contain_text("will not take effect")
    withdrawn = page.locator("section.version.withdrawn", has_text="From Jan 1, 2033")
    expect(withdrawn).to_contain_text("never in force")
    expect(withdrawn.locator("form.withdraw")).to_have_count(0)

    draft = "tank destroyed 33\ntank destryed 11\n"
    page.fill('#preview-form input[name="since"]', "2026-01-01")
    page.fill('#preview-form input[name="until"]', "2026-01-31")
    page.fill('#preview-form textarea[name="rules"]', draft)
    page.click("#preview-form button")
    expect(page.locator("#preview-error")).to_contain_text("Line 2 (tank destryed 11)")
    expect(page.locator('#preview-form textarea[name="rules"]')).to_have_value(draft)
    expect(page.locator('#preview-form input[name="since"]')).to_have_value("2026-01-01")
    admin.screenshot("rules-preview-error")


def test_a_preview_shows_what_a_draft_would_have_awarded_for_real_approvals(
    stack: harness.Stack, admin: Reviewer
) -> None:
    demo = {(t, o): p for t, o, p in DEMO_RULES}
    draft = {("tank", "destroyed"): 33, ("tank", "damaged"): 11, ("infantry", "destroyed"): 9}
    # (claimed target, claimed outcome, the outcome the reviewer approves): the tank is
    # corrected to damaged, and no draft line prices a damaged apc.
    plan = {
        "first": [("tank", "destroyed", "damaged"), ("infantry", "destroyed", None)],
        "second": [("apc", "damaged", None)],
    }
    with session_factory()() as session:
        units = {label: make_unit(session)[0] for label in plan}
        names = {label: session.get_one(Unit, unit_id).name for label, unit_id in units.items()}
        claims: dict[str, tuple[str, str, str]] = {}
        corrections: dict[str, str | None] = {}
        for label, rows in plan.items():
            for target, outcome, approved_as in rows:
                s = Submission(unit_id=units[label], status=SubmissionStatus.in_queue,
                               target_type=target, outcome=outcome,
                               occurred_at=datetime.now(UTC) - timedelta(hours=1))  # fmt: skip
                session.add(s)
                session.flush()
                intake.queue_for_review(session, submission=s)
                claims[s.id] = (label, target, approved_as or outcome)
                corrections[s.id] = approved_as
        session.commit()
    awarded = approve_all(stack, corrections)
    expected: dict[str, list[int]] = {label: [0, 0, 0] for label in plan}  # claims, before, after
    for submission_id, (label, target, outcome) in claims.items():
        # Each claim was priced by the demo table for what was approved, not what was claimed.
        assert awarded[submission_id] == demo[(target, outcome)], (target, outcome)
        expected[label][0] += 1
        expected[label][1] += demo[(target, outcome)]
        expected[label][2] += draft.get((target, outcome), 0)
    assert expected == {"first": [2, 26, 20], "second": [1, 10, 0]}  # the sums, spelled out

    page = admin.page
    page.goto("/scoring/rules")
    today = datetime.now(UTC).date()
    page.fill('#preview-form input[name="since"]', str(today - timedelta(days=1)))
    page.fill('#preview-form input[name="until"]', str(today + timedelta(days=1)))
    page.fill('#preview-form textarea[name="rules"]',
              "\n".join(f"{t} {o} {p}" for (t, o), p in draft.items()))  # fmt: skip
    page.click("#preview-form button")
    expect(page.locator("table.preview")).to_be_visible()
    for label, (count, before, after) in expected.items():
        row = page.locator(f'table.preview tr[data-unit="{names[label]}"] td')
        expect(row).to_have_text([names[label], str(count), str(before), str(after),
                                  f"{after - before:+d}"])  # fmt: skip
    admin.screenshot("rules-preview")
    # The draft and its period stay on the figures' page, ready to change and preview again.
    expect(page.locator('#preview-form textarea[name="rules"]')).to_have_value(
        "\n".join(f"{t} {o} {p}" for (t, o), p in draft.items())
    )
    expect(page.locator('#preview-form input[name="since"]')).to_have_value(
        str(today - timedelta(days=1))
    )
    # A preview writes nothing: the ledger still holds exactly the awards made above.
    with session_factory()() as session:
        entries = session.execute(
            select(LedgerEntry.submission_id, LedgerEntry.points).where(
                LedgerEntry.submission_id.in_(claims)
            )
        ).all()
    assert sorted(entries) == sorted(awarded.items())


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
        assert reading.member_of(session, submission_id=claims[0]) is not None
    try:
        page = reviewer_one.login()
        for _ in claims:
            page.goto("/review")
            page.keyboard.press("n")
            page.wait_for_url("**/review/*-*")
            page.keyboard.press("a")
            # Back on the queue, or straight on to the next item: both say what was done.
            page.wait_for_url(re.compile(r"/review(/[0-9a-f-]+)?\?message="))
        spage = senior.login()
        spage.set_viewport_size({"width": 1366, "height": 768})
        spage.goto("/disputes")
        dispute = spage.locator(f'section.dispute:has([data-member="{claims[0]}"])')
        expect(dispute.locator("[data-worth]")).to_have_text("40 points")
        expect(dispute.locator("[data-left]")).to_have_text("40")
        # Each claim in words: how far apart the two claims are, with a link to open it.
        expect(dispute.locator(f'[data-member="{claims[0]}"] .signals')).to_contain_text(
            "m and 1 min apart"
        )
        expect(dispute.locator(f'[data-member="{claims[0]}"] a')).to_have_attribute(
            "href", re.compile(r"/review/[0-9a-f-]+$")
        )
        # Over the worth: refused with the arithmetic, and what was typed is still there.
        dispute.locator(f'input[name="share:{claims[0]}"]').fill("30")
        dispute.locator(f'input[name="share:{claims[1]}"]').fill("15")
        dispute.locator('input[name="note"]').fill("both fired")
        dispute.locator(".settle-button").click()
        dispute = spage.locator(f'section.dispute:has([data-member="{claims[0]}"])')
        expect(dispute.locator(".error")).to_contain_text("these shares add 45: 0 + 45 = 45 > 40")
        expect(dispute.locator(f'input[name="share:{claims[0]}"]')).to_have_value("30")
        expect(dispute.locator('input[name="note"]')).to_have_value("both fired")
        senior.screenshot("disputes-refused")
        spage.set_viewport_size({"width": 390, "height": 844})
        senior.screenshot("disputes-phone")
        spage.set_viewport_size({"width": 1366, "height": 768})
        dispute.locator(f'input[name="share:{claims[0]}"]').fill("25")
        dispute.locator(".settle-button").click()
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


WIDE_PAGES = ("rules", "preview", "leaderboard", "stats", "audit", "disputes", "login", "error")


@pytest.mark.parametrize("width,height", [(390, 844), (1366, 768)], ids=["phone", "laptop"])
def test_no_page_scrolls_sideways(
    browser: Browser, stack: harness.Stack, width: int, height: int
) -> None:
    """Each page at a phone's and a laptop's width: the page itself never scrolls sideways
    (a wide table may scroll inside its own box), and "Log out" is on screen."""
    admin = Reviewer(browser, stack, Role.admin)
    auditor = Reviewer(browser, stack, Role.auditor)
    anonymous = browser.new_context(base_url=stack.url, locale="en-US")
    try:
        admin.login()
        auditor.login()
        today = datetime.now(UTC).date()
        visits: dict[str, tuple[Reviewer | None, Callable[[Page], object]]] = {
            "rules": (admin, lambda p: p.goto("/scoring/rules")),
            "preview": (admin, lambda p: preview_a_draft(p, today)),
            "leaderboard": (admin, lambda p: p.goto("/leaderboard?period=365d")),
            "stats": (admin, lambda p: p.goto("/review/stats?hours=720")),
            "audit": (auditor, lambda p: p.goto("/audit")),
            "disputes": (admin, lambda p: p.goto("/disputes")),
            "login": (None, lambda p: p.goto("/login")),
            "error": (None, lambda p: p.goto("/no-such-page")),
        }
        assert set(visits) == set(WIDE_PAGES)
        wide = {}
        for name, (who, visit) in visits.items():
            page = who.page if who else anonymous.new_page()
            page.set_viewport_size({"width": width, "height": height})
            visit(page)
            page.wait_for_load_state("load")
            scroll_width = page.evaluate("document.documentElement.scrollWidth")
            if scroll_width > width:
                wide[name] = scroll_width
            if who is not None:
                logout = page.locator('header.top button[type="submit"]')
                box = logout.bounding_box()
                assert box is not None and box["x"] + box["width"] <= width, (name, box)
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=True)
        assert wide == {}, f"pages wider than {width} px: {wide}"
    finally:
        admin.close()
        auditor.close()
        anonymous.close()


def preview_a_draft(page: Page, today: date) -> None:
    page.goto("/scoring/rules")
    page.fill('#preview-form input[name="since"]', str(today - timedelta(days=30)))
    page.fill('#preview-form input[name="until"]', str(today + timedelta(days=1)))
    page.fill('#preview-form textarea[name="rules"]', "tank destroyed 33\ninfantry destroyed 9")
    page.click("#preview-form button")
    expect(page.locator("table.preview")).to_be_visible()
