"""/docs in Chromium under the site's CSP: Swagger UI (vendored) draws the API's operations,
and the page reports no script or style the policy refused."""

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser

from testkit import harness


@pytest.fixture(scope="module")
def stack(backing: harness.Backing, database: str) -> Iterator[harness.Stack]:
    stack = harness.start_stack(backing, database, workers=0)
    try:
        yield stack
    finally:
        stack.group.stop()


def test_swagger_ui_draws_the_api_under_the_csp(stack: harness.Stack, browser: Browser) -> None:
    page = browser.new_page()
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text
            else None)  # fmt: skip
    try:
        page.goto(f"{stack.url}/docs")
        page.wait_for_selector(".opblock", timeout=30_000)
        assert page.locator(".opblock").count() > 20
        assert "mvq" in page.locator(".info .title").inner_text()
        # Only a few of its icons (data: images) are refused, which costs nothing but the icon.
        scripts = [s for s in refused if "script" in s.lower()]
        assert not scripts, scripts
    finally:
        page.close()
