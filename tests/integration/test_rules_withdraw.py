"""The rules editor and withdrawals on both databases: a scheduled version withdrawn before it
takes effect is never in force and stays on record; once in force it cannot be withdrawn; the
editor starts from the version in force, asks before any rule disappears and keeps a draft it
cannot read."""

import html
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from mvq.audit.models import AuditEvent
from mvq.auth import policy
from mvq.auth.models import Role
from mvq.db import session_factory, utcnow
from mvq.errors import Conflict
from mvq.rules import service as rules
from mvq.rules.models import RuleVersion
from testkit import harness
from testkit.people import Accounts, make_login, web_login

HTML = {"Accept": "text/html"}


def scheduled(days: int, rows: list[rules.RuleRow], minutes: int = 0) -> str:
    start = utcnow() + timedelta(days=days, minutes=minutes)
    with session_factory()() as session:
        version = rules.create_version(
            session, editor=policy.OPERATOR, effective_from=start, rows=rows, now=utcnow(),
        )  # fmt: skip
        session.commit()
        return version.id


def test_a_withdrawn_version_is_never_in_force_and_stays_on_record(accounts: Accounts) -> None:
    version_id = scheduled(400, [rules.RuleRow("tank", "destroyed", 999)])
    later = utcnow() + timedelta(days=401)
    with session_factory()() as session:
        assert rules.price_table(session, at=later).worth("tank", "destroyed") == 999
        rules.withdraw(session, editor=policy.OPERATOR, version_id=version_id, now=utcnow())
        session.commit()
    with session_factory()() as session:
        # The version before it prices the hit again; the withdrawn one is still in the history.
        assert rules.price_table(session, at=later).worth("tank", "destroyed") == 40
        assert version_id in {v.id for v in rules.history(session)}
        event = session.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "rules.version_withdrawn", AuditEvent.object_id == version_id
            )
        )
        assert event is not None and event.actor == policy.OPERATOR.actor
        with pytest.raises(Conflict) as again:
            rules.withdraw(session, editor=policy.OPERATOR, version_id=version_id, now=utcnow())
        assert again.value.code == "rules_withdrawn"
        in_force = rules.version_in_force(session, at=utcnow())
        assert in_force is not None
        with pytest.raises(Conflict) as too_late:
            rules.withdraw(session, editor=policy.OPERATOR, version_id=in_force.id, now=utcnow())
        assert too_late.value.code == "rules_in_force"
    # Minutes before its start a claim stated a little ahead of the clock may be priced by it.
    # (The demo figures again: it does take effect, and the later tests price with it.)
    imminent = scheduled(0, [rules.RuleRow(*rule) for rule in rules.DEMO_RULES], minutes=3)
    with session_factory()() as session:
        with pytest.raises(Conflict) as imminent_refused:
            rules.withdraw(session, editor=policy.OPERATOR, version_id=imminent, now=utcnow())
        assert imminent_refused.value.code == "rules_in_force"


def test_the_database_allows_a_version_only_to_be_withdrawn(accounts: Accounts) -> None:
    version_id = scheduled(500, [rules.RuleRow("tank", "destroyed", 1)])
    for statement in (
        "UPDATE rule_versions SET effective_from = effective_from WHERE id = :id",
        "DELETE FROM rule_versions WHERE id = :id",
    ):
        with session_factory()() as session:
            with pytest.raises(DBAPIError):
                session.execute(text(statement), {"id": version_id})
                session.flush()
            session.rollback()
    with session_factory()() as session:
        rules.withdraw(session, editor=policy.OPERATOR, version_id=version_id, now=utcnow())
        session.commit()
    with session_factory()() as session:  # withdrawn once, never "un-withdrawn"
        with pytest.raises(DBAPIError):
            session.execute(
                text("UPDATE rule_versions SET withdrawn_at = NULL WHERE id = :id"),
                {"id": version_id},
            )
        session.rollback()
        assert session.get_one(RuleVersion, version_id).withdrawn_at is not None


def test_the_api_withdraws_a_scheduled_version_and_refuses_one_in_force(
    stack: harness.Stack, accounts: Accounts
) -> None:
    version_id = scheduled(600, [rules.RuleRow("apc", "destroyed", 3)])
    with stack.client(accounts.staff_tokens["reviewer"]) as reviewer:
        assert reviewer.post(f"/api/v1/scoring/rules/{version_id}/withdraw").status_code == 403
    with stack.client(accounts.staff_tokens["admin"]) as admin:
        done = admin.post(f"/api/v1/scoring/rules/{version_id}/withdraw")
        assert done.status_code == 200, done.text
        assert done.json()["withdrawn_at"] is not None
        again = admin.post(f"/api/v1/scoring/rules/{version_id}/withdraw")
        assert again.status_code == 409 and again.json()["error"]["code"] == "rules_withdrawn"
        in_force = admin.get("/api/v1/scoring/rules").json()["in_force"]
        assert in_force["id"] != version_id and in_force["withdrawn_at"] is None
        refused = admin.post(f"/api/v1/scoring/rules/{in_force['id']}/withdraw")
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "rules_in_force"
        assert admin.post("/api/v1/scoring/rules/no-such-id/withdraw").status_code == 404


def textarea(page: str, form_id: str) -> str:
    form = page[page.index(f'id="{form_id}"') :]
    found = re.search(r"<textarea[^>]*>(.*?)</textarea>", form, re.S)
    assert found, form[:500]
    return html.unescape(found[1])


def test_the_editor_starts_from_the_version_in_force_and_asks_before_rules_go(
    stack: harness.Stack, accounts: Accounts
) -> None:
    web = web_login(stack, *make_login(Role.admin))
    page = web.client.get("/scoring/rules", headers=HTML)
    with session_factory()() as session:
        in_force = rules.version_in_force(session, at=utcnow())
        assert in_force is not None
        expected = rules.as_text(rules.rules_of(session, version_id=in_force.id))
    assert textarea(page.text, "rules-form") == expected
    assert "tank destroyed 40" in expected

    when = (datetime.now(UTC) + timedelta(days=700)).strftime("%Y-%m-%dT%H:%M")
    kept = "\n".join(line for line in expected.splitlines() if not line.startswith("apc "))
    form = {"csrf_token": web.csrf, "effective_from": when, "rules": kept, "action": "save"}

    def versions() -> int:
        with session_factory()() as session:
            return len(rules.history(session))

    before = versions()
    asked = web.client.post("/scoring/rules", data=form, headers=HTML)
    assert asked.status_code == 200, asked.text
    assert "Yes, remove these 2 rules" in asked.text
    assert textarea(asked.text, "rules-form") == kept  # the draft is still there
    key = re.search(r'name="confirm_removal" value="([^"]+)"', asked.text)
    assert key and key[1] == "apc/damaged,apc/destroyed"
    assert versions() == before

    # A confirmation covers those rules only: a draft that also drops the tank asks again.
    fewer = "\n".join(line for line in kept.splitlines() if not line.startswith("tank "))
    stale = web.client.post("/scoring/rules", headers=HTML,
                            data={**form, "rules": fewer, "confirm_removal": key[1]})  # fmt: skip
    assert stale.status_code == 200 and "Yes, remove these 4 rules" in stale.text
    assert versions() == before

    saved = web.client.post("/scoring/rules", data={**form, "confirm_removal": key[1]},
                            headers=HTML)  # fmt: skip
    assert saved.status_code == 303, saved.text
    assert versions() == before + 1


def test_a_draft_the_parser_cannot_read_comes_back_with_the_error_beside_it(
    stack: harness.Stack, accounts: Accounts
) -> None:
    web = web_login(stack, *make_login(Role.admin))
    draft = "tank destroyed 40\ntank wrecked lots\n"
    preview = web.client.post("/scoring/preview", headers=HTML, data={
        "csrf_token": web.csrf, "since": "2026-01-01", "until": "2026-01-31", "rules": draft,
    })  # fmt: skip
    assert preview.status_code == 422
    assert textarea(preview.text, "preview-form") == draft
    assert 'id="preview-error"' in preview.text and "Line 2 (tank wrecked lots)" in preview.text
    assert 'value="2026-01-01"' in preview.text

    when = (datetime.now(UTC) + timedelta(days=800)).strftime("%Y-%m-%dT%H:%M")
    save = web.client.post("/scoring/rules", headers=HTML, data={
        "csrf_token": web.csrf, "effective_from": when, "rules": draft, "action": "save",
    })  # fmt: skip
    assert save.status_code == 422
    assert textarea(save.text, "rules-form") == draft
    assert 'id="rules-error"' in save.text

    # A draft the service refuses (a start in the past) comes back the same way.
    past = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    good = "tank destroyed 40\n"
    refused = web.client.post("/scoring/rules", headers=HTML, data={
        "csrf_token": web.csrf, "effective_from": past, "rules": good, "action": "save",
    })  # fmt: skip
    assert refused.status_code == 422
    assert textarea(refused.text, "rules-form") == good
    assert "must not be in the past" in refused.text


def test_show_changes_saves_nothing(stack: harness.Stack, accounts: Accounts) -> None:
    web = web_login(stack, *make_login(Role.admin))
    with session_factory()() as session:
        before = len(rules.history(session))
    when = (datetime.now(UTC) + timedelta(days=1000)).strftime("%Y-%m-%dT%H:%M")
    shown = web.client.post("/scoring/rules", headers=HTML, data={
        "csrf_token": web.csrf, "effective_from": when, "rules": "tank destroyed 45\n",
        "action": "review",
    })  # fmt: skip
    assert shown.status_code == 200
    diff = shown.text[shown.text.index('id="draft-diff"') :]
    assert re.search(r'<tr class="changed"><td>tank</td><td>destroyed</td><td>45</td>', diff)
    # Reviewing drops rules too, but asks nothing yet: the box is there to tick before saving.
    assert 'name="confirm_removal"' in shown.text and 'id="removal-warning"' not in shown.text
    with session_factory()() as session:
        assert len(rules.history(session)) == before


def test_the_page_withdraws_a_scheduled_version(stack: harness.Stack, accounts: Accounts) -> None:
    version_id = scheduled(900, [rules.RuleRow("mlrs", "destroyed", 7)])
    web = web_login(stack, *make_login(Role.admin))
    page = web.client.get("/scoring/rules", headers=HTML)
    assert f"/scoring/rules/{version_id}/withdraw" in page.text
    done = web.client.post(f"/scoring/rules/{version_id}/withdraw", headers=HTML,
                           data={"csrf_token": web.csrf})  # fmt: skip
    assert done.status_code == 303
    shown = web.client.get(done.headers["location"], headers=HTML)
    assert "will not take effect" in shown.text
    section = shown.text[shown.text.index(f'data-version="{version_id}"') :]
    assert "never in force" in section[:600]
    assert f"/scoring/rules/{version_id}/withdraw" not in shown.text
