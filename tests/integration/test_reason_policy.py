"""The written policy behind each decision reason: admins append versions in Ukrainian and
English, never rewrite one; reviewers read the current version in their language from the
decision panel's links; admins read the history."""

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import DatabaseError

from mvq.audit.models import AuditEvent
from mvq.auth.models import Role
from mvq.db import session_factory
from mvq.review.models import ReasonPolicy
from testkit import harness
from testkit.people import Accounts, make_login, web_login
from tests.helpers import queued_item

UK = "Ціль не видно: на жодному кадрі не можна впізнати ціль."
EN_1 = "Target not visible: no frame shows the target well enough to name it."
EN_2 = "Target not visible: no frame shows the target well enough to name its type."


def test_admins_append_versions_and_reviewers_read_the_current_one(
    stack: harness.Stack, accounts: Accounts, empty_queue: None
) -> None:
    admin = web_login(stack, *make_login(Role.admin))

    def save(en: str) -> str:
        done = admin.client.post("/admin/policies", data={
            "csrf_token": admin.csrf, "reason_code": "not_visible", "text_uk": UK,
            "text_en": en})  # fmt: skip
        assert done.status_code == 303, done.text
        return done.headers["location"]

    assert save(EN_1).endswith("done=policy_saved")
    assert save(EN_1).endswith("done=policy_unchanged")  # no version for an unchanged save
    assert save(EN_2).endswith("done=policy_saved")
    refused = admin.client.post("/admin/policies", data={
        "csrf_token": admin.csrf, "reason_code": "not_visible", "text_uk": " ",
        "text_en": EN_2})  # fmt: skip
    assert refused.status_code == 422 and "in Ukrainian and in English" in refused.text
    with session_factory()() as session:
        versions = list(session.scalars(select(ReasonPolicy)
                                        .where(ReasonPolicy.reason_code == "not_visible")
                                        .order_by(ReasonPolicy.version)))  # fmt: skip
        assert [(v.version, v.text_en) for v in versions] == [(1, EN_1), (2, EN_2)]
        ids = [v.id for v in versions]
        events = list(session.scalars(select(AuditEvent.action)
                                      .where(AuditEvent.object_id.in_(ids))))  # fmt: skip
        assert events == ["policy.version_created"] * 2
    with session_factory()() as session, pytest.raises(DatabaseError):
        session.execute(update(ReasonPolicy).values(text_en="rewritten"))
        session.commit()
    history = admin.client.get("/policies/not_visible").text
    assert 'id="policy-history"' in history and EN_1 in history and EN_2 in history

    reviewer = web_login(stack, *make_login(Role.reviewer))
    page = reviewer.client.get("/policies/not_visible").text
    assert EN_2 in page and EN_1 not in page and 'id="policy-history"' not in page
    page = reviewer.client.get("/policies/not_visible", headers={"Accept-Language": "uk"}).text
    assert UK in page and EN_2 not in page
    assert reviewer.client.get("/policies/no_such_reason").status_code == 404
    # The decision panel links each reason to its policy.
    with session_factory()() as session:
        item = queued_item(session, accounts.unit_id)
    reviewer.client.post(f"/review/{item.id}/claim", data={"csrf_token": reviewer.csrf})
    panel = reviewer.client.get(f"/review/{item.id}").text
    for code in ("approve", "not_visible", "wrong_target"):
        assert f'href="/policies/{code}"' in panel, code
