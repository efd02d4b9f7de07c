"""The item page as a reviewer works it all day, in Chromium at laptop and phone sizes: the
decision panel beside the evidence, flags in words with their thresholds, matches one row per
claim, frame step, slow motion, zoom, duplicates side by side, capture times that can't be
true, positions in MGRS, blind four-eyes. Screenshots go to artifacts/."""

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select, update

from mvq.auth.models import Role, StaffUser
from mvq.db import session_factory, utcnow
from mvq.flows import decisions, intake
from mvq.media.models import Media, MediaStatus
from mvq.review import leases
from mvq.review.models import ReviewItem
from mvq.submissions.models import Flag, Submission, SubmissionStatus
from testkit import footage, harness
from testkit.browser import ARTIFACTS, Reviewer
from testkit.claims import upload_claim, wait_for_status
from testkit.people import make_unit
from tests.browser.helpers import LAPTOP, PHONE, item_of, no_sideways_scroll
from tests.helpers import reviewer as staff_member


@pytest.fixture
def person(browser: Browser, stack: harness.Stack) -> Iterator[Reviewer]:
    """A reviewer of their own per test: a lease left by one test never decides the next."""
    someone = Reviewer(browser, stack, Role.reviewer)
    someone.login()
    yield someone
    someone.close()


def first_in_queue(submission_id: str) -> None:
    with session_factory()() as session:
        session.execute(
            update(ReviewItem)
            .where(ReviewItem.submission_id == submission_id)
            .values(priority=10**9)
        )
        session.commit()


def claim_by_keyboard(page: Page, submission_id: str) -> None:
    first_in_queue(submission_id)
    page.goto("/review")
    page.keyboard.press("n")
    page.wait_for_url("**/review/*-*")
    expect(page.locator("#item")).to_have_attribute("data-submission-id", submission_id)


def in_view(page: Page, selector: str) -> bool:
    box = page.locator(selector).first.bounding_box()
    height = page.viewport_size["height"] if page.viewport_size else 0
    return box is not None and box["y"] >= 0 and box["y"] + min(box["height"], 40) <= height


def test_a_copy_by_another_unit_judged_on_one_screen(
    stack: harness.Stack, unit_token: str, clips: Path, person: Reviewer
) -> None:
    original = footage.drone_clip("astronaut", clips / "item-strike.mp4")
    first = upload_claim(stack, unit_token, original, lat=48.5, lon=35.1)
    wait_for_status(stack, unit_token, first, "in_queue")
    with session_factory()() as session:
        other_token = make_unit(session)[1]
    # Re-encoded and cut 1.37 s in, as a copier would: a near and cross-unit duplicate.
    copy = footage.reused(original, clips / "item-copy.mp4", start=1.37)
    second = upload_claim(stack, other_token, copy, lat=48.52, lon=35.1)
    wait_for_status(stack, other_token, second, "in_queue")

    page = person.page
    page.set_viewport_size(LAPTOP)
    claim_by_keyboard(page, second)

    # One screen: the clip starts above the fold and the decision panel is in view, also
    # after scrolling down through the evidence.
    video = page.locator("video.footage")
    page.wait_for_function("() => document.querySelector('video.footage').readyState >= 1")
    box = video.bounding_box()
    assert box is not None and box["y"] + box["height"] <= LAPTOP["height"], box
    assert in_view(page, "#approve")
    page.evaluate("() => window.scrollTo(0, document.body.scrollHeight)")
    assert in_view(page, "#approve")
    page.evaluate("() => window.scrollTo(0, 0)")

    # Flags in words: which claim, by whom, where it stands, how alike against the threshold.
    cross = page.locator('.flag-detail[data-flag="cross_unit_duplicate"]')
    expect(cross).to_contain_text(f"same footage as claim #{first[:8]}")
    expect(cross).to_contain_text("waiting for review")
    expect(cross).to_contain_text("of 31 allowed")
    # The same claim under near_duplicate and cross_unit_duplicate: one row.
    rows = page.locator("#matches .match-row")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(f"#{first[:8]}")
    expect(rows.first).to_contain_text("tank destroyed")
    assert not rows.first.locator(".pair").first.is_visible()  # pairs open on demand
    rows.first.locator("details.pairs:not(.outlines) summary").click()
    pair = rows.first.locator(".pair").first
    expect(pair).to_be_visible()
    expect(pair.locator("figcaption").first).to_contain_text("this ·")
    expect(pair.locator("figcaption").nth(1)).to_contain_text(f"#{first[:8]} ·")
    expect(pair.locator(".distance")).to_contain_text("of 31")

    # Times in the reader's zone, UTC on hover.
    claimed = page.locator(".claim-line time")
    expect(claimed).to_have_attribute("title", re.compile(r"UTC$"))

    page.keyboard.press("u")
    expect(page.locator("#media")).not_to_have_class("veiled")
    page.wait_for_function("() => document.querySelector('video.footage').readyState >= 1")

    # Frame step: one frame at the file's fps, pausing a playing clip first.
    fps = float(video.get_attribute("data-fps") or 25)
    video.evaluate("v => { v.currentTime = 1.0; return v.play(); }")
    page.keyboard.press(".")
    assert video.evaluate("v => v.paused") is True

    def settled() -> float:
        page.wait_for_function("() => !document.querySelector('video.footage').seeking")
        return float(video.evaluate("v => v.currentTime"))

    before = settled()
    page.keyboard.press(".")
    after = settled()
    assert abs(after - before - 1 / fps) < 0.3 / fps, (before, after)
    page.keyboard.press(",")
    assert abs(settled() - before) < 0.3 / fps

    # Slow motion toggles 0.25x and back.
    page.keyboard.press("s")
    assert video.evaluate("v => v.playbackRate") == 0.25
    expect(page.locator(".tools .speed")).to_have_text("0.25\N{MULTIPLICATION SIGN}")
    page.keyboard.press("s")
    assert video.evaluate("v => v.playbackRate") == 1

    # The still nearest the playhead is marked as the clip moves.
    video.evaluate("v => { v.currentTime = 3.0; }")
    marked = page.locator(".strip figure.current")
    expect(marked).to_have_count(1)
    page.wait_for_function(
        "() => Math.abs(Number(document.querySelector('.strip figure.current').dataset.t) - 3)"
        " <= 0.6"
    )

    # Zoom on a still; Escape closes it.
    page.locator(".strip button.zoom").nth(1).click()
    zoom = page.locator("dialog#zoom")
    expect(zoom).to_be_visible()
    page.wait_for_function("() => document.querySelector('dialog#zoom img').naturalWidth > 0")
    page.keyboard.press("Escape")
    expect(zoom).to_be_hidden()

    page.evaluate("() => window.scrollTo(0, 0)")
    page.screenshot(path=str(ARTIFACTS / "item-1366.png"))  # the first screen, as seen
    person.screenshot("item-1366-full")

    # Side by side: the other claim's clip held at this one's time plus the matched offset.
    rows.first.locator("button.sync-play").click()
    sync = page.locator("dialog#sync")
    expect(sync).to_be_visible()
    page.wait_for_function(
        "() => document.getElementById('sync-this').currentTime > 0.5"
        " && document.getElementById('sync-other').readyState >= 2"
    )
    offset = float(sync.get_attribute("data-offset") or "nan")
    assert abs(offset - 1.37) < 1.0  # the copy starts 1.37 s into the original
    page.evaluate("() => document.getElementById('sync-this').pause()")
    page.wait_for_timeout(300)
    drift = page.evaluate(
        "() => document.getElementById('sync-other').currentTime"
        " - document.getElementById('sync-this').currentTime"
    )
    assert abs(drift - offset) < 0.25
    person.screenshot("item-side-by-side")
    page.keyboard.press("Escape")
    expect(sync).to_be_hidden()

    # The decisions are recorded as opened: the other original was presigned too.
    with session_factory()() as session:
        from mvq.audit.models import AuditEvent

        viewed = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "media.viewed", AuditEvent.object_id == second)
            .order_by(AuditEvent.seq.desc())
        ).first()
        other_key = session.scalar(select(Media.s3_key).where(Media.submission_id == first))
    assert viewed is not None and other_key in viewed.data["objects"]

    # A phone: one column, nothing sideways, the decision panel after the evidence.
    page.set_viewport_size(PHONE)
    assert no_sideways_scroll(page)
    main_box = page.locator(".item-main").bounding_box()
    side_box = page.locator(".item-side").bounding_box()
    assert main_box and side_box and side_box["y"] >= main_box["y"] + main_box["height"] - 1
    # ...one tap away from anywhere on the page.
    page.locator("a.to-decide").click()
    page.wait_for_function("() => location.hash === '#item-side'")
    assert in_view(page, "#approve")
    page.evaluate("() => window.scrollTo(0, 0)")
    person.screenshot("item-390")


def fifty_matches(unit_id: str, other_units: list[str]) -> str:
    """A claim whose footage matches 50 earlier claims, flagged as the matcher flags them: each
    claim of another unit under both near_duplicate and cross_unit_duplicate. Its file says it
    was shot in 1970 and carries a position and a telemetry fix."""
    now = utcnow()
    with session_factory()() as session:
        others = []
        for n in range(50):
            unit = other_units[n % len(other_units)]
            status = [SubmissionStatus.approved, SubmissionStatus.rejected,
                      SubmissionStatus.in_queue][n % 3]  # fmt: skip
            other = Submission(unit_id=unit, status=status, target_type=["apc", "tank"][n % 2],
                               outcome="destroyed",
                               occurred_at=now - timedelta(days=n + 3))  # fmt: skip
            session.add(other)
            session.flush()
            others.append(other)
        s = Submission(unit_id=unit_id, status=SubmissionStatus.in_queue, target_type="tank",
                       outcome="destroyed", occurred_at=now - timedelta(hours=3),
                       lat=48.5, lon=35.1)  # fmt: skip
        session.add(s)
        session.flush()
        media = Media(submission_id=s.id, status=MediaStatus.processed, filename="fifty.mp4",
                      content_type="video/mp4", declared_size=1, declared_sha256="0" * 64,
                      s3_key=f"test/{s.id}", captured_at=datetime(1970, 1, 1, tzinfo=UTC),
                      gps_lat=48.62, gps_lon=35.1,
                      probe={"telemetry": {"source": "srt",
                                           "first_position": [48.5, 35.25]}})  # fmt: skip
        session.add(media)
        session.flush()
        matches = [
            {"media_id": f"m-{o.id}", "submission_id": o.id, "unit_id": o.unit_id,
             "share_this": 1.0 - n / 100, "share_other": 0.9, "min_distance": 4 + n % 20,
             "signals": ["mirror", "pdq"] if n % 2 else ["pdq"],
             "frame_pairs": [{"this_t": float(t), "other_t": float(t) + 1.5, "distance": 6,
                              "signal": "mirror"} for t in range(30)]}
            for n, o in enumerate(others)
        ]  # fmt: skip
        session.add(Flag(submission_id=s.id, media_id=media.id, kind="near_duplicate",
                         evidence={"matches": matches}))  # fmt: skip
        session.add(Flag(submission_id=s.id, media_id=media.id, kind="cross_unit_duplicate",
                         evidence={"matches": [m for m in matches
                                               if m["unit_id"] != unit_id]}))  # fmt: skip
        session.add(Flag(submission_id=s.id, media_id=media.id, kind="capture_time_mismatch",
                         evidence={"captured_at": "1970-01-01T00:00:00+00:00",
                                   "claimed_at": s.occurred_at.isoformat(),
                                   "difference_minutes": 29929755.0, "tolerance_minutes": 120,
                                   "source": "file metadata"}))  # fmt: skip
        session.add(Flag(submission_id=s.id, media_id=media.id, kind="location_mismatch",
                         evidence={"file_position": [48.62, 35.1], "claimed_position": [48.5, 35.1],
                                   "distance_km": 13.34, "tolerance_km": 5,
                                   "source": "file metadata"}))  # fmt: skip
        intake.queue_for_review(session, submission=s)
        session.commit()
        return s.id


def test_fifty_matching_claims_fit_in_two_screens(stack: harness.Stack, person: Reviewer) -> None:
    with session_factory()() as session:
        own = make_unit(session)[0]
        theirs = [make_unit(session)[0] for _ in range(3)]
    submission_id = fifty_matches(own, [own, *theirs])
    page = person.page
    page.set_viewport_size(LAPTOP)
    claim_by_keyboard(page, submission_id)

    height = page.evaluate("() => document.documentElement.scrollHeight")
    assert height <= 2 * LAPTOP["height"], height
    # One row per claim, though the other units' are flagged twice; the first four shown (so a
    # real item, footage and file facts included, stays within two screens), the rest a click
    # away.
    rows = page.locator("#matches .match-row")
    expect(rows).to_have_count(50)
    assert page.locator("#matches > .match-row").count() == 4
    expect(page.locator("#matches h2")).to_contain_text("(50)")
    # Paid claims of other units first: what most changes the verdict.
    expect(rows.first.locator(".status")).to_contain_text("approved")
    expect(rows.first).to_contain_text("other unit")
    expect(rows.first).to_contain_text("mirrored")
    # Frame pairs capped at 12 of the 30 in the evidence.
    rows.first.locator("details.pairs:not(.outlines) summary").click()
    expect(rows.first.locator(".pair")).to_have_count(12)
    expect(rows.first.locator("details.pairs:not(.outlines) summary")).to_contain_text("(of 30)")
    expect(rows.first.locator(".distance").first).to_contain_text("distance 6 of 31, mirrored")
    rows.first.locator("details.pairs:not(.outlines) summary").click()

    # A 1970 capture time is no capture time, never "-29929755 min from the claim".
    capture = page.locator(".facts td.capture")
    expect(capture).to_contain_text("no usable capture time")
    expect(page.locator('.flag-detail[data-flag="capture_time_mismatch"]')).to_contain_text(
        "No usable capture time"
    )
    assert "29929755" not in page.content()
    # The location flag says its threshold.
    expect(page.locator('.flag-detail[data-flag="location_mismatch"]')).to_contain_text(
        "13.3 km from the claimed position; more than 5 km"
    )
    # Positions in decimal and MGRS, with the distance from the claimed one.
    positions = page.locator("#positions")
    expect(positions.locator('tr[data-source="claimed"] .mgrs')).to_have_text("36U XU 55126 74005")
    expect(positions.locator('tr[data-source="file"] .km')).to_have_text("13.34 km")
    expect(positions.locator('tr[data-source="telemetry"] .km')).to_have_text("11.05 km")
    page.keyboard.press("u")
    person.screenshot("item-50-matches")

    page.set_viewport_size(PHONE)
    assert no_sideways_scroll(page)
    person.screenshot("item-50-matches-390")


def test_the_second_look_is_blind_until_decided(stack: harness.Stack, person: Reviewer) -> None:
    with session_factory()() as session:
        unit_id = make_unit(session)[0]
    first_reviewer = staff_member()
    now = utcnow()
    with session_factory()() as session:
        s = Submission(unit_id=unit_id, status=SubmissionStatus.in_queue, target_type="mlrs",
                       outcome="destroyed", occurred_at=now - timedelta(hours=2))  # fmt: skip
        session.add(s)
        session.flush()
        intake.queue_for_review(session, submission=s)
        session.commit()
        first_in_queue(s.id)
        leased = leases.claim_next(session, reviewer=first_reviewer, now=now, lease_seconds=60)
        assert leased is not None and leased[1].id == s.id
        decisions.decide(session, reviewer=first_reviewer, item_id=leased[0].id,
                         lease_token=leased[0].lease_token or "", decision="approve",
                         target_type=None, outcome=None, reason_code=None,
                         comment="Launcher burning, crew fled.", now=now)  # fmt: skip
        session.commit()
        first_email = session.scalar(
            select(StaffUser.email).where(StaffUser.id == first_reviewer.id)
        )
        submission_id = s.id
    assert first_email

    page = person.page
    page.set_viewport_size(LAPTOP)
    claim_by_keyboard(page, submission_id)
    expect(page.locator("#four-eyes")).to_be_visible()
    history = page.locator("section.history")
    # Not even that an earlier decision exists: a first look says the same (blind four-eyes).
    expect(history.locator("li")).to_have_text(["None yet."])
    expect(page.locator("#four-eyes")).not_to_contain_text("approved")
    expect(history).not_to_contain_text(first_email)
    expect(history).not_to_contain_text("approve")
    expect(history).not_to_contain_text("crew fled")
    assert first_email not in page.content()

    with page.expect_navigation():
        page.keyboard.press("a")
    page.goto(f"/review/{item_of(submission_id)}")
    expect(history).to_contain_text(first_email)
    expect(history).to_contain_text("crew fled")
    expect(history).not_to_contain_text("None yet")


@pytest.fixture(scope="module")
def map_stack(backing: harness.Backing, database: str) -> Iterator[harness.Stack]:
    """The same database behind an API configured with a tile source. The tiles come from
    the site itself (any image will do), so the test needs no internet and passes the CSP."""
    tiles = "/static/vendor/leaflet-1.9.4/images/layers.png?z={z}&x={x}&y={y}"
    stack = harness.start_stack(backing, database, extra_env={"MVQ_MAP_TILE_URL": tiles})
    try:
        yield stack
    finally:
        stack.group.stop()


def test_configured_tiles_take_over_from_the_shipped_outlines(
    browser: Browser, stack: harness.Stack, map_stack: harness.Stack
) -> None:
    with session_factory()() as session:
        unit_id = make_unit(session)[0]
        s = Submission(unit_id=unit_id, status=SubmissionStatus.in_queue, target_type="tank",
                       outcome="destroyed", occurred_at=utcnow() - timedelta(hours=1),
                       lat=48.5, lon=35.1)  # fmt: skip
        session.add(s)
        session.flush()
        session.add(Media(submission_id=s.id, status=MediaStatus.processed, filename="p.mp4",
                          content_type="video/mp4", declared_size=1, declared_sha256="0" * 64,
                          s3_key=f"test/{s.id}", gps_lat=48.53, gps_lon=35.12))  # fmt: skip
        intake.queue_for_review(session, submission=s)
        session.commit()
        item_id = item_of(s.id)

    mapped = Reviewer(browser, map_stack, Role.reviewer)
    try:
        page = mapped.login()
        page.set_viewport_size(LAPTOP)
        asked: list[str] = []
        page.on("request", lambda r: asked.append(r.url))
        page.goto(f"/review/{item_id}")
        box = page.locator(".position-map .map")
        expect(box).to_have_class(re.compile("leaflet-container"))
        # Claimed and file positions, each labelled (the line between them and the grid take
        # no clicks, so only the two places are interactive).
        expect(box.locator(".leaflet-tooltip")).to_have_text(["Claimed", "File"])
        expect(box.locator("path.leaflet-interactive")).to_have_count(2)
        page.wait_for_function(
            "() => [...document.querySelectorAll('.position-map img.leaflet-tile')]"
            ".some(i => i.complete && i.naturalWidth > 0)"
        )
        # The tiles instead of the outlines: those are never fetched.
        assert not any("region.geo" in url for url in asked)
        expect(box).not_to_have_class(re.compile("offline"))
        box.scroll_into_view_if_needed()
        mapped.screenshot("item-map")
    finally:
        mapped.close()
