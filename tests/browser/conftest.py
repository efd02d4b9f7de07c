"""Chromium (Debian's, driven by Playwright) against the real stack on Postgres, with
footage uploaded and processed by the real workers."""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from mvq.auth.models import Role
from mvq.db import session_factory, utcnow
from mvq.rules import service as rules
from tests import harness
from tests.integration.conftest import make_login, make_unit, otp_for

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--autoplay-policy=no-user-gesture-required",
]
ARTIFACTS = Path(os.environ.get("MVQ_ARTIFACTS_DIR", Path(__file__).parents[2] / "artifacts"))


@pytest.fixture(scope="module")
def database(backing: harness.Backing) -> Iterator[str]:
    url = harness.fresh_database(backing, "postgres")
    harness.use_env({**backing.env, "MVQ_DATABASE_URL": url})
    with session_factory(url)() as session:
        rules.seed_demo_rules(session, now=utcnow())
        session.commit()
    yield url


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("browser-footage")


@pytest.fixture(scope="module")
def unit_token(database: str) -> str:
    with session_factory()() as session:
        return make_unit(session)[1]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Reviewer:
    """One person at one browser: a context of their own, logged in through the form."""

    def __init__(
        self, browser: Browser, stack: harness.Stack, role: Role, *, unit_id: str | None = None
    ) -> None:
        # `unit_id`: the unit a member acts for (Role.unit).
        self.email, self.password = make_login(role, unit_id=unit_id)
        self.home = "/unit" if role == Role.unit else "/review"
        # English pages (Accept-Language: en-US), as the tests assert, whatever the host's
        # locale and the site's default (uk).
        self.context: BrowserContext = browser.new_context(base_url=stack.url, locale="en-US")
        self.page: Page = self.context.new_page()

    def login(self) -> Page:
        self.page.goto(self.home)  # bounced to the login form
        self.page.fill('input[name="email"]', self.email)
        self.page.fill('input[name="password"]', self.password)
        self.page.press('input[name="password"]', "Enter")
        self.page.wait_for_url(lambda url: self.home in url or "/login/code" in url)
        if "/login/code" in self.page.url:  # a role with a second factor
            self.page.fill('input[name="code"]', otp_for(self.email))
            self.page.press('input[name="code"]', "Enter")
        self.page.wait_for_url(f"**{self.home}")
        return self.page

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def close(self) -> None:
        self.context.close()
