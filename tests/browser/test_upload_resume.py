"""Issue 30, on a phone (390 x 844 px) in Chromium with axe: a reload at a random (seeded) moment
resumes the upload without the member choosing the file again and without sending again a part
storage confirmed; a claim made with no connection is kept by the browser, the tab closed, and
sent when the link is back. Every PUT to storage is counted on the browser's side of the link
(Playwright sees each request and its answer), per part."""

import os
import random
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Request, ViewportSize, expect
from sqlalchemy import select

from mvq.auth.models import Role
from mvq.db import session_factory
from mvq.media.models import Media, MediaStatus
from mvq.submissions.models import Submission
from testkit import harness
from testkit.people import make_login, make_unit
from testkit.s3_counter import S3Counter
from tests.browser import axe

PHONE: ViewportSize = {"width": 390, "height": 844}
MiB = 1024**2
CLIP = 22 * MiB  # over the 16 MiB threshold: five 5 MiB parts (the page's part on a slow link)
LINK = {"offline": False, "latency": 150, "downloadThroughput": 2_000_000,
        "uploadThroughput": 1_000_000}  # fmt: skip
SEED = int(os.environ.get("MVQ_RELOAD_SEED", "30"))


@pytest.fixture(scope="module")
def storage(backing: harness.Backing) -> Iterator[S3Counter]:
    counter = S3Counter(backing.env["MVQ_S3_ENDPOINT_URL"])
    try:
        yield counter
    finally:
        counter.close()


@pytest.fixture(scope="module")
def stack(backing: harness.Backing, database: str, storage: S3Counter) -> Iterator[harness.Stack]:
    # Storage behind the counting proxy: each PUT is counted where it lands.
    stack = harness.start_stack(backing, database,
                                extra_env={"MVQ_S3_ENDPOINT_URL": storage.url})  # fmt: skip
    try:
        yield stack
    finally:
        stack.group.stop()


@pytest.fixture(scope="module")
def clip(clips: Path) -> Path:
    # Random bytes under a video's name: the upload is what is tested, not what the worker
    # makes of it (tests/browser/test_unit_upload.py sends a real clip through to processing).
    path = clips / "resume.mp4"
    path.write_bytes(random.Random(SEED).randbytes(CLIP))
    return path


def _login(context: BrowserContext, unit_id: str) -> Page:
    email, password = make_login(Role.unit, unit_id=unit_id)
    page = context.new_page()
    page.set_viewport_size(PHONE)
    page.goto("/unit/upload")
    page.fill('input[name="email"]', email)
    page.fill('input[name="password"]', password)
    page.press('input[name="password"]', "Enter")
    page.wait_for_url("**/unit/upload")
    return page


def _part(request: Request) -> int:
    return int(parse_qs(urlsplit(request.url).query).get("partNumber", ["0"])[0])


def _claim_media(unit_id: str) -> tuple[list[Submission], list[Media]]:
    with session_factory()() as session:
        claims = list(session.scalars(select(Submission).where(Submission.unit_id == unit_id)))
        media = list(session.scalars(select(Media).where(
            Media.submission_id.in_([c.id for c in claims]))))  # fmt: skip
        session.expunge_all()
        return claims, media


@pytest.mark.timeout(300)
def test_a_reload_at_a_random_moment_resumes_without_choosing_again_or_resending(
    browser: Browser, stack: harness.Stack, storage: S3Counter, clip: Path
) -> None:
    with session_factory()() as session:
        unit_id = make_unit(session)[0]
    s3 = urlsplit(stack.env["MVQ_S3_ENDPOINT_URL"]).netloc
    # The page alone sends (no service worker): DevTools' throttling reaches only the page.
    context = browser.new_context(base_url=stack.url, locale="en-US", service_workers="block")
    started: Counter[int] = Counter()  # PUTs the browser began, per part
    registrations: list[float] = []  # each asks storage for its parts (ListParts)

    def on_request(request: Request) -> None:
        if request.method == "PUT" and urlsplit(request.url).netloc == s3:
            started[_part(request)] += 1
        if request.method == "POST" and request.url.endswith("/media"):
            registrations.append(time.monotonic())

    storage.counts.reset()
    try:
        page = _login(context, unit_id)
        page.on("request", on_request)
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.emulateNetworkConditions", LINK)
        page.set_input_files("#files", str(clip))
        row = page.locator("#file-list li.file")
        expect(row).to_have_attribute("data-state", "kept", timeout=60_000)  # kept and hashed
        page.select_option("#choice", label="tank — destroyed — 40 points")
        page.click("#send")
        card = page.locator("#queue li.claim-card")
        expect(card).to_be_visible()
        # A moment anywhere in the upload's first four parts (about 5 s each on this link).
        wait = random.Random(SEED).uniform(2.0, 20.0)
        page.wait_for_timeout(wait * 1000)
        expect(card).not_to_have_attribute("data-state", "done")
        confirmed_before = sum(storage.counts.stored.values())
        axe.assert_no_serious_violations(page, "upload page, uploading, 390 px")
        reloaded = time.monotonic()
        page.reload()  # no file is chosen from here on
        cdp = context.new_cdp_session(page)  # a reload keeps the page, and DevTools' conditions
        cdp.send("Network.enable")
        cdp.send("Network.emulateNetworkConditions", LINK)
        card = page.locator("#queue li.claim-card")
        expect(card.locator("li.file")).to_have_count(1)
        expect(card).to_have_attribute("data-state", "done", timeout=120_000)
        expect(card.locator("li.file")).to_have_attribute("data-state", "done")
        axe.assert_no_serious_violations(page, "upload page, done, 390 px")
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= PHONE["width"], "the page scrolls sideways on a phone"
        # Once done, the browser's copy is gone.
        kept = page.evaluate(
            """async (name) => {
                const db = await window.mvqQueue.open(name);
                const n = await new Promise((ok) => {
                    const r = db.transaction("blobs").objectStore("blobs").count();
                    r.onsuccess = () => ok(r.result);
                });
                db.close();
                return n;
            }""",
            page.locator("#upload-app").get_attribute("data-store-id"),
        )
    finally:
        context.close()

    parts = -(-CLIP // (5 * MiB))
    stored = Counter({part: n for (_, part), n in storage.counts.stored.items()})
    print(
        f"\nreload after {wait:.1f} s with {confirmed_before} part(s) confirmed; PUTs begun "
        f"{dict(started)}, stored {dict(stored)}; bytes sent ÷ size "
        f"{storage.counts.bytes_received / CLIP:.3f}; registrations {len(registrations)}"
    )
    assert 0 < confirmed_before < parts, "the reload came before the first or after the last part"
    assert set(stored) == set(range(1, parts + 1)), stored
    assert max(stored.values()) == 1, f"a part storage had confirmed was sent again: {stored}"
    # Storage was asked what it held after the reload, before anything more was sent.
    assert any(t > reloaded for t in registrations)
    assert kept == 0, "the file's copy was left in the browser after its upload completed"
    claims, media = _claim_media(unit_id)
    assert len(claims) == 1 and len(media) == 1
    assert media[0].declared_size == CLIP and media[0].part_size == 5 * MiB
    assert media[0].status != MediaStatus.awaiting_upload


@pytest.mark.timeout(300)
def test_a_claim_made_offline_is_sent_when_the_link_is_back(
    browser: Browser, stack: harness.Stack, clips: Path
) -> None:
    with session_factory()() as session:
        unit_id = make_unit(session)[0]
    small = clips / "offline.mp4"
    small.write_bytes(random.Random(SEED + 1).randbytes(300_000))
    context = browser.new_context(base_url=stack.url, locale="en-US", service_workers="allow")
    try:
        page = _login(context, unit_id)
        # The page registers its worker when opened online; a member offline now had it open.
        page.evaluate("""async () => {
            for (;;) {
                const reg = await navigator.serviceWorker.getRegistration("/static/");
                if (reg && reg.active) return;
                await new Promise((ok) => setTimeout(ok, 100));
            }
        }""")
        context.set_offline(True)
        expect(page.locator("#offline-note")).to_be_visible()
        page.set_input_files("#files", str(small))
        row = page.locator("#file-list li.file")
        expect(row).to_have_attribute("data-state", "kept", timeout=30_000)
        page.select_option("#choice", label="tank — destroyed — 40 points")
        page.fill("#position", "36U XU 55126 74005")  # read by the server once online
        page.click("#send")
        card = page.locator("#queue li.claim-card")
        expect(card).to_have_attribute("data-state", "waiting")
        expect(card.locator(".claim-state")).to_contain_text("Waiting for the connection")
        expect(page.locator("#queue-status")).to_have_text("Claims waiting to be sent: 1")
        expect(page.locator("#file-list li.file")).to_have_count(0)  # the form is free again
        axe.assert_no_serious_violations(page, "upload page, a claim waiting offline, 390 px")
        assert _claim_media(unit_id) == ([], [])
        # Background Sync is asked for: the worker sends it if the browser says the link is
        # back first. (Chromium fires sync on the system's network changes, not on DevTools'
        # emulated ones, so here the page opened again is what sends it.)
        tags = page.evaluate("""async () => {
            const reg = await navigator.serviceWorker.getRegistration("/static/");
            return reg && reg.sync ? reg.sync.getTags() : [];
        }""")
        assert tags == [page.locator("#upload-app").get_attribute("data-store-id")]
        page.close()  # the tab is closed while offline: the claim must survive it

        context.set_offline(False)
        # Background Sync may send it with no tab open; either way, the next visit does.
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not _claim_media(unit_id)[1]:
            time.sleep(0.5)
        by_worker = bool(_claim_media(unit_id)[1])
        page = context.new_page()
        page.set_viewport_size(PHONE)
        page.goto("/unit/upload")
        card = page.locator("#queue li.claim-card")
        expect(card).to_have_attribute("data-state", "done", timeout=60_000)
        expect(card.locator(".claim-actions a")).to_have_text("See it in My claims")
        axe.assert_no_serious_violations(page, "upload page, the offline claim sent, 390 px")
    finally:
        context.close()
    print(f"\noffline claim sent {'by the service worker' if by_worker else 'by the page'}")
    claims, media = _claim_media(unit_id)
    assert len(claims) == 1 and len(media) == 1
    assert claims[0].lat is not None and abs(claims[0].lat - 48.5) < 1e-3
    assert media[0].declared_size == 300_000 and media[0].status != MediaStatus.awaiting_upload
