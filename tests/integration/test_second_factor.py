"""Staff's second factor against the real stack: TOTP and recovery codes on the web form and
for API tokens, enrolment with a QR code made on the server, replay, throttle, an admin's
reset, the audit of each (never a code or a secret), and reviewers by the setting."""

import json
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pyotp
import pytest
from sqlalchemy import select

from mvq.audit.models import AuditEvent
from mvq.auth import second_factor
from mvq.auth import service as auth
from mvq.auth.models import Role, StaffUser
from mvq.auth.principal import Principal
from mvq.db import session_factory, utcnow
from mvq.errors import Unauthenticated
from mvq.queue import redis_conn
from mvq.settings import get_settings
from testkit import harness
from testkit.people import OTP_SECRETS, make_login, otp_for

HTML = {"Accept": "text/html", "Accept-Language": "en"}
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(autouse=True)
def fresh_counters(stack: harness.Stack) -> None:
    # Every test here signs in from the same loopback client: each starts with its count clear.
    for bucket in ("login", "otp"):
        for key in redis_conn().scan_iter(f"mvq:ratelimit:{bucket}:*"):
            redis_conn().delete(key)


def token(stack: harness.Stack, email: str, password: str, otp: str | None = None
          ) -> httpx.Response:  # fmt: skip
    body = {"email": email, "password": password} | ({"otp": otp} if otp is not None else {})
    with stack.client() as anon:
        return anon.post("/api/v1/auth/token", json=body)


def password_step(stack: harness.Stack, email: str, password: str) -> httpx.Client:
    """A browser-like client past the password: it holds the pending login, not a session."""
    client = httpx.Client(base_url=stack.url, timeout=30, follow_redirects=False, headers=HTML)
    form = CSRF.search(client.get("/login").text)
    assert form
    done = client.post("/login", data={"email": email, "password": password,
                                       "csrf_token": form[1], "next": "/review"})  # fmt: skip
    assert done.status_code == 303, done.text
    return client


def code_form(client: httpx.Client, where: str) -> str:
    page = client.get(where)
    assert page.status_code == 200, page.text
    found = CSRF.search(page.text)
    assert found
    return found[1]


def audited(user_id: str, action: str) -> list[AuditEvent]:
    with session_factory()() as session:
        return list(
            session.scalars(
                select(AuditEvent)
                .where(AuditEvent.object_id == user_id, AuditEvent.action == action)
                .order_by(AuditEvent.seq)
            )
        )


def user_id_of(email: str) -> str:
    with session_factory()() as session:
        found = session.scalar(select(StaffUser.id).where(StaffUser.email == email))
        assert found
        return found


def no_secrets_in_audit(user_id: str, *secrets: str) -> None:
    with session_factory()() as session:
        rows = session.scalars(select(AuditEvent).where(AuditEvent.object_id == user_id)).all()
    dumped = json.dumps([r.data for r in rows])
    for secret in secrets:
        assert secret not in dumped


def test_a_senior_signs_in_only_with_the_code_on_the_web_and_for_a_token(
    stack: harness.Stack,
) -> None:
    email, password = make_login(Role.senior)
    uid = user_id_of(email)
    no_otp = token(stack, email, password)
    assert no_otp.status_code == 401 and no_otp.json()["error"]["code"] == "otp_required"
    wrong = token(stack, email, password, otp="000000")
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "bad_otp"
    right = token(stack, email, password, otp=otp_for(email))
    assert right.status_code == 200, right.text
    with stack.client(right.json()["token"]) as senior:
        assert senior.get("/api/v1/review/queue").status_code == 200

    web = password_step(stack, email, password)
    # Past the password there is no session: the pending login opens no page.
    assert "mvq_session" not in web.cookies
    bounced = web.get("/review")
    assert bounced.status_code == 303 and bounced.headers["location"].startswith("/login")
    csrf = code_form(web, "/login/code?next=/review")
    refused = web.post("/login/code", data={"code": "123456", "csrf_token": csrf})
    assert refused.status_code == 401 and "That code is wrong" in refused.text
    assert "mvq_session" not in web.cookies
    done = web.post("/login/code", data={"code": otp_for(email), "csrf_token": csrf,
                                          "next": "/review"})  # fmt: skip
    assert done.status_code == 303 and done.headers["location"] == "/review", done.text
    assert web.get("/review").status_code == 200
    assert web.get("/login/code").status_code == 303  # the pending login is spent

    failed = audited(uid, "user.second_factor_failed")
    assert [e.data["via"] for e in failed] == ["api_token", "web"]
    assert {e.data["reason"] for e in failed} == {"wrong"}
    no_secrets_in_audit(uid, "000000", "123456", OTP_SECRETS[email])
    with session_factory()() as session:
        sealed = session.get_one(StaffUser, uid).totp_sealed_secret
    assert sealed and OTP_SECRETS[email] not in sealed  # stored sealed, not as itself


def test_a_replayed_code_is_refused(stack: harness.Stack) -> None:
    email, password = make_login(Role.admin)
    code = otp_for(email)
    assert token(stack, email, password, otp=code).status_code == 200
    again = token(stack, email, password, otp=code)
    assert again.status_code == 401 and again.json()["error"]["code"] == "bad_otp"
    # The same code on the web form, too.
    web = password_step(stack, email, password)
    csrf = code_form(web, "/login/code")
    assert web.post("/login/code", data={"code": code, "csrf_token": csrf}).status_code == 401
    reasons = [e.data["reason"] for e in audited(user_id_of(email), "user.second_factor_failed")]
    assert reasons == ["replayed", "replayed"]


def test_wrong_codes_are_throttled_like_wrong_passwords(stack: harness.Stack) -> None:
    email, password = make_login(Role.auditor)
    allowed = get_settings().login_failures_allowed
    for _ in range(allowed):
        assert token(stack, email, password, otp="999999").status_code == 401
    limited = token(stack, email, password, otp=otp_for(email))
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
    web = password_step(stack, email, password)
    csrf = code_form(web, "/login/code")
    page = web.post("/login/code", data={"code": "999999", "csrf_token": csrf})
    assert page.status_code == 429 and "Too many wrong codes" in page.text


def test_enrolment_at_first_sign_in_then_the_code_and_recovery_codes_once(
    stack: harness.Stack,
) -> None:
    with session_factory()() as session:
        user, password = auth.create_user(session, email=f"new-{uuid.uuid4().hex[:8]}@web.mvq",
                                          role=Role.senior, unit_id=None, actor="test")  # fmt: skip
        session.commit()
        email, uid = user.email, user.id
    # No token before enrolment: enrolment happens on the web.
    assert token(stack, email, password).json()["error"]["code"] == "otp_required"

    web = password_step(stack, email, password)
    page = web.get("/login/code?next=/review")  # the code page sends a person with none to enrol
    assert page.status_code == 303 and page.headers["location"].startswith("/login/enrol")
    enrol = web.get(page.headers["location"])
    assert enrol.status_code == 200 and enrol.headers["cache-control"] == "no-store"
    # The QR code is drawn here, as inline SVG: no image from anywhere else.
    assert "<svg" in enrol.text and "<img" not in enrol.text
    key = re.search(r'class="totp-key"><code>([A-Z2-7 ]+)</code>', enrol.text)
    assert key
    secret = key[1].replace(" ", "")
    assert web.get("/login/enrol").text.count(key[1]) == 1  # a reload keeps the same key
    assert "mvq_session" not in web.cookies and web.get("/review").status_code == 303
    csrf = CSRF.search(enrol.text)
    assert csrf
    wrong = web.post("/login/enrol", data={"code": "000000", "csrf_token": csrf[1]})
    assert wrong.status_code == 401 and "That code is wrong" in wrong.text
    OTP_SECRETS[email] = secret
    done = web.post("/login/enrol", data={"code": otp_for(email), "csrf_token": csrf[1],
                                           "next": "/review"})  # fmt: skip
    assert done.status_code == 200 and done.headers["cache-control"] == "no-store"
    codes = re.findall(r"<li><code>([a-z0-9-]+)</code></li>", done.text)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert web.get("/review").status_code == 200  # signed in

    # The next sign-in asks for the code.
    again = password_step(stack, email, password)
    assert again.get("/login/enrol").headers["location"].startswith("/login/code")
    csrf2 = code_form(again, "/login/code")
    signed = again.post("/login/code", data={"code": otp_for(email), "csrf_token": csrf2})
    assert signed.status_code == 303 and again.get("/review").status_code == 200

    # A recovery code works once: for a token, then nowhere.
    assert token(stack, email, password, otp=codes[0]).status_code == 200
    spent = token(stack, email, password, otp=codes[0])
    assert spent.status_code == 401 and spent.json()["error"]["code"] == "bad_otp"
    # Another works on the web form (typed in capitals, with spaces).
    third = password_step(stack, email, password)
    csrf3 = code_form(third, "/login/code")
    typed = " ".join(codes[1].upper().split("-"))
    assert third.post("/login/code", data={"code": typed, "csrf_token": csrf3}).status_code == 303
    with session_factory()() as session:
        assert second_factor.recovery_codes_left(session, user_id=uid) == 8

    enrolled = audited(uid, "user.second_factor_enrolled")
    assert [e.data["via"] for e in enrolled] == ["web"]
    used = audited(uid, "user.recovery_code_used")
    assert [(e.data["via"], e.data["left"]) for e in used] == [("api_token", 9), ("web", 8)]
    no_secrets_in_audit(uid, secret, *codes, *(c.replace("-", "") for c in codes))


def test_an_admin_reset_makes_the_person_enrol_again(stack: harness.Stack) -> None:
    email, password = make_login(Role.marketplace)
    uid = user_id_of(email)
    assert token(stack, email, password, otp=otp_for(email)).status_code == 200
    with session_factory()() as session:
        admin = Principal(kind="staff", id="some-admin", role=Role.admin)
        second_factor.reset_second_factor(session, principal=admin, user_id=uid, now=utcnow())
        session.commit()
    old = token(stack, email, password, otp=otp_for(email))
    assert old.status_code == 401 and old.json()["error"]["code"] == "otp_required"
    web = password_step(stack, email, password)
    enrol = web.get("/login/enrol")
    assert enrol.status_code == 200 and "<svg" in enrol.text
    key = re.search(r'class="totp-key"><code>([A-Z2-7 ]+)</code>', enrol.text)
    assert key and key[1].replace(" ", "") != OTP_SECRETS[email]  # a new secret
    reset = audited(uid, "user.second_factor_reset")
    assert [(e.actor, e.data["was_enrolled"]) for e in reset] == [("staff:some-admin", True)]


def test_the_cli_prints_the_uri_once_and_resets(stack: harness.Stack) -> None:
    email = f"market-{uuid.uuid4().hex[:8]}@cli.mvq"
    made = harness.run_cli(["admin", "create-user", email, "--role", "marketplace"], stack.env)
    assert made.returncode == 0, made.stderr
    lines = dict(line.split(": ", 1) for line in made.stdout.strip().splitlines())
    assert lines["otpauth"].startswith("otpauth://totp/")
    totp = pyotp.parse_uri(lines["otpauth"])
    assert isinstance(totp, pyotp.TOTP)
    assert token(stack, email, lines["password"]).json()["error"]["code"] == "otp_required"
    assert token(stack, email, lines["password"], otp=totp.now()).status_code == 200
    reviewer = harness.run_cli(["admin", "create-user", f"r{email}", "--role", "reviewer"],
                               stack.env)  # fmt: skip
    assert reviewer.returncode == 0 and "otpauth" not in reviewer.stdout
    reset = harness.run_cli(["admin", "reset-2fa", email], stack.env)
    assert reset.returncode == 0, reset.stderr
    after = token(stack, email, lines["password"], otp=totp.now())
    assert after.json()["error"]["code"] == "otp_required"
    assert audited(user_id_of(email), "user.second_factor_reset")[0].actor == "cli:admin"
    unknown = harness.run_cli(["admin", "reset-2fa", "nobody@cli.mvq"], stack.env)
    assert unknown.returncode == 1 and "no user" in unknown.stderr


def test_a_reviewer_needs_none_unless_the_setting_says_so(stack: harness.Stack) -> None:
    email, password = make_login(Role.reviewer)
    assert email not in OTP_SECRETS
    assert token(stack, email, password).status_code == 200
    web = password_step(stack, email, password)
    assert web.cookies.get("mvq_session") and web.get("/review").status_code == 200


@pytest.fixture
def strict_stack(backing: harness.Backing, database: str) -> Iterator[harness.Stack]:
    strict = harness.start_stack(
        backing, database, extra_env={"MVQ_REVIEWER_TOTP_REQUIRED": "true"}
    )
    try:
        yield strict
    finally:
        strict.group.stop()


def test_reviewers_need_one_when_the_setting_says_so(
    stack: harness.Stack, strict_stack: harness.Stack
) -> None:
    email, password = make_login(Role.reviewer)  # made before: not enrolled
    unit_email, unit_password = make_login(Role.unit, unit_id=_a_unit())
    refused = token(strict_stack, email, password)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "otp_required"
    web = password_step(strict_stack, email, password)
    assert web.get("/login/code").headers["location"].startswith("/login/enrol")
    # A unit's member never needs one.
    member = password_step(strict_stack, unit_email, unit_password)
    assert member.cookies.get("mvq_session")


def _a_unit() -> str:
    with session_factory()() as session:
        unit, _ = auth.create_unit(session, name=f"unit-{uuid.uuid4().hex[:8]}", actor="test")
        session.commit()
        return unit.id


def try_code(email: str, *, steps_from_now: int, now: datetime) -> str:
    """The code of the step `steps_from_now` away from `now`, given to the product's check at
    `now`: "accepted", or the refusal's code."""
    code = pyotp.TOTP(OTP_SECRETS[email]).at(now + timedelta(seconds=30 * steps_from_now))
    with session_factory()() as session:
        user = session.scalars(select(StaffUser).where(StaffUser.email == email)).one()
        try:
            second_factor.verify(session, user=user, code=code, client="window", now=now,
                                 via="api")  # fmt: skip
        except Unauthenticated as refused:
            session.commit()  # as the caller does: the failure's audit stays
            return refused.code
        session.commit()
        return "accepted"


def test_a_code_one_step_either_side_passes_two_steps_do_not_and_none_passes_twice(
    stack: harness.Stack,
) -> None:
    # A fixed moment in the middle of a step: no boundary is crossed while the test runs.
    now = datetime.fromtimestamp((datetime.now(UTC).timestamp() // 30) * 30 + 15, UTC)
    seen = {
        steps: try_code(make_login(Role.senior)[0], steps_from_now=steps, now=now)
        for steps in (-2, -1, 0, 1, 2)
    }  # a person of their own for each, so that no earlier code counts as used
    assert seen == {-2: "bad_otp", -1: "accepted", 0: "accepted", 1: "accepted", 2: "bad_otp"}
    email, _ = make_login(Role.senior)
    assert try_code(email, steps_from_now=0, now=now) == "accepted"
    assert try_code(email, steps_from_now=0, now=now) == "bad_otp"  # the same code again
    assert try_code(email, steps_from_now=-1, now=now) == "bad_otp"  # an older one
    assert try_code(email, steps_from_now=1, now=now) == "accepted"  # a later one
