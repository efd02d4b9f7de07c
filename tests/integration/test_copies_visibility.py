"""Issue 28, finding 1: units A and B hold the same footage. A reviewer (and a senior) linked to
A opens B's claim: its item page, its JSON, its matches and its evidence bundle say that the
footage matches a claim they may not see, and name nothing of A's (no id, unit, status, stored
object or presigned URL)."""

import io
import json
import zipfile

import pytest
from sqlalchemy import select

from mvq.auth.models import Role
from mvq.db import session_factory
from mvq.review.models import ReviewItem
from testkit import harness
from testkit.people import make_login, make_staff, web_login


def leaked(text: str, secrets: set[str]) -> set[str]:
    return {s for s in secrets if s in text}


@pytest.mark.parametrize("role", [Role.reviewer, Role.senior])
def test_b_claims_json_and_matches_hide_as_copy(stack: harness.Stack, copies, role: Role) -> None:
    with session_factory()() as session:
        token = make_staff(session, role, unit_id=copies.unit_a)
    with stack.client(token) as api:
        claim = api.get(f"/api/v1/submissions/{copies.b_claim}")
        assert claim.status_code == 200, claim.text
        assert not leaked(claim.text, copies.secrets), "claim JSON"
        evidence = [f["evidence"] for f in claim.json()["flags"]]
        assert {"hidden": True, "reason": "not_visible"} in [
            m for e in evidence for m in e.get("matches", []) + e.get("claims", [])
        ]
        matches = api.get(f"/api/v1/submissions/{copies.b_claim}/matches")
        assert matches.status_code == 200, matches.text
        assert not leaked(matches.text, copies.secrets), "matches"
        assert matches.json()["matches"], "the copy is still said to exist"
        assert all(m["hidden"] and m["reason"] == "not_visible" for m in matches.json()["matches"])


def test_b_item_page_shows_a_placeholder_for_a_copy(stack: harness.Stack, copies) -> None:
    page = web_login(stack, *make_login(Role.reviewer, unit_id=copies.unit_a))
    shown = page.client.get(f"/review/{copies.b_item}", headers={"Accept": "text/html"})
    assert shown.status_code == 200, shown.text
    assert not leaked(shown.text, copies.secrets), "item page"
    assert "you may not see" in shown.text, "the copy is still said to exist"


def test_an_unlinked_reviewer_still_sees_the_copy(stack: harness.Stack, copies) -> None:
    """The placeholder is for the conflicted only: anyone else compares the two claims."""
    page = web_login(stack, *make_login(Role.reviewer))
    shown = page.client.get(f"/review/{copies.b_item}", headers={"Accept": "text/html"})
    assert shown.status_code == 200 and copies.a_claim[:8] in shown.text


def test_b_evidence_bundle_names_nothing_of_a(stack: harness.Stack, copies) -> None:
    with session_factory()() as session:
        token = make_staff(session, Role.senior, unit_id=copies.unit_a)
    with stack.client(token) as api:
        bundle = api.get(f"/api/v1/submissions/{copies.b_claim}/evidence")
    assert bundle.status_code == 200, bundle.text
    with zipfile.ZipFile(io.BytesIO(bundle.content)) as archive:
        for name in archive.namelist():
            text = archive.read(name).decode("utf-8", "replace")
            assert not leaked(text, copies.secrets), name
        metadata = json.loads(next(archive.read(n) for n in archive.namelist()
                                   if n.endswith("metadata.json")))  # fmt: skip
    hidden = [m for f in metadata["flags"] for m in f["evidence"].get("matches", [])]
    assert hidden and all(m == {"hidden": True, "reason": "not_visible"} for m in hidden)


def test_a_claim_touching_the_linked_unit_is_never_leased(stack: harness.Stack, copies) -> None:
    """B's copy of A's footage, and B's claim disputed with A's: a reviewer linked to A judging
    either would help A. Claim-next passes them over; claiming one by id is a 403."""
    with session_factory()() as session:
        token = make_staff(session, Role.reviewer, unit_id=copies.unit_a)
        disputed_item = session.scalar(
            select(ReviewItem.id).where(ReviewItem.submission_id == copies.b_disputed)
        )
    with stack.client(token) as api:
        for item_id in (copies.b_item, disputed_item):
            refused = api.post(f"/api/v1/review/{item_id}/claim")
            assert refused.status_code == 403, refused.text
            assert refused.json()["error"]["code"] == "conflict_of_interest", refused.text
        # Nothing else waits in this module's queue: every waiting claim touches A.
        nothing = api.post("/api/v1/review/claim")
        assert nothing.status_code == 204, nothing.text
    with session_factory()() as session:
        unlinked = make_staff(session, Role.reviewer)
    with stack.client(unlinked) as api:
        assert api.post(f"/api/v1/review/{copies.b_item}/claim").status_code == 200


def test_a_linked_senior_neither_lists_nor_decides_an_appeal_touching_the_unit(
    stack: harness.Stack, copies
) -> None:
    """B's rejected claim names A's as a copy: deciding B's appeal would help A."""
    with session_factory()() as session:
        token = make_staff(session, Role.senior, unit_id=copies.unit_a)
    with stack.client(token) as api:
        listed = api.get("/api/v1/appeals")
        assert listed.status_code == 200, listed.text
        assert copies.b_appeal not in listed.text and not leaked(listed.text, copies.secrets)


def test_a_linked_auditor_may_not_take_the_full_export(stack: harness.Stack, copies) -> None:
    with session_factory()() as session:
        token = make_staff(session, Role.auditor, unit_id=copies.unit_a)
    with stack.client(token) as api:
        refused = api.get("/api/v1/audit/export")
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["code"] == "linked_to_unit"
