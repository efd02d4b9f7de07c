import hashlib
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pyotp
import pytest
from sqlalchemy.orm import Session

from edge import web_session
from mvq.auth import second_factor
from mvq.auth import service as auth
from mvq.auth.models import Role
from mvq.db import utcnow
from mvq.rules import service as rules
from tests import footage, harness


@dataclass
class Accounts:
    unit_id: str
    unit_token: str
    other_unit_id: str
    other_unit_token: str
    staff_tokens: dict[str, str]


def make_unit(session: Session) -> tuple[str, str]:
    unit, token = auth.create_unit(session, name=f"unit-{uuid.uuid4().hex[:8]}", actor="test")
    session.commit()
    return unit.id, token


def make_staff(session: Session, role: Role, *, unit_id: str | None = None) -> str:
    user, _ = auth.create_user(
        session,
        email=f"{role}-{uuid.uuid4().hex[:8]}@test.mvq",
        role=role,
        unit_id=unit_id,
        actor="test",
    )
    token = auth.issue_staff_token(session, user=user, now=utcnow(), second_factor=True)
    session.commit()
    return token


# A person's TOTP secret, by e-mail, for those make_login enrolled (see otp_for).
OTP_SECRETS: dict[str, str] = {}
_OTP_LAST_STEP: dict[str, int] = {}


def make_login(role: Role, *, unit_id: str | None = None) -> tuple[str, str]:
    """A person who logs in on the web, staff or a unit's member (Role.unit and the unit):
    (e-mail, password). A role that needs a second factor is enrolled from the start, as
    `mvq admin create-user` does; `otp_for(email)` gives its codes."""
    from mvq.db import session_factory

    with session_factory()() as session:
        user, password = auth.create_user(
            session, email=f"{role}-{uuid.uuid4().hex[:8]}@web.mvq", role=role, unit_id=unit_id,
            actor="test",
        )  # fmt: skip
        if second_factor.required(user):
            uri = second_factor.enrol_now(session, user=user, actor="test", now=utcnow())
            OTP_SECRETS[user.email] = pyotp.parse_uri(uri).secret
        session.commit()
    return user.email, password


def otp_for(email: str) -> str:
    """A TOTP code the server has not seen for this person: the server refuses a step it has
    accepted already, so a second login in the same 30 s uses the next step (one ahead is
    accepted), or waits for it."""
    totp = pyotp.TOTP(OTP_SECRETS[email])
    while True:
        current = int(time.time()) // 30
        step = max(current, _OTP_LAST_STEP.get(email, -1) + 1)
        if step <= current + 1:
            _OTP_LAST_STEP[email] = step
            return totp.at(step * 30)
        time.sleep(30 - time.time() % 30 + 0.1)


CSRF_META = re.compile(r'<meta name="csrf-token" content="([0-9a-f]+)">')


@dataclass
class Browserless:
    """A web session driven over plain HTTP: the cookie jar plus the page's CSRF token."""

    client: httpx.Client
    csrf: str


def web_login(stack: harness.Stack, email: str, password: str) -> Browserless:
    # The pages' own words are asserted in English; without this they come in the default, uk.
    client = httpx.Client(base_url=stack.url, timeout=30, follow_redirects=False,
                          headers={"Accept-Language": "en"})  # fmt: skip
    form = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token, form.text
    done = client.post(
        "/login", data={"email": email, "password": password, "csrf_token": token[1]}
    )
    assert done.status_code == 303, done.text
    if done.headers["location"].startswith("/login/code"):
        # The second factor: the code page, then the session.
        form = client.get(done.headers["location"])
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token, form.text
        done = client.post("/login/code", data={"code": otp_for(email), "csrf_token": token[1]})
        assert done.status_code == 303, done.text
    session_token = web_session.token_from_cookie(client.cookies.get(web_session.COOKIE))
    assert session_token, "the login set no valid session cookie"
    page = client.get("/review/stats", headers={"Accept": "text/html"})
    found = CSRF_META.search(page.text)
    if found:
        # The page's token is the one the server derives from the session: so the derivation
        # below is the server's, too.
        assert found[1] == web_session.csrf_for(session_token)
        return Browserless(client, found[1])
    # Only a role with no page at all (the marketplace's account) gets here; its forms still
    # need a valid token, or a refusal would be about CSRF rather than the role.
    assert page.status_code == 403, page.text
    return Browserless(client, web_session.csrf_for(session_token))


@pytest.fixture(scope="module")
def accounts(database: str) -> Accounts:
    from mvq.db import session_factory

    with session_factory(database)() as session:
        rules.seed_demo_rules(session, now=utcnow())
        session.commit()
        unit_id, unit_token = make_unit(session)
        other_id, other_token = make_unit(session)
        staff = {role.value: make_staff(session, role) for role in Role if role != Role.unit}
    return Accounts(unit_id, unit_token, other_id, other_token, staff)


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("footage")


def claim_body(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "target_type": "tank",
        "outcome": "destroyed",
        "occurred_at": (datetime.now(UTC) - timedelta(hours=2)).isoformat(),
    }
    return body | overrides


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def upload_claim(
    stack: harness.Stack, token: str, path: Path, content_type: str = "video/mp4", **claim: object
) -> str:
    """The unit's whole upload path over HTTP: create, presigned PUT, complete."""
    with stack.client(token) as api:
        created = api.post(
            "/api/v1/submissions",
            json=claim_body(**claim),
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        assert created.status_code == 201, created.text
        submission_id = str(created.json()["id"])
        plan = api.post(
            f"/api/v1/submissions/{submission_id}/media",
            json={
                "filename": path.name,
                "size": path.stat().st_size,
                "sha256": sha256_of(path),
                "content_type": content_type,
            },
        )
        assert plan.status_code == 201, plan.text
        upload = plan.json()["upload"]
        assert upload["mode"] == "single"
        put = httpx.put(
            upload["urls"][0], content=path.read_bytes(), headers={"Content-Type": content_type}
        )
        assert put.status_code == 200, put.text
        done = api.post(f"/api/v1/media/{plan.json()['media_id']}/complete", json={})
        assert done.status_code == 202, done.text
    return submission_id


def wait_for_status(stack: harness.Stack, token: str, submission_id: str, *statuses: str) -> dict:  # type: ignore[type-arg]
    with stack.client(token) as api:

        def settled() -> dict | None:  # type: ignore[type-arg]
            body = api.get(f"/api/v1/submissions/{submission_id}").json()
            return body if body["status"] in statuses else None

        return harness.wait_until(settled, timeout=90, what=f"status in {statuses}")  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def tank_clip(clips: Path) -> Path:
    return footage.clip("chelsea", clips / "chelsea.mp4")


@pytest.fixture(scope="session")
def big_clip(clips: Path) -> Path:
    """About 23 MB: above the 16 MiB multipart threshold, three 8 MiB parts."""
    return footage.clip("astronaut", clips / "astronaut-720p.mp4", size="1280x720", lossless=True)


def run_threads(targets: list[Callable[[], None]], *, timeout: float = 120) -> None:
    """Run each target in its own thread and wait for all: a thread that raised, or that is
    still running at the timeout, fails the test (a thread's exception is otherwise only
    printed, and the test would judge half the work)."""
    errors: list[BaseException] = []
    lock = threading.Lock()

    def guarded(target: Callable[[], None]) -> None:
        try:
            target()
        except BaseException as exc:
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(t,)) for t in targets]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(timeout=max(0.0, deadline - time.monotonic()))
    assert not any(t.is_alive() for t in threads), f"threads still running after {timeout}s"
    if errors:
        raise errors[0]


def in_one_window(window_seconds: int, *, needed: float) -> float:
    """Rate limits count in fixed windows (mvq.ratelimit: epoch seconds // window) that start
    afresh at each boundary, so a burst that crossed one would see its count reset. Waits for
    the next window unless `needed` seconds are left in this one; returns the burst's start,
    for `assert_one_window` afterwards."""
    left = window_seconds - time.time() % window_seconds
    if left < needed:
        time.sleep(left + 0.05)
    return time.time()


def assert_one_window(window_seconds: int, started: float) -> None:
    """The burst since `started` stayed inside one window (else `needed` was too small)."""
    assert started // window_seconds == time.time() // window_seconds, "the burst crossed a window"
