"""Dates at the edges of what Python and the databases hold, in the pages' forms and queries:
each is refused as the API refuses it (422 invalid_value), never a 500."""

import pytest

from mvq.auth.models import Role
from testkit import harness
from testkit.people import Browserless, make_login, web_login

HTML = {"Accept": "text/html"}
EXTREME_DAYS = ["0001-01-01", "9999-12-31", "1969-12-31", "2100-01-01"]
RULES = "tank destroyed 10\n"


@pytest.fixture(scope="module")
def auditor(stack: harness.Stack) -> Browserless:
    return web_login(stack, *make_login(Role.auditor))


@pytest.fixture(scope="module")
def admin(stack: harness.Stack) -> Browserless:
    return web_login(stack, *make_login(Role.admin))


def refused(answer: object, what: str) -> None:
    status = answer.status_code  # type: ignore[attr-defined]
    assert status == 422, (what, status, answer.text[:300])  # type: ignore[attr-defined]


@pytest.mark.parametrize("day", EXTREME_DAYS)
def test_the_audit_search_refuses_an_extreme_day(auditor: Browserless, day: str) -> None:
    for field in ("since", "until"):
        refused(auditor.client.get(f"/audit?{field}={day}", headers=HTML), field)


@pytest.mark.parametrize("day", EXTREME_DAYS)
def test_the_audit_export_refuses_an_extreme_day(auditor: Browserless, day: str) -> None:
    for since, until in ((day, "2026-01-01"), ("2026-01-01", day)):
        form = {"since": since, "until": until, "format": "csv", "csrf_token": auditor.csrf}
        answer = auditor.client.post("/audit/export.zip", headers=HTML, data=form)
        refused(answer, f"{since}..{until}")


@pytest.mark.parametrize("day", EXTREME_DAYS)
def test_the_points_preview_refuses_an_extreme_day(admin: Browserless, day: str) -> None:
    for since, until in ((day, "2026-01-01"), ("2026-01-01", day)):
        answer = admin.client.post("/scoring/preview", headers=HTML, data={
            "since": since, "until": until, "rules": RULES, "csrf_token": admin.csrf})  # fmt: skip
        refused(answer, f"{since}..{until}")


@pytest.mark.parametrize("moment", ["0001-01-01T00:00", "9999-12-31T23:59", "2100-01-01T00:00"])
def test_a_rules_version_refuses_an_extreme_moment(admin: Browserless, moment: str) -> None:
    answer = admin.client.post("/scoring/rules", headers=HTML, data={
        "effective_from": moment, "rules": RULES, "csrf_token": admin.csrf})  # fmt: skip
    refused(answer, moment)


def test_days_within_bounds_still_work(auditor: Browserless, admin: Browserless) -> None:
    assert auditor.client.get("/audit?since=1970-01-01&until=2099-12-30", headers=HTML
                              ).status_code == 200  # fmt: skip
    answer = admin.client.post("/scoring/preview", headers=HTML, data={
        "since": "1970-01-01", "until": "2099-12-30", "rules": RULES,
        "csrf_token": admin.csrf})  # fmt: skip
    assert answer.status_code == 200, answer.text[:300]
