"""A unit's claims over HTTP, as its client makes them: the claim's body, the whole upload
path, waiting for a status, and an upload that retries while the system is degraded."""

import hashlib
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from testkit import harness


def claim_body(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "target_type": "tank",
        "outcome": "destroyed",
        "occurred_at": (datetime.now(UTC) - timedelta(hours=2)).isoformat(),
    }
    return body | overrides


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def upload_claim(
    stack: harness.Stack, token: str, path: Path, content_type: str = "video/mp4", **claim: object
) -> str:
    """The unit's whole upload path over HTTP: create, presigned PUT, complete."""
    with stack.client(token) as api:
        created = api.post(
            "/api/v1/submissions",
            json=claim_body(**claim),
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        assert created.status_code == 201, created.text
        submission_id = str(created.json()["id"])
        plan = api.post(
            f"/api/v1/submissions/{submission_id}/media",
            json={
                "filename": path.name,
                "size": path.stat().st_size,
                "sha256": sha256_of(path),
                "content_type": content_type,
            },
        )
        assert plan.status_code == 201, plan.text
        upload = plan.json()["upload"]
        assert upload["mode"] == "single"
        put = httpx.put(
            upload["urls"][0], content=path.read_bytes(), headers={"Content-Type": content_type}
        )
        assert put.status_code == 200, put.text
        done = api.post(f"/api/v1/media/{plan.json()['media_id']}/complete", json={})
        assert done.status_code == 202, done.text
    return submission_id


def wait_for_status(stack: harness.Stack, token: str, submission_id: str, *statuses: str) -> dict:  # type: ignore[type-arg]
    with stack.client(token) as api:

        def settled() -> dict | None:  # type: ignore[type-arg]
            body = api.get(f"/api/v1/submissions/{submission_id}").json()
            return body if body["status"] in statuses else None

        return harness.wait_until(settled, timeout=90, what=f"status in {statuses}")  # type: ignore[no-any-return]


class Refused(Exception):
    """The API turned the upload down with a 4xx: a verdict, not an outage to retry."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(response.text)
        self.response = response


def _check(response: httpx.Response) -> None:
    if response.status_code >= 500:
        raise httpx.HTTPError(response.text)
    if response.status_code >= 400:
        raise Refused(response)


def upload(stack: harness.Stack, token: str, path: Path, attempts: int = 40) -> str:
    """A unit's upload that retries while the system is degraded, as the CLI does."""
    key = uuid.uuid4().hex
    body = claim_body()
    for _ in range(attempts):
        try:
            with stack.client(token) as api:
                created = api.post(
                    "/api/v1/submissions", json=body, headers={"Idempotency-Key": key}
                )
                _check(created)
                sid = created.json()["id"]
                plan = api.post(
                    f"/api/v1/submissions/{sid}/media",
                    json={
                        "filename": path.name,
                        "size": path.stat().st_size,
                        "sha256": sha256_of(path),
                        "content_type": "video/mp4",
                    },
                )
                _check(plan)
                info = plan.json()
                if info["upload"]["urls"]:
                    httpx.put(
                        info["upload"]["urls"][0],
                        content=path.read_bytes(),
                        headers={"Content-Type": "video/mp4"},
                    ).raise_for_status()
                done = api.post(f"/api/v1/media/{info['media_id']}/complete", json={})
                if done.status_code in (202, 409):
                    return str(sid)
                raise httpx.HTTPError(done.text)
        except httpx.HTTPError:
            threading.Event().wait(1.0)
    raise AssertionError(f"upload of {path} never went through")
