"""Schemathesis against /openapi.json with a unit's, a senior's and an admin's token: whatever
it sends, no 5xx, every status code is one the route documents, and every documented response
matches its schema."""

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from mvq.auth.models import Role
from testkit import harness
from testkit.people import staff_token, units


@pytest.fixture(scope="module")
def api_schema(stack: harness.Stack) -> Iterator[object]:
    yield schemathesis.openapi.from_url(f"{stack.url}/openapi.json")


@pytest.fixture(scope="module")
def tokens(stack: harness.Stack) -> dict[str, str]:
    ((_, unit),) = units(1)
    return {"unit": unit, "senior": staff_token(Role.senior), "admin": staff_token(Role.admin)}


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
# No health check is suppressed: none fired in a full run over every operation. Suppress one
# only with the reason it must be (a slow generator for a named schema, say), never all of them.
@settings(max_examples=30, deadline=None, suppress_health_check=[])
def test_no_server_error_and_documented_shapes(case, tokens: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    for token in tokens.values():
        case.call_and_validate(
            headers={"Authorization": f"Bearer {token}"},
            checks=[not_a_server_error, status_code_conformance, response_schema_conformance],
        )
