"""A unit never sees or touches another unit's data: every unit-facing route, tried by the
wrong unit, answers 404 (or 403 for routes units may not use at all) and leaks nothing."""

from testkit import harness
from testkit.claims import claim_body, sha256_of, upload_claim, wait_for_status
from testkit.people import Accounts


def test_unit_a_cannot_read_list_register_or_complete_anything_of_unit_b(
    stack: harness.Stack, accounts: Accounts, tank_clip
) -> None:  # type: ignore[no-untyped-def]
    owner, intruder = accounts.other_unit_token, accounts.unit_token
    submission_id = upload_claim(stack, owner, tank_clip)
    body = wait_for_status(stack, owner, submission_id, "in_queue")
    media_id = body["media"][0]["id"]
    with stack.client(owner) as api:  # a second, still-open media on B's fresh claim
        pending = api.post(
            "/api/v1/submissions",
            json={"target_type": "tank", "outcome": "damaged", "occurred_at": body["occurred_at"]},
            headers={"Idempotency-Key": "b-open"},
        ).json()["id"]
        open_media = api.post(
            f"/api/v1/submissions/{pending}/media",
            json={"filename": "b.mp4", "size": 10, "sha256": "c" * 64, "content_type": "video/mp4"},
        ).json()["media_id"]

    secrets = {submission_id, media_id, pending, open_media, sha256_of(tank_clip)}
    media_body = {
        "filename": "x.mp4",
        "size": tank_clip.stat().st_size,
        "sha256": sha256_of(tank_clip),
        "content_type": "video/mp4",
    }
    attempts: list[tuple[str, str, dict | None, int]] = [  # type: ignore[type-arg]
        ("GET", f"/api/v1/submissions/{submission_id}", None, 404),
        ("GET", f"/api/v1/submissions/{pending}", None, 404),
        ("POST", f"/api/v1/submissions/{pending}/media", media_body, 404),
        ("POST", f"/api/v1/submissions/{submission_id}/media", media_body, 404),
        ("POST", f"/api/v1/media/{open_media}/complete", {}, 404),
        ("POST", f"/api/v1/media/{media_id}/complete", {}, 404),
        ("POST", "/api/v1/review/claim", None, 403),
        ("GET", "/api/v1/leaderboard", None, 403),
        ("POST", f"/api/v1/units/{accounts.other_unit_id}/token/rotate", {}, 403),
        ("POST", f"/api/v1/units/{accounts.other_unit_id}/token/revoke", None, 403),
    ]
    with stack.client(intruder) as api:
        for method, path, json_body, expected in attempts:
            response = api.request(method, path, json=json_body)
            assert response.status_code == expected, (method, path, response.text)
            assert not any(s in response.text for s in secrets), (method, path)
        # A claim of its own, so the listing below has rows to judge, not an empty page.
        own = api.post("/api/v1/submissions", json=claim_body(), headers={"Idempotency-Key": "a"})
        assert own.status_code == 201, own.text
        listed = api.get("/api/v1/submissions", params={"limit": 200})
        ledger = api.get("/api/v1/units/me/ledger")
    assert not any(s in listed.text for s in secrets)
    items = listed.json()["items"]
    assert own.json()["id"] in {item["id"] for item in items}
    assert all(item["unit_id"] == accounts.unit_id for item in items)
    assert ledger.json()["unit_id"] == accounts.unit_id
    assert not any(s in ledger.text for s in secrets)

    # Nothing the intruder tried changed B's data.
    with stack.client(owner) as api:
        assert api.get(f"/api/v1/submissions/{pending}").json()["media"][0]["status"] == (
            "awaiting_upload"
        )
        assert api.get(f"/api/v1/submissions/{submission_id}").json()["status"] == "in_queue"


def test_listing_filters_by_status_and_paginates(
    stack: harness.Stack, accounts: Accounts, tank_clip
) -> None:  # type: ignore[no-untyped-def]
    queued = upload_claim(stack, accounts.unit_token, tank_clip)
    wait_for_status(stack, accounts.unit_token, queued, "in_queue")
    with stack.client(accounts.unit_token) as api:
        made = {api.post("/api/v1/submissions", json=claim_body()).json()["id"] for _ in range(5)}
        first = api.get("/api/v1/submissions", params={"limit": 2, "offset": 0}).json()
        second = api.get("/api/v1/submissions", params={"limit": 2, "offset": 2}).json()
        waiting = api.get("/api/v1/submissions", params={"status": "in_queue"}).json()
        bad = api.get("/api/v1/submissions", params={"status": "nonsense"})
        too_many = api.get("/api/v1/submissions", params={"limit": 10_000})
    assert first["total"] == second["total"] >= 5 and first["limit"] == 2
    pages = [s["id"] for s in first["items"] + second["items"]]
    assert len(pages) == len(set(pages)) == 4
    assert set(pages) <= made  # newest first: the five just made
    waiting_ids = {s["id"] for s in waiting["items"]}
    assert queued in waiting_ids  # the filter keeps what matches ...
    assert not waiting_ids & made  # ... and drops what does not (the five are not in the queue)
    assert all(s["status"] == "in_queue" for s in waiting["items"])
    assert bad.status_code == 422 and too_many.status_code == 422
