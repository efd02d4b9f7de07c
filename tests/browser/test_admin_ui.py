"""`/admin` in Chromium at a laptop (1366x768) and a phone (390x844): units, staff, service
accounts and webhooks, with a unit, a member of staff and an endpoint on it; nothing scrolls
sideways, axe-core finds nothing serious, and a unit is made from the keyboard alone with its
token shown once. Screenshots: artifacts/admin-<width>.png, artifacts/admin-unit-<width>.png."""

import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from mvq.auth import accounts
from mvq.auth.models import Role
from mvq.auth.policy import OPERATOR
from mvq.auth.principal import Principal
from mvq.db import session_factory, utcnow
from mvq.webhooks import service as webhooks
from testkit import harness
from testkit.browser import Reviewer
from tests.browser import axe

SIZES = {1366: {"width": 1366, "height": 768}, 390: {"width": 390, "height": 844}}


@pytest.fixture(scope="module")
def unit_id(stack: harness.Stack) -> str:
    with session_factory()() as session:
        unit, _ = accounts.create_unit(session, principal=OPERATOR, name="Recon Team 7")
        accounts.add_member(session, principal=OPERATOR, unit_id=unit.id,
                            email="pilot.one@example.org")  # fmt: skip
        accounts.create_staff(session, principal=OPERATOR, email="reviewer.two@example.org",
                              role="reviewer", unit_id=unit.id)  # fmt: skip
        accounts.create_staff(session, principal=OPERATOR, email="shop@example.org",
                              role="marketplace", unit_id=None)  # fmt: skip
        root = Principal(kind="staff", id="test", role=Role.admin)
        webhooks.register(session, admin=root, url="https://hooks.example.org/mvq/ledger",
                          events=["ledger.award", "ledger.debit"], unit_id=unit.id,
                          allow_private_network=True, now=utcnow())  # fmt: skip
        session.commit()
        return unit.id


@pytest.fixture(scope="module")
def admin(browser: Browser, stack: harness.Stack) -> Iterator[Reviewer]:
    person = Reviewer(browser, stack, Role.admin)
    person.login()
    yield person
    person.close()


@pytest.mark.parametrize("width", list(SIZES))
def test_admin_reads_at_a_laptop_and_a_phone(admin: Reviewer, unit_id: str, width: int) -> None:
    page = admin.page
    page.set_viewport_size(SIZES[width])
    page.goto("/admin")
    expect(page.locator("#units")).to_contain_text("Recon Team 7")
    expect(page.locator("#staff")).to_contain_text("reviewer.two@example.org")
    expect(page.locator("#service-accounts")).to_contain_text("shop@example.org")
    expect(page.locator("#webhooks")).to_contain_text("hooks.example.org")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    admin.screenshot(f"admin-{width}")
    axe.assert_no_serious_violations(page, f"/admin at {width}px")
    page.goto(f"/admin/units/{unit_id}")
    expect(page.locator("#members")).to_contain_text("pilot.one@example.org")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    admin.screenshot(f"admin-unit-{width}")
    axe.assert_no_serious_violations(page, f"a unit's admin page at {width}px")


def test_a_unit_is_made_from_the_keyboard(admin: Reviewer) -> None:
    page = admin.page
    page.set_viewport_size(SIZES[390])
    page.goto("/admin")
    name = f"Keyboard {uuid.uuid4().hex[:6]}"
    page.focus("#unit-name")
    page.keyboard.type(name)
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_contain_text("The unit's new API token")
    token = page.locator("input[data-secret]").input_value()
    assert token.startswith("mvqu_")
    back = page.get_by_role("link", name="Done: back to the page")
    back.focus()
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_contain_text(name)
    assert token not in page.content()
