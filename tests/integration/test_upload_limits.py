"""File registrations are bounded: so many files per claim, so many declared bytes per claim,
and so many new registrations per unit a minute, each refused with a clear JSON error; the same
file registered again (to resume) still answers and counts once."""

import hashlib
import uuid
from collections.abc import Iterator

import httpx
import pytest

from mvq.db import session_factory
from testkit import harness
from testkit.claims import claim_body
from testkit.people import Accounts, make_unit
from tests.helpers import assert_one_window, in_one_window

FILES, BYTES, RATE = 3, 3000, 6


@pytest.fixture(scope="module")
def limited(backing: harness.Backing, database: str, accounts: Accounts) -> Iterator[harness.Stack]:
    stack = harness.start_stack(backing, database, workers=0, extra_env={
        "MVQ_MAX_FILES_PER_CLAIM": str(FILES), "MVQ_MAX_CLAIM_BYTES": str(BYTES),
        "MVQ_REGISTER_RATE_PER_MINUTE": str(RATE)})  # fmt: skip
    try:
        yield stack
    finally:
        stack.group.stop()


def new_unit() -> str:
    with session_factory()() as session:
        return make_unit(session)[1]


def new_claim(api: httpx.Client) -> str:
    made = api.post("/api/v1/submissions", json=claim_body(),
                    headers={"Idempotency-Key": uuid.uuid4().hex})  # fmt: skip
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def register(api: httpx.Client, claim: str, name: str, size: int) -> httpx.Response:
    digest = hashlib.sha256(name.encode()).hexdigest()
    body = {"filename": f"{name}.mp4", "size": size, "sha256": digest, "content_type": "video/mp4"}
    return api.post(f"/api/v1/submissions/{claim}/media", json=body)


def refused(answer: httpx.Response, status: int, code: str) -> None:
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error["code"] == code and error["message"], error


def test_files_per_claim_are_bounded_and_a_resumed_file_counts_once(
    limited: harness.Stack,
) -> None:
    with limited.client(new_unit()) as api:
        claim = new_claim(api)
        for n in range(FILES):
            assert register(api, claim, f"a{n}", 100).status_code == 201
            # Registered again to resume: the same file, counted once.
            assert register(api, claim, f"a{n}", 100).status_code == 201
        refused(register(api, claim, "one-too-many", 100), 409, "too_many_files")
        assert register(api, claim, "a0", 100).status_code == 201  # resuming still works


def test_declared_bytes_per_claim_are_bounded(limited: harness.Stack) -> None:
    with limited.client(new_unit()) as api:
        claim = new_claim(api)
        assert register(api, claim, "big", BYTES - 10).status_code == 201
        refused(register(api, claim, "more", 11), 413, "claim_too_large")
        assert register(api, claim, "fits", 10).status_code == 201
        assert register(api, claim, "big", BYTES - 10).status_code == 201  # resumed


def test_new_registrations_are_rate_limited_per_unit(limited: harness.Stack) -> None:
    with limited.client(new_unit()) as api, limited.client(new_unit()) as other:
        claims = [new_claim(api) for _ in range(RATE + 1)]
        elsewhere = new_claim(other)
        started = in_one_window(60, needed=20)
        for n, claim in enumerate(claims[:RATE]):
            assert register(api, claim, f"r{n}", 100).status_code == 201
        limited_answer = register(api, claims[RATE], "r-last", 100)
        refused(limited_answer, 429, "rate_limited")
        assert int(limited_answer.headers["Retry-After"]) > 0
        # Resuming a file already registered is not a new registration.
        assert register(api, claims[0], "r0", 100).status_code == 201
        # Another unit has its own allowance.
        assert register(other, elsewhere, "o", 100).status_code == 201
        assert_one_window(60, started)
