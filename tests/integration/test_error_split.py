"""API clients always get JSON errors and browsers always get HTML pages, decided by which
application owns the path, never by guessing from request headers."""

import httpx
import pytest

from tests import harness

BROWSER = {"Accept": "text/html,application/xhtml+xml"}
SCRIPT = {"Accept": "application/json"}


@pytest.mark.parametrize("headers", [BROWSER, SCRIPT], ids=["browser", "script"])
@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/v1/nothing-here", 404),
        ("GET", "/api/v1/review/claim", 405),
        ("POST", "/healthz", 405),
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
    assert f"<h1>{status}" in response.text


def test_a_page_without_a_session_sends_the_browser_to_login(stack: harness.Stack) -> None:
    response = httpx.get(stack.url + "/review", headers=BROWSER, timeout=30)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Freview"


def test_static_files_are_served(stack: harness.Stack) -> None:
    response = httpx.get(stack.url + "/static/app.css", timeout=30)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/css")
