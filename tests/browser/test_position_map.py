"""The item page's position map with no tile source and no internet (the dev default): the
claimed and the file's positions drawn over the country outlines shipped with the site, with
the MGRS grid and its numbers, at laptop and phone sizes, in Ukrainian, axe clean, and not one
request leaving the site's origin for it."""

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Request, Route, expect

from mvq.auth.models import Role
from mvq.db import session_factory, utcnow
from mvq.flows import intake
from mvq.media.models import Media, MediaStatus
from mvq.submissions.models import Submission, SubmissionStatus
from testkit import harness
from testkit.browser import Reviewer
from testkit.people import make_unit
from tests.browser.axe import assert_no_serious_violations
from tests.browser.helpers import LAPTOP, PHONE, item_of, no_sideways_scroll

SHOTS = Path("/work/shots/h31map")
# Pixels between the two places' labels on screen.
SPREAD = (
    "(() => { const [a, b] = [...document.querySelectorAll('.position-map .leaflet-tooltip')]"
    ".map(t => t.getBoundingClientRect());"
    " return Math.hypot(a.x - b.x, a.y - b.y); })()"
)


def spread(page: Page) -> float:
    return float(page.evaluate(f"() => {SPREAD}"))


@pytest.fixture
def item_id(stack: harness.Stack) -> str:
    """A claim near Zaporizhzhia whose file says it was shot 3.3 km north-east of it."""
    with session_factory()() as session:
        unit_id = make_unit(session)[0]
        s = Submission(unit_id=unit_id, status=SubmissionStatus.in_queue, target_type="tank",
                       outcome="destroyed", occurred_at=utcnow() - timedelta(hours=1),
                       lat=47.84, lon=35.14)  # fmt: skip
        session.add(s)
        session.flush()
        session.add(Media(submission_id=s.id, status=MediaStatus.processed, filename="p.mp4",
                          content_type="video/mp4", declared_size=1, declared_sha256="0" * 64,
                          s3_key=f"test/{s.id}", gps_lat=47.86, gps_lon=35.17))  # fmt: skip
        intake.queue_for_review(session, submission=s)
        session.commit()
        return item_of(s.id)


@pytest.fixture
def ukrainian(browser: Browser, stack: harness.Stack) -> Iterator[Reviewer]:
    person = Reviewer(browser, stack, Role.reviewer)
    person.login()
    person.page.goto("/review?lang=uk")  # stored as the person's choice
    yield person
    person.close()


@pytest.mark.parametrize("size", [LAPTOP, PHONE], ids=["1366x768", "390x844"])
def test_the_map_draws_offline_with_both_places_and_the_grid(
    stack: harness.Stack, ukrainian: Reviewer, item_id: str, size: dict[str, int]
) -> None:
    page = ukrainian.page
    # The site and its own storage (the footage's presigned URLs): nothing else answers.
    allowed = {urlsplit(stack.url).netloc, urlsplit(stack.env["MVQ_S3_ENDPOINT_URL"]).netloc}
    elsewhere: list[str] = []

    def no_internet(route: Route, request: Request) -> None:
        if urlsplit(request.url).netloc in allowed:
            route.continue_()
        else:  # as without the internet: the request fails, and the test names it
            elsewhere.append(request.url)
            route.abort()

    page.route("**/*", no_internet)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.set_viewport_size(size)
    page.goto(f"/review/{item_id}")
    box = page.locator(".position-map .map")
    box.scroll_into_view_if_needed()
    expect(box).to_have_class(re.compile("leaflet-container"))
    # The shipped outlines (Ukraine and its neighbours) drawn as SVG under the places.
    page.wait_for_function(
        "() => document.querySelectorAll('.position-map .leaflet-overlay-pane path').length > 20"
    )
    # Both places, labelled in Ukrainian, and the distance in words below the map.
    expect(box.locator(".leaflet-tooltip")).to_have_text(["Заявлено", "Файл"])
    expect(page.locator(".map-places li").nth(1)).to_contain_text("на північний схід")
    # The grid: 1 km lines numbered along the edges as a map sheet's margin is ("55").
    labels = box.locator(".grid-label")
    expect(labels.first).to_be_visible()
    assert labels.count() >= 4
    assert all(re.fullmatch(r"\d\d", t.strip()) for t in labels.all_inner_texts())
    assert box.locator("img.leaflet-tile").count() == 0
    assert elsewhere == [], f"requests outside the site: {elsewhere}"
    assert errors == []
    assert no_sideways_scroll(page)

    # Keyboard: the map takes focus from Tab order, and + zooms it (the places move apart).
    assert box.get_attribute("tabindex") == "0"
    before = spread(page)
    box.focus()
    page.keyboard.press("Equal")
    page.wait_for_function(f"() => ({SPREAD}) > {before * 1.5}")
    assert_no_serious_violations(page, f"item map {size['width']}")

    name = f"item-map-uk-{size['width']}x{size['height']}"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("() => document.activeElement.blur()")
    page.locator(".facts-places").screenshot(path=str(SHOTS / f"{name}.png"))
    page.screenshot(path=str(SHOTS / f"{name}-page.png"), full_page=True)

    # Zoomed out to the region: the outlines, and the 100 km squares by name.
    box.focus()
    for _ in range(6):  # one at a time: a key pressed mid-animation is dropped
        page.keyboard.press("Minus")
        page.wait_for_timeout(400)
    squares = box.locator(".grid-square")
    expect(squares.first).to_be_visible()
    assert all(re.fullmatch(r"3[4-8][ST-V] [A-Z]{2}", t.strip()) for t in squares.all_inner_texts())
    page.evaluate("() => document.activeElement.blur()")
    page.locator(".facts-places").screenshot(path=str(SHOTS / f"{name}-region.png"))
