"""Fixtures: `backing` servers for the whole run; per module a fresh `database` on each
backend (SQLite and Postgres) and, where asked for, a `stack` of API and worker processes."""

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from mvq.db import session_factory
from testkit import harness
from tests import devstack

BACKENDS = ["sqlite", "postgres"]
# Modules that run `make dev` in one shared copy of the tree (whose first start builds a venv).
MAKE_DEV_MODULES = {"tests.integration.test_newcomer", "tests.integration.test_dev_hardening"}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """`make test` runs modules in parallel (pytest-xdist, `--dist loadgroup`), each worker with
    backing servers of its own. A module stays whole on one worker, so its module-scoped stack
    starts once; the `make dev` modules share a worker, so the tree's copy builds one venv."""
    for item in items:
        module = getattr(item.module, "__name__", "") if hasattr(item, "module") else ""
        group = "make-dev" if module in MAKE_DEV_MODULES else module
        item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture(scope="session")
def backing() -> Iterator[harness.Backing]:
    root = Path(tempfile.mkdtemp(prefix="mvq-test-"))
    root.chmod(0o755)  # the Postgres cluster runs as the postgres user and must reach its dir
    backing = harness.start_backing(root)
    try:
        yield backing
    finally:
        backing.group.stop()
        if not os.environ.get("MVQ_KEEP_TEST_DIR"):  # keep logs for a post-mortem
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module", params=BACKENDS)
def database(request: pytest.FixtureRequest, backing: harness.Backing) -> Iterator[str]:
    url = harness.fresh_database(backing, request.param)
    harness.use_env({**backing.env, "MVQ_DATABASE_URL": url})
    from mvq.queue import redis_conn

    redis_conn().flushdb()  # jobs left by an earlier module's workers
    yield url


@pytest.fixture(scope="module")
def stack(backing: harness.Backing, database: str) -> Iterator[harness.Stack]:
    stack = harness.start_stack(backing, database)
    try:
        yield stack
    finally:
        stack.group.stop()


@pytest.fixture
def session(database: str) -> Iterator[Session]:
    with session_factory(database)() as session:
        yield session


@pytest.fixture(scope="module")
def postgres_database(backing: harness.Backing) -> Iterator[str]:
    """For what only Postgres has (triggers, SKIP LOCKED): not run against SQLite at all."""
    url = harness.fresh_database(backing, "postgres")
    harness.use_env({**backing.env, "MVQ_DATABASE_URL": url})
    yield url


@pytest.fixture(scope="session")
def newcomer_clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One copy of the working tree for every test that runs `make dev` as a newcomer would:
    the first `make dev` builds its venv, the later ones reuse it."""
    return devstack.clone_working_tree(tmp_path_factory.mktemp("newcomer") / "mvq")
