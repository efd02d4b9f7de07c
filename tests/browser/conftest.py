"""Chromium (Debian's, driven by Playwright) against the real stack on Postgres, with
footage uploaded and processed by the real workers."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from mvq.db import session_factory, utcnow
from mvq.rules import service as rules
from testkit import harness
from testkit.browser import CHROMIUM, CHROMIUM_ARGS
from testkit.people import make_unit


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
