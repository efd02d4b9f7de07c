"""People and units made straight in the database (a unit and its token, staff with API tokens,
people who sign in on the web with their second factor), and a web session driven over
plain HTTP: for tests and benches alike."""

import re
import time
import uuid
from dataclasses import dataclass

import httpx
import pyotp
from sqlalchemy.orm import Session

from edge import web_session
from mvq.auth import second_factor
from mvq.auth import service as auth
from mvq.auth.models import Role
from mvq.db import session_factory, utcnow
from testkit import harness


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


def units(count: int) -> list[tuple[str, str]]:
    with session_factory()() as session:
        made = [
            auth.create_unit(session, name=f"sys-{uuid.uuid4().hex[:8]}", actor="test")
            for _ in range(count)
        ]
        session.commit()
    return [(unit.id, token) for unit, token in made]


def staff_token(role: Role) -> str:
    """A new member of staff's API token, in a session of its own."""
    with session_factory()() as session:
        return make_staff(session, role)
