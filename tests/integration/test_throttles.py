"""The login throttle against the real stack: parallel guesses meet the same limit as
sequential ones, and a forged X-Forwarded-For neither escapes it nor fools /metrics."""

import re
import threading
import uuid
from collections import Counter

import httpx
import pytest

from mvq.auth.models import Role
from mvq.queue import redis_conn
from mvq.settings import get_settings
from testkit import harness
from testkit.people import make_login
from tests.helpers import assert_one_window, in_one_window, run_threads


@pytest.fixture(autouse=True)
def fresh_counters(stack: harness.Stack) -> None:
    # Every test here logs in from the same loopback client: each starts with its count clear.
    for key in redis_conn().scan_iter("mvq:ratelimit:login:*"):
        redis_conn().delete(key)


def _parallel_guesses(
    stack: harness.Stack, bodies: list[dict[str, str]], headers: list[dict[str, str]] | None = None
) -> list[httpx.Response]:
    answers: list[httpx.Response] = []
    lock = threading.Lock()
    gate = threading.Barrier(len(bodies))

    def guess(n: int) -> None:
        with httpx.Client(base_url=stack.url, timeout=60) as client:
            gate.wait()
            answer = client.post(
                "/api/v1/auth/token", json=bodies[n], headers=headers[n] if headers else None
            )
        with lock:
            answers.append(answer)

    run_threads([lambda n=n: guess(n) for n in range(len(bodies))])  # type: ignore[misc]
    return answers


def _assert_refusals(answers: list[httpx.Response]) -> None:
    for answer in answers:
        if answer.status_code == 429:
            assert answer.json()["error"]["code"] == "rate_limited"
            assert int(answer.headers["retry-after"]) > 0


def test_parallel_wrong_passwords_meet_the_same_limit(stack: harness.Stack) -> None:
    email, password = make_login(Role.reviewer)
    window = get_settings().login_window_seconds
    allowed = get_settings().login_failures_allowed
    started = in_one_window(window, needed=120)
    answers = _parallel_guesses(stack, [{"email": email, "password": "guess"}] * 40)
    codes = Counter(a.status_code for a in answers)
    assert set(codes) <= {401, 429} and codes[401] <= allowed, codes
    assert codes[429] == 40 - codes[401]
    _assert_refusals(answers)
    # The right password waits too, on the API and on the web form alike.
    with httpx.Client(base_url=stack.url) as client:
        right = client.post("/api/v1/auth/token", json={"email": email, "password": password})
        assert right.status_code == 429
    assert_one_window(window, started)


def test_the_web_form_and_the_api_share_one_limit_in_parallel(stack: harness.Stack) -> None:
    email, _ = make_login(Role.reviewer)
    window = get_settings().login_window_seconds
    allowed = get_settings().login_failures_allowed
    started = in_one_window(window, needed=120)
    answers: list[httpx.Response] = []
    lock = threading.Lock()
    gate = threading.Barrier(40)

    def guess(n: int) -> None:
        with httpx.Client(base_url=stack.url, timeout=60) as client:
            if n % 2:
                gate.wait()
                answer = client.post("/api/v1/auth/token", json={"email": email, "password": "g"})
            else:
                page = client.get("/login")
                token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
                assert token
                gate.wait()
                answer = client.post("/login", data={"email": email, "password": "g",
                                                     "csrf_token": token[1]})  # fmt: skip
        with lock:
            answers.append(answer)

    run_threads([lambda n=n: guess(n) for n in range(40)])  # type: ignore[misc]
    codes = Counter(a.status_code for a in answers)
    assert set(codes) <= {401, 429} and codes[401] <= allowed, codes
    assert all(int(a.headers["retry-after"]) > 0 for a in answers if a.status_code == 429)
    assert_one_window(window, started)


def test_a_success_does_not_use_up_the_allowance(stack: harness.Stack) -> None:
    email, password = make_login(Role.reviewer)
    window = get_settings().login_window_seconds
    allowed = get_settings().login_failures_allowed
    started = in_one_window(window, needed=60)
    with httpx.Client(base_url=stack.url) as client:
        for _ in range(allowed + 2):
            ok = client.post("/api/v1/auth/token", json={"email": email, "password": password})
            assert ok.status_code == 200, ok.text
        for _ in range(allowed - 1):
            wrong = client.post("/api/v1/auth/token", json={"email": email, "password": "x"})
            assert wrong.status_code == 401
        ok = client.post("/api/v1/auth/token", json={"email": email, "password": password})
        assert ok.status_code == 200, ok.text
    assert_one_window(window, started)


def test_parallel_guesses_over_many_accounts_meet_the_per_client_limit(
    stack: harness.Stack,
) -> None:
    """Spraying one guess at each of many accounts: the per-client limit (4 x the per-account
    one) holds in parallel as well, and a forged X-Forwarded-For per request does not make
    each guess a new client."""
    window = get_settings().login_window_seconds
    per_client = get_settings().login_failures_allowed * 4
    started = in_one_window(window, needed=120)
    bodies = [{"email": f"nobody-{uuid.uuid4().hex[:8]}@x.mvq", "password": "g"} for _ in range(40)]
    forged = [{"X-Forwarded-For": f"203.0.113.{n + 1}"} for n in range(40)]
    answers = _parallel_guesses(stack, bodies, forged)
    codes = Counter(a.status_code for a in answers)
    assert set(codes) <= {401, 429} and codes[401] <= per_client, codes
    _assert_refusals(answers)
    assert_one_window(window, started)


def test_a_forged_forwarded_for_does_not_change_what_metrics_sees(stack: harness.Stack) -> None:
    # The test talks to the API from loopback: a header naming a remote address changes
    # nothing, so /metrics still answers; the loopback check is the peer's own address.
    for forged in ("203.0.113.7", "127.0.0.1, 203.0.113.7", "::1"):
        seen = httpx.get(f"{stack.url}/metrics", headers={"X-Forwarded-For": forged})
        assert seen.status_code == 200, (forged, seen.status_code)
