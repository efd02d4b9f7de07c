"""Bad input on the first routes gets a JSON error with a fitting status; no unit sees
another unit's data."""

import uuid

import httpx

from mvq import storage
from mvq.db import session_factory
from mvq.media.models import Media
from testkit import harness
from testkit.claims import claim_body
from testkit.people import Accounts


def error_of(response: httpx.Response) -> dict:  # type: ignore[type-arg]
    body = response.json()
    assert set(body) == {"error"}, body
    assert body["error"]["code"] and body["error"]["message"]
    return body["error"]  # type: ignore[no-any-return]


def new_submission(api: httpx.Client) -> str:
    created = api.post(
        "/api/v1/submissions", json=claim_body(), headers={"Idempotency-Key": uuid.uuid4().hex}
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def test_missing_and_bad_tokens_are_refused(stack: harness.Stack) -> None:
    with stack.client() as anon:
        response = anon.post("/api/v1/submissions", json=claim_body())
        assert response.status_code == 401
        assert error_of(response)["code"] == "missing_token"
    with stack.client("mvqu_not-a-real-token") as forged:
        response = forged.get("/api/v1/submissions")
        assert response.status_code == 401
        assert error_of(response)["code"] == "bad_token"


def test_unknown_submission_and_route_are_404(stack: harness.Stack, accounts: Accounts) -> None:
    with stack.client(accounts.unit_token) as api:
        assert error_of(api.get(f"/api/v1/submissions/{uuid.uuid4()}"))["code"] == "not_found"
        missing = api.get("/api/v1/nothing-here")
        assert missing.status_code == 404 and error_of(missing)["code"] == "not_found"


def test_staff_can_read_any_submission(stack: harness.Stack, accounts: Accounts) -> None:
    with stack.client(accounts.unit_token) as owner:
        submission_id = new_submission(owner)
    with stack.client(accounts.staff_tokens["auditor"]) as auditor:
        assert auditor.get(f"/api/v1/submissions/{submission_id}").status_code == 200


def test_claim_validation(stack: harness.Stack, accounts: Accounts) -> None:
    with stack.client(accounts.unit_token) as api:
        cases = {
            "unknown_target_type": claim_body(target_type="spaceship"),
            "bad_outcome": claim_body(outcome="vaporised"),
            "occurred_in_future": claim_body(occurred_at="2999-01-01T00:00:00+00:00"),
            "occurred_too_old": claim_body(occurred_at="2001-01-01T00:00:00+00:00"),
            "bad_position": claim_body(lat=48.5),
        }
        for code, body in cases.items():
            response = api.post("/api/v1/submissions", json=body)
            assert response.status_code == 422, (code, response.text)
            assert error_of(response)["code"] == code
        naive = api.post("/api/v1/submissions", json=claim_body(occurred_at="2026-01-01T00:00:00"))
        assert naive.status_code == 422 and error_of(naive)["code"] == "validation_error"


def test_idempotency_key_returns_the_same_submission(
    stack: harness.Stack, accounts: Accounts
) -> None:
    key = uuid.uuid4().hex
    body = claim_body()
    with stack.client(accounts.unit_token) as api:
        first = api.post("/api/v1/submissions", json=body, headers={"Idempotency-Key": key})
        again = api.post("/api/v1/submissions", json=body, headers={"Idempotency-Key": key})
        other_body = api.post(
            "/api/v1/submissions",
            json=claim_body(outcome="damaged"),
            headers={"Idempotency-Key": key},
        )
    assert first.status_code == 201
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert other_body.status_code == 409
    assert error_of(other_body)["code"] == "idempotency_mismatch"


def test_staff_cannot_create_submissions(stack: harness.Stack, accounts: Accounts) -> None:
    with stack.client(accounts.staff_tokens["admin"]) as admin:
        response = admin.post("/api/v1/submissions", json=claim_body())
    assert response.status_code == 403


def test_media_registration_checks_type_size_and_hash(
    stack: harness.Stack, accounts: Accounts
) -> None:
    with stack.client(accounts.unit_token) as api:
        submission_id = new_submission(api)
        url = f"/api/v1/submissions/{submission_id}/media"
        good = {"filename": "a.mp4", "size": 1000, "sha256": "a" * 64, "content_type": "video/mp4"}
        wrong_type = api.post(url, json=good | {"content_type": "application/x-mpegurl"})
        assert wrong_type.status_code == 422
        assert error_of(wrong_type)["code"] == "unsupported_content_type"
        too_big = api.post(url, json=good | {"size": 9 * 1024**3})
        assert too_big.status_code == 422 and error_of(too_big)["code"] == "bad_size"
        bad_hash = api.post(url, json=good | {"sha256": "z" * 64})
        assert bad_hash.status_code == 422 and error_of(bad_hash)["code"] == "bad_sha256"
        ok = api.post(url, json=good)
        assert ok.status_code == 201
        assert ok.json()["upload"]["expires_in"] <= 900
        assert "X-Amz-Signature" in ok.json()["upload"]["urls"][0]


def test_complete_with_nothing_uploaded_is_a_conflict(
    stack: harness.Stack, accounts: Accounts
) -> None:
    with stack.client(accounts.unit_token) as api:
        submission_id = new_submission(api)
        plan = api.post(
            f"/api/v1/submissions/{submission_id}/media",
            json={
                "filename": "a.mp4",
                "size": 1000,
                "sha256": "a" * 64,
                "content_type": "video/mp4",
            },
        )
        response = api.post(f"/api/v1/media/{plan.json()['media_id']}/complete", json={})
        assert response.status_code == 409
        assert error_of(response)["code"] == "not_uploaded"
        # Nothing was lost: the media can still be uploaded.
        status = api.get(f"/api/v1/submissions/{submission_id}").json()
        assert status["media"][0]["status"] == "awaiting_upload"


def test_wrong_bytes_are_refused_by_storage(
    stack: harness.Stack, accounts: Accounts, tank_clip
) -> None:  # type: ignore[no-untyped-def]
    # A single PUT's URL is signed with the declared SHA-256: S3 refuses other bytes outright.
    # (Multipart parts cannot be: the worker's hash check fails those, test_uploads shows it.)
    with stack.client(accounts.unit_token) as api:
        submission_id = new_submission(api)
        data = tank_clip.read_bytes()
        plan = api.post(
            f"/api/v1/submissions/{submission_id}/media",
            json={
                "filename": "a.mp4",
                "size": len(data),
                "sha256": "b" * 64,
                "content_type": "video/mp4",
            },
        ).json()
        put = httpx.put(plan["upload"]["urls"][0], content=data, headers=plan["upload"]["headers"])
        assert put.status_code == 400 and "BadDigest" in put.text, put.text
        done = api.post(f"/api/v1/media/{plan['media_id']}/complete", json={})
        assert done.status_code == 409 and done.json()["error"]["code"] == "not_uploaded"
    with session_factory(stack.database_url)() as session:
        media = session.get_one(Media, plan["media_id"])
        assert media.upload_key is not None
        assert storage.head(media.upload_key) is None and storage.head(media.s3_key) is None
    assert media.status == "awaiting_upload"


def test_review_routes_need_a_reviewer(stack: harness.Stack, accounts: Accounts) -> None:
    with stack.client(accounts.unit_token) as unit:
        assert unit.post("/api/v1/review/claim").status_code == 403
    with stack.client(accounts.staff_tokens["auditor"]) as auditor:
        assert auditor.post("/api/v1/review/claim").status_code == 403


def test_only_admins_publish_rules(stack: harness.Stack, accounts: Accounts) -> None:
    body = {
        "effective_from": "2099-01-01T00:00:00+00:00",
        "rules": [{"target_type": "tank", "outcome": "destroyed", "points": 45}],
    }
    with stack.client(accounts.staff_tokens["reviewer"]) as reviewer:
        assert reviewer.post("/api/v1/scoring/rules", json=body).status_code == 403
    with stack.client(accounts.staff_tokens["admin"]) as admin:
        created = admin.post("/api/v1/scoring/rules", json=body)
        assert created.status_code == 201, created.text
        past = admin.post(
            "/api/v1/scoring/rules", json=body | {"effective_from": "2020-01-01T00:00:00+00:00"}
        )
        assert past.status_code == 422
    with stack.client(accounts.unit_token) as unit:
        rules = unit.get("/api/v1/scoring/rules").json()
    assert rules["in_force"]["effective_from"].startswith("2025-01-01")
    assert any(v["effective_from"].startswith("2099") for v in rules["history"])


def test_refused_fields_are_told_in_the_readers_language(
    stack: harness.Stack, accounts: Accounts
) -> None:
    """Pydantic's words are English; a client asking for Ukrainian gets each refused field in
    Ukrainian, with the bound it broke, while `loc` and `type` (the contract) stay as they are."""
    body = {"outcome": "destroyed", "lat": 91, "note": "x" * 4001}
    answers = {}
    with stack.client(accounts.unit_token) as api:
        for language in ("uk", "en"):
            refused = api.post(
                "/api/v1/submissions",
                json=body,
                headers={"Idempotency-Key": uuid.uuid4().hex, "Accept-Language": language},
            )
            assert refused.status_code == 422, refused.text
            error = error_of(refused)
            assert error["code"] == "validation_error"
            answers[language] = {tuple(d["loc"]): d for d in error["details"]}
    uk, en = answers["uk"], answers["en"]
    assert set(uk) == set(en) == {("body", "target_type"), ("body", "lat"), ("body", "note")}
    assert {d["type"] for d in uk.values()} == {"missing", "less_than_equal", "string_too_long"}
    assert uk[("body", "target_type")]["msg"] == "Це поле обов'язкове."
    assert uk[("body", "lat")]["msg"] == "Вкажіть число не більше за 90."
    # Numbers as Ukrainian writes them: 4 000, its groups apart.
    assert uk[("body", "note")]["msg"] == "Напишіть не більше 4\u00a0000 символів."
    assert en[("body", "note")]["msg"] == "String should have at most 4000 characters"
    assert en[("body", "lat")]["ctx"] == {"le": 90}
    assert "x" * 100 not in refused.text  # the value sent is never echoed back
