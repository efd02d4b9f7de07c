"""The whole system under faults: each module gets servers of its own (so stopping S3 or
flushing Redis touches nobody else), Postgres, two workers and a sweeper."""

from collections.abc import Iterator

import pytest

from mvq.db import session_factory, utcnow
from mvq.rules import service as rules
from testkit import harness


@pytest.fixture(scope="module")
def system(backing: harness.Backing) -> Iterator[harness.Backing]:
    """Redis and SeaweedFS of this module's own; Postgres from the session's cluster."""
    with harness.temporary_backing("mvq-system-") as own:
        own.pg_url = backing.pg_url
        yield own


@pytest.fixture(scope="module")
def database(system: harness.Backing, backing: harness.Backing) -> str:
    url = harness.fresh_database(backing, "postgres")
    harness.use_env({**system.env, "MVQ_DATABASE_URL": url})
    with session_factory(url)() as session:
        rules.seed_demo_rules(session, now=utcnow())
        session.commit()
    return url


@pytest.fixture(scope="module")
def stack(system: harness.Backing, database: str) -> Iterator[harness.Stack]:
    stack = harness.start_stack(system, database, workers=2, sweep_every=2)
    try:
        yield stack
    finally:
        stack.group.stop()
