"""API clients always get JSON errors and browsers always get HTML pages. Under /api/ the answer
is JSON whoever asks; the web app's paths answer pages whoever asks; the few API routes outside
/api/ (health, metrics) answer a browser (Accept ranks text/html above JSON) with the page and
anything else with JSON."""

import re

import httpx
import pytest

from testkit import harness

BROWSER = {"Accept": "text/html,application/xhtml+xml"}
SCRIPT = {"Accept": "application/json"}


@pytest.mark.parametrize("headers", [BROWSER, SCRIPT], ids=["browser", "script"])
@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/v1/nothing-here", 404),
        ("GET", "/api/v1/review/claim", 405),
        ("GET", "/api", 404),
        ("GET", "/api/v1/submissions", 401),
    ],
)
def test_api_paths_answer_json_whoever_asks(
    stack: harness.Stack, headers: dict[str, str], method: str, path: str, status: int
) -> None:
    response = httpx.request(method, stack.url + path, headers=headers, timeout=30)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] and error["message"]


@pytest.mark.parametrize("headers", [BROWSER, SCRIPT], ids=["browser", "script"])
@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/nothing-here", 404), ("GET", "/logout", 405), ("POST", "/login", 422)],
)
def test_page_paths_answer_html_whoever_asks(
    stack: harness.Stack, headers: dict[str, str], method: str, path: str, status: int
) -> None:
    response = httpx.request(method, stack.url + path, headers=headers, timeout=30)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert re.search(rf"<h1[^>]*>{status} · ", response.text)


def test_api_routes_outside_api_answer_json_to_scripts_and_pages_to_browsers(
    stack: harness.Stack,
) -> None:
    browser = {**BROWSER, "Accept-Language": "en"}
    page = httpx.post(stack.url + "/healthz", headers=browser, timeout=30)
    assert page.status_code == 405
    assert page.headers["content-type"].startswith("text/html")
    assert (
        '<h1 data-code="method_not_allowed">405 · Wrong kind of request</h1>' in page.text
        and '<html lang="en">' in page.text
    )
    assert "Accept" in page.headers["vary"]
    for headers in (SCRIPT, {}, {"Accept": "*/*"}, {"Accept": "application/json, text/html"}):
        answer = httpx.post(stack.url + "/healthz", headers=headers, timeout=30)
        assert answer.status_code == 405
        assert answer.json()["error"]["code"] == "method_not_allowed", headers
    # A real browser's Accept, with its wildcard, still ranks the page first.
    chromium = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
    assert (
        httpx.post(stack.url + "/healthz", headers=chromium, timeout=30)
        .headers["content-type"]
        .startswith("text/html")
    )


def test_there_is_a_favicon(stack: harness.Stack) -> None:
    for path in ("/favicon.ico", "/static/favicon.svg"):
        response = httpx.get(stack.url + path, timeout=30)
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith("image/svg+xml")
        assert response.text.lstrip().startswith("<svg")
    login = httpx.get(stack.url + "/login", timeout=30)
    assert '<link rel="icon" href="/static/favicon.svg"' in login.text


def test_a_page_without_a_session_sends_the_browser_to_login(stack: harness.Stack) -> None:
    response = httpx.get(stack.url + "/review", headers=BROWSER, timeout=30)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Freview"


def test_static_files_are_served(stack: harness.Stack) -> None:
    response = httpx.get(stack.url + "/static/app.css", timeout=30)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/css")
