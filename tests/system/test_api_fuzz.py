"""Schemathesis against /openapi.json with a unit's and a senior's token: whatever it sends,
no 5xx, and every documented response matches its schema."""

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from mvq.auth.models import Role
from tests import harness
from tests.system.conftest import staff_token, units


@pytest.fixture(scope="module")
def api_schema(stack: harness.Stack) -> Iterator[object]:
    yield schemathesis.openapi.from_url(f"{stack.url}/openapi.json")


@pytest.fixture(scope="module")
def tokens(stack: harness.Stack) -> dict[str, str]:
    ((_, unit),) = units(1)
    return {"unit": unit, "senior": staff_token(Role.senior), "admin": staff_token(Role.admin)}


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_error_and_documented_shapes(case, tokens: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    for token in tokens.values():
        case.call_and_validate(
            headers={"Authorization": f"Bearer {token}"},
            checks=[not_a_server_error, response_schema_conformance],
        )
