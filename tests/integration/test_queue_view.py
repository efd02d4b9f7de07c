"""The review queue as JSON (`GET /api/v1/review/queue`), as the README promises it: flagged
claims first, then by points; seniors see escalated items first; filters by flag, unit, target
and age. The listing is also the order in which claims are handed out."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from mvq.auth.models import Role
from mvq.db import session_factory
from mvq.flows import intake
from mvq.review.models import ReviewItem
from mvq.submissions.models import Flag, Submission, SubmissionStatus
from testkit import harness
from testkit.people import Accounts, make_staff, make_unit


@dataclass
class Queue:
    unit_a: str
    unit_b: str
    escalated: str  # submission ids by name
    items: dict[str, str]
    tokens: dict[str, str]


def queued(session, unit_id: str, target: str, outcome: str, flags: tuple[str, ...] = ()) -> str:  # type: ignore[no-untyped-def]
    submission = Submission(
        unit_id=unit_id,
        status=SubmissionStatus.in_queue,
        target_type=target,
        outcome=outcome,
        occurred_at=datetime.now(UTC) - timedelta(hours=3),
    )
    session.add(submission)
    session.flush()
    for kind in flags:  # flags are raised before the claim enters the queue, as ingest does
        session.add(Flag(submission_id=submission.id, kind=kind, evidence={}))
    session.flush()
    intake.queue_for_review(session, submission=submission)
    session.commit()
    return submission.id


@pytest.fixture(scope="module")
def queue(stack: harness.Stack, accounts: Accounts) -> Queue:
    with session_factory()() as session:
        unit_a, unit_b = make_unit(session)[0], make_unit(session)[0]
        tokens = {role: make_staff(session, Role(role)) for role in ("reviewer", "senior")}
        # Alone in the queue, so the reviewer's claim surely takes it: escalated by a reviewer.
        escalated = queued(session, unit_b, "apc", "destroyed")
    with stack.client(tokens["reviewer"]) as api:
        lease = api.post("/api/v1/review/claim").json()
        assert lease["submission_id"] == escalated
        done = api.post(f"/api/v1/review/{lease['item_id']}/decision",
                        json={"lease_token": lease["lease_token"], "decision": "escalate",
                              "comment": "a senior should look"})  # fmt: skip
        assert done.status_code == 200 and done.json()["status"] == "escalated", done.text
    with session_factory()() as session:
        items = {
            "tank40": queued(session, unit_a, "tank", "destroyed"),
            "infantry6_flagged": queued(session, unit_b, "infantry", "destroyed",
                                        ("no_capture_time",)),
            "apc10_old": queued(session, unit_a, "apc", "damaged"),
            "artillery30_flagged": queued(session, unit_b, "artillery", "destroyed",
                                          ("capture_time_mismatch", "reencoded")),
            "mlrs25": queued(session, unit_a, "mlrs", "damaged"),
        }  # fmt: skip
        # One claim has waited two hours; the rest arrived just now.
        session.execute(
            update(ReviewItem)
            .where(ReviewItem.submission_id == items["apc10_old"])
            .values(created_at=datetime.now(UTC) - timedelta(hours=2))
        )
        session.commit()
    return Queue(unit_a, unit_b, escalated, items, tokens)


# Flagged first (the higher-valued flagged one ahead), then by points, highest first.
PENDING_ORDER = ["artillery30_flagged", "infantry6_flagged", "tank40", "mlrs25", "apc10_old"]


def listed(stack: harness.Stack, token: str, **filters: object) -> list[dict]:  # type: ignore[type-arg]
    with stack.client(token) as api:
        answer = api.get("/api/v1/review/queue", params=filters)
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]  # type: ignore[no-any-return]


def names(queue: Queue, rows: list[dict]) -> list[str]:  # type: ignore[type-arg]
    by_id = {v: k for k, v in queue.items.items()} | {queue.escalated: "escalated"}
    return [by_id[row["submission_id"]] for row in rows]


def test_seniors_see_escalated_first_then_flagged_then_by_points(
    stack: harness.Stack, queue: Queue
) -> None:
    rows = listed(stack, queue.tokens["senior"])
    assert names(queue, rows) == ["escalated", *PENDING_ORDER]
    shown = {row["submission_id"]: row for row in rows}
    assert shown[queue.escalated]["state"] == "escalated" and shown[queue.escalated]["senior_only"]
    assert [shown[queue.items[n]]["points"] for n in PENDING_ORDER] == [30, 6, 40, 25, 10]
    assert shown[queue.items["artillery30_flagged"]]["flags"] == [
        "capture_time_mismatch",
        "reencoded",
    ]


def test_a_reviewer_sees_what_they_can_claim_in_claim_order(
    stack: harness.Stack, queue: Queue
) -> None:
    rows = listed(stack, queue.tokens["reviewer"])
    order = names(queue, rows)
    assert [n for n in order if n != "escalated"] == PENDING_ORDER
    # "seniors: escalated first": an item a reviewer can never claim does not head their list.
    if "escalated" in order:
        assert order.index("escalated") > order.index(PENDING_ORDER[-1]), order


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"flag": "any"}, ["artillery30_flagged", "infantry6_flagged"]),
        ({"flag": "no_capture_time"}, ["infantry6_flagged"]),
        ({"flag": "reencoded"}, ["artillery30_flagged"]),
        ({"unit": "a"}, ["tank40", "mlrs25", "apc10_old"]),
        ({"unit": "b"}, ["escalated", "artillery30_flagged", "infantry6_flagged"]),
        ({"target_type": "apc"}, ["escalated", "apc10_old"]),
        ({"min_age_minutes": 60}, ["apc10_old"]),
        ({"unit": "a", "target_type": "tank"}, ["tank40"]),
        ({"unit": "b", "min_age_minutes": 60}, []),
    ],
)
def test_filters(
    stack: harness.Stack, queue: Queue, filters: dict[str, object], expected: list[str]
) -> None:
    params = dict(filters)
    if "unit" in params:
        params["unit_id"] = {"a": queue.unit_a, "b": queue.unit_b}[str(params.pop("unit"))]
    assert names(queue, listed(stack, queue.tokens["senior"], **params)) == expected


def test_the_json_queue_pages_by_cursor(stack: harness.Stack, queue: Queue) -> None:
    whole = listed(stack, queue.tokens["senior"])
    seen, after = [], None
    with stack.client(queue.tokens["senior"]) as api:
        while True:
            params: dict[str, object] = {"limit": 2} | ({"after": after} if after else {})
            page = api.get("/api/v1/review/queue", params=params).json()
            seen += [row["submission_id"] for row in page["items"]]
            if not (after := page["next_cursor"]):
                break
    assert seen == [row["submission_id"] for row in whole]


def test_claims_are_handed_out_in_the_listed_order(stack: harness.Stack, queue: Queue) -> None:
    before = names(queue, listed(stack, queue.tokens["senior"]))
    with session_factory()() as session:
        senior = make_staff(session, Role.senior)
    taken = []
    with stack.client(senior) as api:
        while (lease := api.post("/api/v1/review/claim")).status_code == 200:
            taken.append(lease.json()["submission_id"])
            # Decided before the next claim: a claim hands back an item one still holds.
            done = api.post(f"/api/v1/review/{lease.json()['item_id']}/decision",
                            json={"lease_token": lease.json()["lease_token"],
                                  "decision": "reject", "reason_code": "other"})  # fmt: skip
            assert done.status_code == 200, done.text
        assert lease.status_code == 204, lease.text
    assert names(queue, [{"submission_id": s} for s in taken]) == before
