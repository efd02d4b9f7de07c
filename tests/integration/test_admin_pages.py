"""`/admin` through the browser-less web client: every action by form (with its CSRF token),
each with its audit event naming the admin and never the secret; a token, password or secret
shown once, on the answer to its form, and on no page after; nobody changes their own role or
deactivates themselves, and the last active admin stays; a deactivated unit's token and member
are refused."""

import json
import re
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from mvq.audit.models import AuditEvent
from mvq.auth import accounts
from mvq.auth import service as auth
from mvq.auth.models import Role, StaffUser
from mvq.auth.policy import OPERATOR
from mvq.db import session_factory, utcnow
from mvq.errors import Conflict, Unauthenticated
from mvq.rules import labels
from testkit import harness
from testkit.people import Accounts, Browserless, make_login, web_login

HTML = {"Accept": "text/html"}


class Admin:
    def __init__(self, stack: harness.Stack) -> None:
        email, password = make_login(Role.admin)
        self.web: Browserless = web_login(stack, email, password)
        with session_factory()() as session:
            self.id = session.scalar(select(StaffUser.id).where(StaffUser.email == email))
        self.actor = f"staff:{self.id}"

    def get(self, path: str) -> httpx.Response:
        return self.web.client.get(path, headers=HTML)

    def post(self, path: str, **form: Any) -> httpx.Response:
        data = {"csrf_token": self.web.csrf, **form}
        return self.web.client.post(path, data=data, headers=HTML)


@pytest.fixture(scope="module")
def admin(stack: harness.Stack, accounts: Accounts) -> Admin:
    return Admin(stack)


def shown_once(response: httpx.Response, pattern: str) -> str:
    """The secret on a form's answer: there exactly once, and not to be cached."""
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    found = re.findall(pattern, response.text)
    assert len(found) == 1, found
    return str(found[0])


def events(action: str, object_id: str) -> list[AuditEvent]:
    with session_factory()() as session:
        return list(session.scalars(select(AuditEvent).where(
            AuditEvent.action == action, AuditEvent.object_id == object_id
        ).order_by(AuditEvent.seq)))  # fmt: skip


def audited(admin: Admin, action: str, object_id: str, *secrets: str) -> AuditEvent:
    found = events(action, object_id)
    assert found, (action, object_id)
    event = found[-1]
    assert event.actor == admin.actor
    for secret in secrets:
        assert secret not in json.dumps(event.data)
    return event


def unit_id_of(page: httpx.Response) -> str:
    found = re.search(r"<code>([0-9a-f-]{36})</code>", page.text)
    assert found, page.text
    return found[1]


def user_id_of(email: str) -> str:
    with session_factory()() as session:
        return str(session.scalar(select(StaffUser.id).where(StaffUser.email == email)))


def password_works(email: str, password: str) -> bool:
    with session_factory()() as session:
        try:
            auth.check_password(session, email=email, password=password)
        except Unauthenticated:
            return False
    return True


def token_works(stack: harness.Stack, token: str, path: str = "/api/v1/units/me/ledger") -> bool:
    with stack.client(token) as api:
        status = api.get(path).status_code
    assert status in {200, 401}, status
    return status == 200


def test_a_unit_its_tokens_members_and_deactivation(stack: harness.Stack, admin: Admin) -> None:
    name = f"Recon {uuid.uuid4().hex[:6]}"
    made = admin.post("/admin/units", name=name)
    first = shown_once(made, r"mvqu_[A-Za-z0-9_-]{20,}")
    unit_id = unit_id_of(made)
    audited(admin, "unit.created", unit_id, first)
    assert token_works(stack, first)
    page = admin.get(f"/admin/units/{unit_id}")
    assert page.status_code == 200 and name in page.text and first not in page.text
    assert first not in admin.get("/admin").text

    again = admin.post("/admin/units", name=name)
    assert again.status_code == 409 and "A unit with that name exists already." in again.text

    renamed = admin.post(f"/admin/units/{unit_id}/rename", name=f"{name} B")
    assert renamed.status_code == 303
    assert audited(admin, "unit.renamed", unit_id).data == {"from": name, "to": f"{name} B"}

    email = f"pilot-{uuid.uuid4().hex[:6]}@web.mvq"
    added = admin.post(f"/admin/units/{unit_id}/members", email=email)
    password = shown_once(added, r'value="([A-Za-z0-9_-]{20})"')
    member_id = user_id_of(email)
    audited(admin, "user.created", member_id, password)
    assert password_works(email, password)
    assert email in admin.get(f"/admin/units/{unit_id}").text
    member = web_login(stack, email, password)
    assert member.client.get("/unit", headers=HTML).status_code == 200

    second = shown_once(admin.post(f"/admin/units/{unit_id}/tokens"), r"mvqu_[A-Za-z0-9_-]{20,}")
    audited(admin, "unit.token_created", unit_id, second)
    assert token_works(stack, first) and token_works(stack, second)

    rotated = admin.post(f"/admin/units/{unit_id}/tokens/rotate", grace_minutes="0")
    third = shown_once(rotated, r"mvqu_[A-Za-z0-9_-]{20,}")
    assert audited(admin, "unit.token_rotated", unit_id, third).data == {"grace_seconds": 0}
    assert not token_works(stack, first) and not token_works(stack, second)
    assert token_works(stack, third)
    graced = admin.post(f"/admin/units/{unit_id}/tokens/rotate", grace_minutes="60")
    fourth = shown_once(graced, r"mvqu_[A-Za-z0-9_-]{20,}")
    assert token_works(stack, third) and token_works(stack, fourth)  # the grace runs
    assert "ends soon" in admin.get(f"/admin/units/{unit_id}").text

    revoked = admin.post(f"/admin/units/{unit_id}/tokens/revoke")
    assert revoked.status_code == 303
    assert audited(admin, "unit.tokens_revoked", unit_id).data == {"count": 2}
    assert not token_works(stack, third) and not token_works(stack, fourth)

    fifth = shown_once(admin.post(f"/admin/units/{unit_id}/tokens"), r"mvqu_[A-Za-z0-9_-]{20,}")
    unconfirmed = admin.post(f"/admin/units/{unit_id}/deactivate")
    assert unconfirmed.status_code == 422 and "Tick the box to confirm." in unconfirmed.text
    assert token_works(stack, fifth)
    off = admin.post(f"/admin/units/{unit_id}/deactivate", confirm="yes")
    assert off.status_code == 303
    event = audited(admin, "unit.deactivated", unit_id)
    assert event.data == {"tokens_revoked": 1, "members_disabled": 1}
    assert audited(admin, "user.deactivated", member_id).data["reason"] == "unit_deactivated"
    # The unit's token and its member are refused; nothing is deleted.
    assert not token_works(stack, fifth)
    assert not password_works(email, password)
    assert member.client.get("/unit", headers=HTML).status_code == 303  # back to the login
    page = admin.get(f"/admin/units/{unit_id}")
    assert "deactivated" in page.text and email in page.text
    refused = admin.post(f"/admin/units/{unit_id}/tokens")
    assert refused.status_code == 409 and "The unit is deactivated." in refused.text
    later = admin.post(f"/admin/units/{unit_id}/members", email=f"x{email}")
    assert later.status_code == 409
    with stack.client(admin_token(stack)) as api:  # nor does the API revive it
        assert api.post(f"/api/v1/units/{unit_id}/token/rotate").status_code == 409


def admin_token(stack: harness.Stack) -> str:
    with session_factory()() as session:
        user, _ = auth.create_user(session, email=f"api-{uuid.uuid4().hex[:8]}@web.mvq",
                                   role=Role.admin, unit_id=None, actor="test")  # fmt: skip
        token = auth.issue_staff_token(session, user=user, now=utcnow(), second_factor=True)
        session.commit()
    return token


def test_staff_role_link_password_second_factor_and_deactivation(
    stack: harness.Stack, admin: Admin, accounts: Accounts
) -> None:
    email = f"rev-{uuid.uuid4().hex[:6]}@web.mvq"
    made = admin.post("/admin/users", email=email, role="reviewer", unit_id="")
    password = shown_once(made, r'value="([A-Za-z0-9_-]{20})"')
    user_id = user_id_of(email)
    audited(admin, "user.created", user_id, password)
    assert password_works(email, password)
    page = admin.get(f"/admin/users/{user_id}")
    assert page.status_code == 200 and password not in page.text
    assert email in admin.get("/admin").text

    assert admin.post(f"/admin/users/{user_id}/role", role="senior").status_code == 303
    assert audited(admin, "user.role_changed", user_id).data == {
        "email": email, "from": "reviewer", "to": "senior", "credentials_ended": 0}  # fmt: skip
    bad = admin.post(f"/admin/users/{user_id}/role", role="unit")
    assert bad.status_code == 422 and "Choose a staff role." in bad.text

    unit = accounts.other_unit_id
    assert admin.post(f"/admin/users/{user_id}/unit", unit_id=unit).status_code == 303
    assert audited(admin, "user.unit_linked", user_id).data["unit_id"] == unit
    assert admin.post(f"/admin/users/{user_id}/unit", unit_id="").status_code == 303
    assert audited(admin, "user.unit_unlinked", user_id).data["unit_id"] == unit

    reset = admin.post(f"/admin/users/{user_id}/password")
    new_password = shown_once(reset, r'value="([A-Za-z0-9_-]{20})"')
    audited(admin, "user.password_reset", user_id, password, new_password)
    assert not password_works(email, password) and password_works(email, new_password)

    assert admin.post(f"/admin/users/{user_id}/second-factor").status_code == 303
    audited(admin, "user.second_factor_reset", user_id)

    off = admin.post(f"/admin/users/{user_id}/deactivate", confirm="yes")
    assert off.status_code == 303
    audited(admin, "user.deactivated", user_id)
    assert not password_works(email, new_password)
    assert "deactivated" in admin.get(f"/admin/users/{user_id}").text


def test_nobody_changes_their_own_role_and_the_last_admin_stays(admin: Admin) -> None:
    own = admin.post(f"/admin/users/{admin.id}/role", role="reviewer")
    assert own.status_code == 409
    assert "You cannot change your own role or deactivate your own account." in own.text
    own = admin.post(f"/admin/users/{admin.id}/deactivate", confirm="yes")
    assert own.status_code == 409
    assert not events("user.role_changed", str(admin.id))
    assert admin.get("/admin").status_code == 200  # still an admin
    # The last active admin cannot be demoted or deactivated, whoever asks (here the command
    # line, which has no account of its own); tried in a transaction that is rolled back.
    with session_factory()() as session:
        others = session.scalars(select(StaffUser).where(
            StaffUser.role == Role.admin, StaffUser.disabled_at.is_(None),
            StaffUser.id != admin.id)).all()  # fmt: skip
        for other in others:
            accounts.deactivate_user(session, principal=OPERATOR, user_id=other.id,
                                     now=utcnow())  # fmt: skip
        assert admin.id is not None
        with pytest.raises(Conflict) as demoted:
            accounts.change_role(session, principal=OPERATOR, user_id=admin.id,
                                 role="auditor", now=utcnow())  # fmt: skip
        assert demoted.value.code == "last_admin" and demoted.value.status == 409
        with pytest.raises(Conflict) as removed:
            accounts.deactivate_user(session, principal=OPERATOR, user_id=admin.id,
                                     now=utcnow())  # fmt: skip
        assert removed.value.code == "last_admin"
        session.rollback()


def test_a_service_account_and_its_token(stack: harness.Stack, admin: Admin,
                                         accounts: Accounts) -> None:  # fmt: skip
    email = f"shop-{uuid.uuid4().hex[:6]}@web.mvq"
    made = admin.post("/admin/users", email=email, role="marketplace")
    shown_once(made, r'value="([A-Za-z0-9_-]{20})"')
    user_id = user_id_of(email)
    # What the marketplace may read before it spent for any unit: its own webhooks.
    readable = "/api/v1/webhooks"
    token = shown_once(admin.post(f"/admin/users/{user_id}/token"), r"mvqs_[A-Za-z0-9_-]{20,}")
    audited(admin, "user.token_issued", user_id, token)
    assert token_works(stack, token, readable)
    newer = shown_once(admin.post(f"/admin/users/{user_id}/token"), r"mvqs_[A-Za-z0-9_-]{20,}")
    assert audited(admin, "user.token_issued", user_id, newer).data["tokens_revoked"] == 1
    assert not token_works(stack, token, readable) and token_works(stack, newer, readable)
    assert newer not in admin.get(f"/admin/users/{user_id}").text
    assert admin.post(f"/admin/users/{user_id}/deactivate", confirm="yes").status_code == 303
    assert not token_works(stack, newer, readable)


def test_webhooks_register_rotate_disable_and_log(admin: Admin) -> None:
    url = f"http://127.0.0.1:9/hook-{uuid.uuid4().hex[:6]}"
    refused = admin.post("/admin/webhooks", url=url, events=["ledger.award"])
    assert refused.status_code == 422 and "That address is not allowed" in refused.text
    made = admin.post("/admin/webhooks", url=url, events=["ledger.award", "decision.made"],
                      allow_private_network="yes")  # fmt: skip
    secret = shown_once(made, r"whsec_[A-Za-z0-9+/=]{20,}")
    endpoint_id = re.search(r'href="/admin/webhooks/([0-9a-f-]{36})"', made.text)
    assert endpoint_id, made.text
    audited(admin, "webhook.registered", endpoint_id[1], secret)
    page = admin.get(f"/admin/webhooks/{endpoint_id[1]}")
    assert page.status_code == 200 and "Delivery log" in page.text and secret not in page.text
    rotated = shown_once(admin.post(f"/admin/webhooks/{endpoint_id[1]}/rotate"),
                         r"whsec_[A-Za-z0-9+/=]{20,}")  # fmt: skip
    assert rotated != secret
    audited(admin, "webhook.secret_rotated", endpoint_id[1], secret, rotated)
    assert admin.post(f"/admin/webhooks/{endpoint_id[1]}/disable").status_code == 303
    audited(admin, "webhook.disabled", endpoint_id[1])
    assert "disabled" in admin.get(f"/admin/webhooks/{endpoint_id[1]}").text


def test_labels_in_both_languages(admin: Admin) -> None:
    page = admin.get("/admin/labels")
    assert page.status_code == 200 and "not_visible" in page.text and "tank" in page.text
    # Issue 31: the column headers printed `LanguageLink(code='uk', ...)` (the header's language
    # switch, under the same name) and every lang attribute was that object.
    assert "LanguageLink" not in page.text
    assert '<th scope="col" lang="uk">Українська</th><th scope="col" lang="en">English</th>' in (
        page.text
    )
    assert not re.search(r'lang="(?!uk"|en")', page.text)
    # An empty field shows the words mvq ships, in its own column's language.
    assert 'name="uk" maxlength="200" lang="uk" value="" placeholder="танк"' in page.text
    assert 'name="en" maxlength="200" lang="en" value="" placeholder="tank"' in page.text
    saved = admin.post("/admin/labels", kind="target_type", code=["tank"], uk=["Танк"],
                       en=["Main battle tank"])  # fmt: skip
    assert saved.status_code == 303
    audited(admin, "label.changed", "target_type:tank:uk")
    assert audited(admin, "label.changed", "target_type:tank:en").data["to"] == "Main battle tank"
    with session_factory()() as session:
        assert labels.label(session, "target_type", "tank", "uk") == "Танк"
        assert labels.label(session, "reject_reason", "not_visible", "en") == "not_visible"
    admin.post("/admin/labels", kind="reject_reason", code=["not_visible"], uk=[""],
               en=["Cannot see the target"])  # fmt: skip
    admin.post("/admin/labels", kind="target_type", code=["tank"], uk=[""], en=["Main battle tank"])
    with session_factory()() as session:
        assert (
            labels.label(session, "reject_reason", "not_visible", "en") == "Cannot see the target"
        )
        assert labels.label(session, "target_type", "tank", "uk") == "tank"  # back to the code
    unknown = admin.post("/admin/labels", kind="reject_reason", code=["nope"], uk=["x"], en=["y"])
    assert unknown.status_code == 422
    assert "Cannot see the target" in admin.get("/admin/labels").text


def test_the_command_line_deactivates_and_resets(stack: harness.Stack, admin: Admin) -> None:
    email, password = make_login(Role.auditor)
    reset = harness.run_cli(["admin", "reset-password", email], stack.env)
    assert reset.returncode == 0, reset.stderr
    new = reset.stdout.split("password: ")[1].strip()
    assert password_works(email, new) and not password_works(email, password)
    off = harness.run_cli(["admin", "deactivate-user", email], stack.env)
    assert off.returncode == 0, off.stderr
    assert not password_works(email, new)
    assert events("user.deactivated", user_id_of(email))[-1].actor == "cli:admin"
