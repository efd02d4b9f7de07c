"""A unit member in Chromium uploads a 40 MB clip from /unit/upload over a slow link that drops
mid-upload; the page is reloaded while offline and opened again once the link is back: the
upload resumes from the parts S3 already holds (none sent twice) and completes, one claim with
one file, processed by the real workers. Screenshots at a phone's and a laptop's size; axe-core
over the page in both, form filled and upload under way."""

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    expect,
)
from playwright.sync_api import Error as PlaywrightError
from sqlalchemy import select

from mvq.auth.models import Role
from mvq.db import session_factory
from mvq.media.models import Media
from mvq.submissions.models import Submission
from testkit import footage, harness, upload_page
from testkit.browser import ARTIFACTS
from testkit.people import make_login, make_unit
from testkit.s3_counter import S3Counter
from testkit.upload_page import LAPTOP, PHONE
from tests.browser import axe
from web.routes.unit_upload import parse_position

PART = 5 * 1024**2  # S3's smallest part: a 40 MB clip goes up in 8
CLIP_BYTES = 40 * 1024**2
# The phone's link while uploading: 2 MB/s up, so the cut lands mid-upload.
SLOW_LINK = {"offline": False, "latency": 40, "downloadThroughput": 4_000_000,
             "uploadThroughput": 2_000_000}  # fmt: skip


@pytest.fixture(scope="module")
def counted(backing: harness.Backing, database: str) -> Iterator[tuple[harness.Stack, S3Counter]]:
    extra = {"MVQ_PART_SIZE_BYTES": str(PART)}
    with upload_page.counted_stack(backing, database, extra_env=extra) as pair:
        yield pair


@pytest.fixture(scope="module")
def stack(counted: tuple[harness.Stack, S3Counter]) -> harness.Stack:
    return counted[0]


@pytest.fixture(scope="module")
def storage(counted: tuple[harness.Stack, S3Counter]) -> S3Counter:
    return counted[1]


@pytest.fixture(scope="module")
def big_clip(clips: Path) -> Path:
    """A real clip of at least 40 MB (lossless H.264 of a pan over a photo)."""
    seconds = 6.0
    while True:
        path = footage.clip("chelsea", clips / "forty.mp4", seconds=seconds, size="1280x720",
                            lossless=True)  # fmt: skip
        if path.stat().st_size >= CLIP_BYTES:
            return path
        seconds *= 1.1 * CLIP_BYTES / path.stat().st_size


class Member:
    """A unit's member at one browser, logged in through the form."""

    def __init__(self, browser: Browser, stack: harness.Stack, unit_id: str, *,
                 workers: bool = False) -> None:  # fmt: skip
        self.email, self.password = make_login(Role.unit, unit_id=unit_id)
        # Without `workers`, the page alone sends: DevTools' throttling and Playwright's routes
        # reach the page's requests, not a service worker's.
        self.context: BrowserContext = browser.new_context(
            base_url=stack.url, locale="en-US", service_workers="allow" if workers else "block"
        )
        self.page: Page = self.context.new_page()

    def login(self) -> Page:
        return upload_page.sign_in(self.page, self.email, self.password)

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


def _axe_at_both_sizes(member: Member, name: str) -> None:
    for size in (PHONE, LAPTOP):
        member.page.set_viewport_size(size)
        width = member.page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= size["width"], f"{name}: the page scrolls sideways at {size['width']} px"
        member.screenshot(f"unit-upload-{name}-{size['width']}")
        axe.assert_no_serious_violations(member.page, f"upload page, {name}, {size['width']} px")


def test_positions_read_as_decimal_degrees_or_mgrs() -> None:
    assert parse_position("48.51234, 35.01234") == (48.51234, 35.01234)
    assert parse_position("-33.9 18.4") == (-33.9, 18.4)
    lat, lon = parse_position("36U XU 55126 74005") or (0, 0)
    assert abs(lat - 48.5) < 1e-4 and abs(lon - 35.1) < 1e-4
    for bad in ("91, 10", "48.5", "36U XU 5512 740051", "36I XU 55126 74005", "near the bridge"):
        assert parse_position(bad) is None, bad


@pytest.mark.timeout(600)  # a 40 MB clip made, sent over a slow link, then processed
def test_a_member_uploads_40_mb_through_a_dropped_link_and_a_reload(
    browser: Browser, stack: harness.Stack, storage: S3Counter, big_clip: Path
) -> None:
    with session_factory()() as session:
        unit_id = make_unit(session)[0]
    member = Member(browser, stack, unit_id)
    s3_host = urlsplit(stack.env["MVQ_S3_ENDPOINT_URL"]).netloc
    tries: dict[str, int] = {"before": 0, "after": 0}  # PUTs sent, whatever became of them
    phase = "before"

    def sent(request):  # type: ignore[no-untyped-def]
        if request.method == "PUT" and urlsplit(request.url).netloc == s3_host:
            tries[phase] += 1

    # The link drops right after the first part is stored: the page sends 5 MiB parts one
    # at a time on a link it has not measured, so seven are still to go.
    try:
        page = member.login()
        page.on("request", sent)
        page.set_viewport_size(PHONE)
        page.set_input_files("#files", str(big_clip))
        row = page.locator("#file-list li.file")
        # The row shows once the page has read the 40 MB file (its SHA-256): seconds on a
        # phone, longer in a Chromium sharing two loaded cores with the rest of `make test`.
        expect(row).to_have_count(1, timeout=30_000)
        expect(row.locator(".file-name")).to_have_text("forty.mp4")
        page.select_option("#choice", label="tank — destroyed — 40 points")
        page.fill("#position", "36U XU 55126 74005")
        page.fill("#note", "Hull burning at 0:03, seen from the north-east.")
        expect(row).to_have_attribute("data-state", "kept", timeout=30_000)  # hashed
        _axe_at_both_sizes(member, "form")

        cdp = upload_page.throttle(member.context, page, SLOW_LINK)
        page.set_viewport_size(PHONE)
        started = time.monotonic()
        page.click("#send")
        row = page.locator("#queue li.file")
        expect(page.locator("#queue")).to_be_visible()
        storage.counts.reset()
        harness.wait_until(lambda: storage.counts.stored, timeout=60, what="a piece stored")
        # The link drops. Chromium keeps network conditions per DevTools session and the
        # throttling session's would outlive Playwright's across a reload: both say offline.
        cdp.send("Network.emulateNetworkConditions", {**SLOW_LINK, "offline": True})
        member.context.set_offline(True)
        expect(row).to_have_attribute("data-state", "offline", timeout=10_000)
        # Honest: what storage confirmed, not what was handed to the browser.
        expect(row.locator(".file-state")).to_contain_text(" confirmed")
        expect(row.locator(".file-state")).to_contain_text("Paused, ")
        expect(page.locator("#offline-note")).to_be_visible()
        _axe_at_both_sizes(member, "offline")
        before = set(storage.counts.stored)

        # Reloaded while still offline, the page cannot even be fetched: the tab is as good
        # as closed. Once the link is back the member opens the page again: the file comes
        # back from IndexedDB, the claim and the upload's state from localStorage, and the
        # server's list of stored parts says what is left to send.
        phase = "after"
        with pytest.raises(PlaywrightError, match="ERR_INTERNET_DISCONNECTED"):
            page.reload()
        member.context.set_offline(False)
        cdp.send("Network.emulateNetworkConditions", SLOW_LINK)
        page.goto("/unit/upload")
        row = page.locator("#queue li.file")
        expect(row).to_have_count(1)
        card = page.locator("#queue li.claim-card")
        expect(card.locator("h3")).to_have_text("tank — destroyed — 40 points")
        page.set_viewport_size(LAPTOP)
        member.screenshot("unit-upload-resumed-1366")
        expect(card).to_have_attribute("data-state", "done", timeout=120_000)
        took = time.monotonic() - started
        expect(row).to_have_attribute("data-state", "done")
        link = card.locator(".claim-actions a").get_attribute("href")
        for size in (PHONE, LAPTOP):
            page.set_viewport_size(size)
            member.screenshot(f"unit-upload-done-{size['width']}")
    finally:
        member.context.close()

    after = set(storage.counts.stored) - before
    print(
        f"\n40 MB upload: {took:.1f} s from Send to done (2 MB/s link, the cut and the reload "
        f"included); pieces stored before the cut {len(before)}, after the reload {len(after)} "
        f"({dict(upload_page.pieces(storage))}); PUTs sent before {tries['before']}, after "
        f"{tries['after']}"
    )
    assert before, "nothing was stored before the link was cut"
    assert after, "nothing was left to send after the reload: the cut came too late"
    assert upload_page.stored_twice(storage) == {}, "a piece was stored twice"
    # Whole parts and staged chunks (the link unmeasured at first) add up to the file.
    assert upload_page.stored_bytes(storage) == big_clip.stat().st_size

    with session_factory()() as session:
        claims = session.scalars(select(Submission).where(Submission.unit_id == unit_id)).all()
        assert len(claims) == 1
        files = session.scalars(select(Media).where(Media.submission_id == claims[0].id)).all()
        assert len(files) == 1
        assert files[0].declared_size == big_clip.stat().st_size
        claim_id, media_id = claims[0].id, files[0].id
        assert link == f"/unit#claim-{claim_id}"  # the claim on My claims
        assert claims[0].target_type == "tank" and claims[0].outcome == "destroyed"
        assert claims[0].lat is not None and abs(claims[0].lat - 48.5) < 1e-3

    def processed() -> bool:
        with session_factory()() as session:
            media = session.get(Media, media_id)
            assert media is not None and media.status != "failed", media and media.failure_reason
            return media.status == "processed"

    harness.wait_until(processed, timeout=180, what=f"media {media_id} of {claim_id} processed")


def test_several_files_one_claim_with_errors_shown_where_they_belong(
    browser: Browser, stack: harness.Stack, clips: Path
) -> None:
    """A photo and a short clip (each one PUT) in one claim, by keyboard where a phone's user
    would type: what is missing or mistyped is said by its field and nothing is sent; the API's
    refusal of a file is shown by that file, and the claim goes on with the other."""
    with session_factory()() as session:
        unit_id = make_unit(session)[0]
    photo = footage.photo("coffee", clips / "coffee.jpg")
    clip = footage.clip("astronaut", clips / "short.mp4", seconds=2)
    notes = clips / "notes.txt"
    notes.write_text("not footage")
    member = Member(browser, stack, unit_id)
    refused = {"coffee.jpg": 1, "short.mp4": 1}
    api_said: list[dict[str, Any]] = []

    def refuse_once(route):  # type: ignore[no-untyped-def]
        """The clip's first registration dies with the link (tried again unseen); the photo's
        first is refused by the API itself: sent on as a type it takes no uploads of, and its
        answer handed back to the page as it came."""
        body = route.request.post_data_json or {}
        if body.get("filename") == "short.mp4" and refused["short.mp4"]:
            refused["short.mp4"] -= 1
            route.abort("connectionreset")
        elif body.get("filename") == "coffee.jpg" and refused["coffee.jpg"]:
            refused["coffee.jpg"] -= 1
            answer = route.fetch(post_data=json.dumps(body | {"content_type": "text/plain"}))
            api_said.append({"status": answer.status, **answer.json()})
            route.fulfill(response=answer)
        else:
            route.continue_()

    try:
        page = member.login()
        page.set_viewport_size(PHONE)
        page.click("#send")
        expect(page.locator("#form-error")).to_have_text("Choose at least one video or photo.")
        page.set_input_files("#files", [str(photo), str(clip), str(notes)])
        expect(page.locator("#form-error")).to_contain_text("notes.txt: Only videos and photos")
        rows = page.locator("#file-list li.file")
        expect(rows).to_have_count(2)
        page.focus("#send")
        page.keyboard.press("Enter")
        expect(page.locator("#choice-error")).to_have_text("Choose what was hit.")
        expect(page.locator("#choice")).to_be_focused()
        page.select_option("#choice", label="tank — damaged — 20 points")
        page.fill("#position", "near the bridge")
        page.keyboard.press("Enter")  # Enter in a field sends the form, as on a phone's keyboard
        expect(page.locator("#position-error")).to_contain_text("MGRS grid")
        expect(page.locator("#position")).to_be_focused()
        with session_factory()() as session:
            assert not session.scalars(
                select(Submission).where(Submission.unit_id == unit_id)
            ).all()

        page.route("**/api/v1/submissions/*/media", refuse_once)
        page.fill("#position", "48.51234, 35.01234")
        page.keyboard.press("Enter")
        failed = page.locator('#queue li.file[data-state="failed"]')
        expect(failed.locator(".file-name")).to_have_text("coffee.jpg", timeout=30_000)
        [said] = api_said
        assert said["status"] == 422 and said["error"]["code"] == "unsupported_content_type"
        expect(failed.locator(".file-state")).to_have_text(f"Failed: {said['error']['message']}")
        # The refusal is final, so the other file completes and the claim goes on without it.
        expect(page.locator('#queue li.file[data-state="done"] .file-name')).to_have_text(
            "short.mp4", timeout=60_000
        )
        card = page.locator("#queue li.claim-card")
        expect(card).to_have_attribute("data-state", "done")
        expect(card.locator(".claim-state")).to_contain_text("Those refused say why")
        member.screenshot("unit-upload-refused-390")
    finally:
        member.context.close()
    with session_factory()() as session:
        claims = session.scalars(select(Submission).where(Submission.unit_id == unit_id)).all()
        assert len(claims) == 1
        assert (claims[0].lat, claims[0].lon, claims[0].outcome) == (48.51234, 35.01234, "damaged")
        files = session.scalars(select(Media).where(Media.submission_id == claims[0].id)).all()
        assert [f.filename for f in files] == ["short.mp4"]
    assert refused == {"coffee.jpg": 0, "short.mp4": 0}


def test_staff_may_not_open_the_upload_page(browser: Browser, stack: harness.Stack) -> None:
    context = browser.new_context(base_url=stack.url, locale="en-US")
    try:
        email, password = make_login(Role.reviewer)
        page = context.new_page()
        page.goto("/login")
        page.fill('input[name="email"]', email)
        page.fill('input[name="password"]', password)
        page.press('input[name="password"]', "Enter")
        page.wait_for_url("**/review")
        response = page.goto("/unit/upload")
        assert response is not None and response.status == 403
        assert page.locator("#upload-app").count() == 0
    finally:
        context.close()
