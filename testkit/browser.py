"""Chromium (Debian's, driven by Playwright): its flags, and one person at one browser."""

import os
from pathlib import Path

from playwright.sync_api import Browser, BrowserContext, Page

from mvq.auth.models import Role
from testkit import harness
from testkit.people import make_login, otp_for

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--autoplay-policy=no-user-gesture-required",
]
ARTIFACTS = Path(os.environ.get("MVQ_ARTIFACTS_DIR", Path(__file__).parents[1] / "artifacts"))


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
