"""/metrics and structured logs against the real stack: the figures operators alert on, and
one request id followed from the API into the worker that did the job."""

import json
import uuid
from pathlib import Path

import httpx

from testkit import harness
from testkit.claims import claim_body, sha256_of, wait_for_status
from testkit.people import Accounts


def json_lines(path: Path) -> list[dict]:  # type: ignore[type-arg]
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue  # RQ's own plain-text lines
    return out


def test_a_request_id_follows_the_upload_into_the_worker_and_metrics_count_it(
    stack: harness.Stack, accounts: Accounts, tank_clip: Path
) -> None:
    trace = f"trace-{uuid.uuid4().hex[:12]}"
    with stack.client(accounts.unit_token) as api:
        sid = api.post(
            "/api/v1/submissions", json=claim_body(), headers={"Idempotency-Key": uuid.uuid4().hex}
        ).json()["id"]
        plan = api.post(
            f"/api/v1/submissions/{sid}/media",
            json={
                "filename": "c.mp4",
                "size": tank_clip.stat().st_size,
                "sha256": sha256_of(tank_clip),
                "content_type": "video/mp4",
            },
        ).json()
        httpx.put(
            plan["upload"]["urls"][0],
            content=tank_clip.read_bytes(),
            headers={"Content-Type": "video/mp4"},
        ).raise_for_status()
        done = api.post(
            f"/api/v1/media/{plan['media_id']}/complete", json={}, headers={"X-Request-ID": trace}
        )
        assert done.headers["x-request-id"] == trace
        bad = api.post(
            "/api/v1/media/not-a-media/complete",
            json={},
            headers={"X-Request-ID": "bad id with spaces"},
        )
        assert bad.headers["x-request-id"] != "bad id with spaces"  # replaced, never echoed
    wait_for_status(stack, accounts.unit_token, sid, "in_queue")
    worker = json_lines(stack.logs / "worker-0.log")
    assert any(
        r.get("request_id") == trace
        and r["message"] == "media job done"
        and r.get("outcome") == "processed"
        for r in worker
    ), worker[-5:]
    api_lines = json_lines(stack.logs / "api.log")
    assert any(
        r.get("request_id") == trace and r.get("route") == "/api/v1/media/{media_id}/complete"
        for r in api_lines
    )
    assert accounts.unit_token not in (stack.logs / "api.log").read_text()

    metrics = httpx.get(f"{stack.url}/metrics")
    assert metrics.status_code == 200
    text = metrics.text
    for name in (
        'mvq_queue_depth{queue="media"}',
        "mvq_review_waiting ",
        "mvq_review_backlog_age_seconds ",
        "mvq_review_decisions_last_hour ",
        "mvq_upload_bytes_total ",
        'mvq_job_duration_seconds_bucket{le="+Inf",outcome="processed"}',
        'mvq_http_request_duration_seconds_bucket{le="0.5",method="POST",'
        'route="/api/v1/media/{media_id}/complete",status="202"}',
    ):
        assert name in text, name
    uploaded = next(line for line in text.splitlines() if line.startswith("mvq_upload_bytes_total"))
    assert float(uploaded.split()[-1]) >= tank_clip.stat().st_size
