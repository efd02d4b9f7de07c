"""README: "A reviewer linked to a unit never sees that unit's claims." Staff created with
`--unit` (a reviewer and a senior) are tried on every path that shows or hands out a claim: the
queue page and its JSON, the item page, claiming (API and page), one submission, the list, its
matches and the evidence bundle. Each path must show another unit's claim (so it works at all)
and never the linked unit's."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from mvq.auth.models import Role
from mvq.db import session_factory
from mvq.flows import intake
from mvq.review.models import ReviewItem
from mvq.submissions.models import Flag, Submission, SubmissionStatus
from testkit import harness
from testkit.people import Accounts, Browserless, make_login, make_staff, make_unit, web_login


@dataclass
class Linked:
    role: str
    token: str
    web: Browserless


@dataclass
class Claim:
    submission_id: str
    item_id: str


def queued(unit_id: str) -> Claim:
    with session_factory()() as session:
        submission = Submission(
            unit_id=unit_id,
            status=SubmissionStatus.in_queue,
            target_type="tank",
            outcome="destroyed",
            occurred_at=datetime.now(UTC) - timedelta(hours=2),
        )
        session.add(submission)
        session.flush()
        # A flag with evidence, so a leak through the flags or matches would show.
        session.add(Flag(submission_id=submission.id, kind="near_duplicate",
                         evidence={"matches": []}))  # fmt: skip
        session.flush()
        item = intake.queue_for_review(session, submission=submission)
        session.commit()
        return Claim(submission.id, item.id)


@pytest.fixture(scope="module")
def own_unit(accounts: Accounts) -> str:
    with session_factory()() as session:
        return make_unit(session)[0]


@pytest.fixture(scope="module", params=["reviewer", "senior"])
def linked(request: pytest.FixtureRequest, stack: harness.Stack, own_unit: str) -> Linked:
    role = Role(request.param)
    with session_factory()() as session:
        token = make_staff(session, role, unit_id=own_unit)
    return Linked(role.value, token, web_login(stack, *make_login(role, unit_id=own_unit)))


def test_the_linked_units_claims_are_on_no_read_path(
    stack: harness.Stack, accounts: Accounts, own_unit: str, linked: Linked
) -> None:
    mine, other = queued(own_unit), queued(accounts.other_unit_id)
    hidden = {mine.submission_id, mine.item_id}

    def unseen(text: str) -> bool:
        return not any(secret in text for secret in hidden)

    with stack.client(linked.token) as api:
        queue = api.get("/api/v1/review/queue")
        assert queue.status_code == 200, queue.text
        assert other.item_id in {i["item_id"] for i in queue.json()["items"]}
        assert unseen(queue.text), "queue JSON"
        by_unit = api.get("/api/v1/review/queue", params={"unit_id": own_unit})
        assert by_unit.status_code == 200 and by_unit.json()["items"] == []

        assert api.get(f"/api/v1/submissions/{other.submission_id}").status_code == 200
        one = api.get(f"/api/v1/submissions/{mine.submission_id}")
        assert one.status_code == 404 and unseen(one.text), ("one submission", one.text)

        listed = api.get("/api/v1/submissions", params={"limit": 200})
        assert listed.status_code == 200, listed.text
        assert other.submission_id in {s["id"] for s in listed.json()["items"]}
        assert unseen(listed.text), "submission list"
        waiting = api.get("/api/v1/submissions", params={"status": "in_queue", "limit": 200})
        assert other.submission_id in waiting.text and unseen(waiting.text), "filtered list"

        assert api.get(f"/api/v1/submissions/{other.submission_id}/matches").status_code == 200
        matches = api.get(f"/api/v1/submissions/{mine.submission_id}/matches")
        assert matches.status_code == 404 and unseen(matches.text), ("matches", matches.text)

        evidence = api.get(f"/api/v1/submissions/{mine.submission_id}/evidence")
        assert evidence.status_code in (403, 404) and unseen(evidence.text), "evidence"
        if linked.role == "senior":  # seniors may have bundles, just not of their own unit
            assert api.get(f"/api/v1/submissions/{other.submission_id}/evidence").status_code == 200
            assert evidence.status_code == 404

    page = linked.web.client.get("/review", headers={"Accept": "text/html"})
    assert page.status_code == 200 and f'data-item="{other.item_id}"' in page.text
    assert unseen(page.text), "queue page"
    filtered = linked.web.client.get(
        "/review", params={"unit_id": own_unit}, headers={"Accept": "text/html"}
    )
    assert filtered.status_code == 200 and unseen(filtered.text), "filtered queue page"
    shown = linked.web.client.get(f"/review/{other.item_id}", headers={"Accept": "text/html"})
    assert shown.status_code == 200, shown.text
    item = linked.web.client.get(f"/review/{mine.item_id}", headers={"Accept": "text/html"})
    assert item.status_code == 404, item.status_code
    assert mine.submission_id not in item.text, "item page"


def test_claims_never_hand_out_the_linked_units_claims(
    stack: harness.Stack, accounts: Accounts, own_unit: str, linked: Linked
) -> None:
    mine = [queued(own_unit) for _ in range(3)]
    other = queued(accounts.other_unit_id)
    hidden = {c.item_id for c in mine}
    # The page's claim first: it sends the reviewer to the item it leased.
    claimed = linked.web.client.post(
        "/review/claim", data={"csrf_token": linked.web.csrf}, headers={"Accept": "text/html"}
    )
    assert claimed.status_code == 303, claimed.text
    target = claimed.headers["location"].split("?")[0].rsplit("/", 1)[-1]
    assert target not in hidden
    taken = [target]
    with stack.client(linked.token) as api:
        while (lease := api.post("/api/v1/review/claim")).status_code == 200:
            if lease.json()["item_id"] in taken:
                # The claim hands back an item one still holds (the web claim's, first):
                # decided, so the next claim moves on.
                done = api.post(f"/api/v1/review/{lease.json()['item_id']}/decision",
                                json={"lease_token": lease.json()["lease_token"],
                                      "decision": "reject", "reason_code": "other"})  # fmt: skip
                assert done.status_code == 200, done.text
                continue
            taken.append(lease.json()["item_id"])
        assert lease.status_code == 204, lease.text
    assert other.item_id in taken  # the claim path works, and hands out the other unit's
    assert not hidden & set(taken)
    with session_factory()() as session:  # and the linked unit's claims still wait, untouched
        states = {session.get_one(ReviewItem, c.item_id).state for c in mine}
    assert states == {"pending"}
