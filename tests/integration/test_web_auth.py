"""The web login against the real API: cookie, CSRF, throttle, logout."""

import re

import httpx

from mvq.auth.models import Role
from mvq.settings import get_settings
from testkit import harness
from testkit.people import Accounts, make_login, web_login
from tests.helpers import assert_one_window, in_one_window

HTML = {"Accept": "text/html"}


def login_form(client: httpx.Client) -> str:
    page = client.get("/login")
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found
    return found[1]


def test_login_opens_the_queue_and_logout_ends_the_session(
    stack: harness.Stack, accounts: Accounts
) -> None:
    with httpx.Client(base_url=stack.url) as anonymous:
        to_login = anonymous.get("/review", headers=HTML, follow_redirects=False)
        assert to_login.status_code == 303 and to_login.headers["location"].startswith("/login")
    email, password = make_login(Role.reviewer)
    web = web_login(stack, email, password)
    cookie = web.client.cookies["mvq_session"]
    queue = web.client.get("/review", headers=HTML)
    assert queue.status_code == 200 and "Review queue" in queue.text
    assert "frame-ancestors 'none'" in queue.headers["content-security-policy"]
    # The session cookie is no bearer token, and a tampered cookie is no session.
    with stack.client(cookie) as api:
        assert api.post("/api/v1/review/claim").status_code == 401
    forged = httpx.get(f"{stack.url}/review", headers=HTML,
                       cookies={"mvq_session": cookie[:-2] + "xx"})  # fmt: skip
    assert forged.status_code == 303 and forged.headers["location"].startswith("/login")
    out = web.client.post("/logout", data={"csrf_token": web.csrf})
    assert out.status_code == 303
    replay = httpx.get(f"{stack.url}/review", headers=HTML, cookies={"mvq_session": cookie},
                       follow_redirects=False)  # fmt: skip
    assert replay.status_code == 303  # revoked in the database, not only forgotten by the browser


def test_forms_without_the_csrf_token_are_refused(stack: harness.Stack, accounts: Accounts) -> None:
    email, password = make_login(Role.reviewer)
    web = web_login(stack, email, password)
    for data in ({}, {"csrf_token": "0" * 64}):
        refused = web.client.post("/review/claim", data=data)
        assert refused.status_code == 403 and "CSRF" in refused.text
        refused = web.client.post("/logout", data=data)
        assert refused.status_code == 403
    # A script request must carry the header.
    beat = web.client.post("/review/x/heartbeat", json={"lease_token": "t"})
    assert beat.status_code == 403
    # The login form itself needs its double-submit token.
    with httpx.Client(base_url=stack.url) as other:
        login_form(other)
        bare = other.post("/login", data={"email": email, "password": password})
        assert bare.status_code == 403 and "mvq_session" not in other.cookies


def test_failed_logins_are_throttled(stack: harness.Stack, accounts: Accounts) -> None:
    email, password = make_login(Role.senior)
    window = get_settings().login_window_seconds
    started = in_one_window(window, needed=60)
    with httpx.Client(base_url=stack.url) as client:
        for _ in range(get_settings().login_failures_allowed):
            wrong = client.post("/login", data={"email": email, "password": "guess",
                                                "csrf_token": login_form(client)})  # fmt: skip
            assert wrong.status_code == 401
        # Now even the right password waits, on the web and on the API alike.
        right = client.post("/login", data={"email": email, "password": password,
                                            "csrf_token": login_form(client)})  # fmt: skip
        assert right.status_code == 429 and int(right.headers["retry-after"]) > 0
        api = client.post("/api/v1/auth/token", json={"email": email, "password": password})
        assert api.status_code == 429 and api.json()["error"]["code"] == "rate_limited"
    assert_one_window(window, started)
    # Another account is not locked out by the first one's failures.
    other_email, other_password = make_login(Role.senior)
    assert web_login(stack, other_email, other_password).csrf
