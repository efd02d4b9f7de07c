"""Credentials end when they should: a second-factor reset, a password reset, a role change
and a deactivation each end every web session and API token of the person, audited; a token
issued without a second factor never acts for a role that needs one."""

from collections.abc import Callable

import pytest
from sqlalchemy import select

from mvq.audit.models import AuditEvent
from mvq.auth import accounts, second_factor
from mvq.auth.models import Role, StaffUser
from mvq.auth.policy import OPERATOR
from mvq.db import session_factory, utcnow
from mvq.queue import redis_conn
from testkit import harness
from testkit.people import make_login, otp_for, web_login


@pytest.fixture(autouse=True)
def fresh_counters(stack: harness.Stack) -> None:
    for bucket in ("login", "otp"):
        for key in redis_conn().scan_iter(f"mvq:ratelimit:{bucket}:*"):
            redis_conn().delete(key)


def api_token(stack: harness.Stack, email: str, password: str, otp: str | None = None) -> str:
    body = {"email": email, "password": password} | ({"otp": otp} if otp else {})
    with stack.client() as anon:
        answer = anon.post("/api/v1/auth/token", json=body)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["token"])


def user_id_of(email: str) -> str:
    with session_factory()() as session:
        found = session.scalar(select(StaffUser.id).where(StaffUser.email == email))
        assert found
        return found


def last_event(user_id: str, action: str) -> AuditEvent:
    with session_factory()() as session:
        found = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.object_id == user_id, AuditEvent.action == action)
            .order_by(AuditEvent.seq.desc())
        ).first()
        assert found, action
        return found


def works(stack: harness.Stack, token: str) -> bool:
    with stack.client(token) as client:
        answer = client.get("/api/v1/review/queue")
    assert answer.status_code in (200, 401), answer.text
    return answer.status_code == 200


def session_works(browser: object) -> bool:
    page = browser.client.get("/review/stats", headers={"Accept": "text/html"})  # type: ignore[attr-defined]
    return page.status_code == 200


def act(change: Callable[..., object], **kwargs: object) -> None:
    with session_factory()() as session:
        change(session, principal=OPERATOR, **kwargs)
        session.commit()


def test_a_second_factor_reset_ends_sessions_and_tokens(stack: harness.Stack) -> None:
    email, password = make_login(Role.senior)
    token = api_token(stack, email, password, otp_for(email))
    browser = web_login(stack, email, password)
    assert works(stack, token) and session_works(browser)
    user_id = user_id_of(email)
    act(second_factor.reset_second_factor, user_id=user_id, now=utcnow())
    assert not works(stack, token)
    assert not session_works(browser)
    assert last_event(user_id, "user.second_factor_reset").data["credentials_ended"] == 2
    # The password alone gets no token: the person enrols again on the web first.
    with stack.client() as anon:
        refused = anon.post("/api/v1/auth/token", json={"email": email, "password": password})
    assert refused.json()["error"]["code"] == "otp_required"


def test_a_password_reset_ends_api_tokens_too(stack: harness.Stack) -> None:
    email, password = make_login(Role.reviewer)
    token = api_token(stack, email, password)
    browser = web_login(stack, email, password)
    user_id = user_id_of(email)
    act(accounts.reset_password, user_id=user_id, now=utcnow())
    assert not works(stack, token)
    assert not session_works(browser)
    assert last_event(user_id, "user.password_reset").data["credentials_ended"] == 2


def test_a_role_change_ends_every_credential(stack: harness.Stack) -> None:
    email, password = make_login(Role.reviewer)
    token = api_token(stack, email, password)
    user_id = user_id_of(email)
    act(accounts.change_role, user_id=user_id, role="senior", now=utcnow())
    assert not works(stack, token)
    assert last_event(user_id, "user.role_changed").data["credentials_ended"] == 1


def test_deactivation_ends_every_credential(stack: harness.Stack) -> None:
    email, password = make_login(Role.reviewer)
    token = api_token(stack, email, password)
    user_id = user_id_of(email)
    act(accounts.deactivate_user, user_id=user_id, now=utcnow())
    assert not works(stack, token)
    assert last_event(user_id, "user.deactivated").data["credentials_ended"] == 1


def test_a_token_without_a_second_factor_never_acts_for_a_role_that_needs_one(
    stack: harness.Stack,
) -> None:
    # Even should the role change without the tokens being ended (a row edited by hand), the
    # token says what it was issued for and is refused.
    email, password = make_login(Role.reviewer)
    token = api_token(stack, email, password)
    with session_factory()() as session:
        user = session.get_one(StaffUser, user_id_of(email))
        user.role = Role.admin
        session.commit()
    with stack.client(token) as client:
        answer = client.get("/api/v1/units/me/ledger")
    assert answer.status_code == 401, answer.text
    assert answer.json()["error"]["code"] == "bad_token"
