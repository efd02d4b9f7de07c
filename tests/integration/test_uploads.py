"""Uploads over real SeaweedFS and Redis: single and multipart, resume, tampering, expiry,
idempotent creates under concurrency, token rotation and the limits."""

import hashlib
import math
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from deploy import servers
from mvq import ratelimit, storage
from mvq.db import session_factory
from mvq.media import uploads
from mvq.media.models import Media
from mvq.submissions.models import Submission
from testkit import harness
from testkit.claims import claim_body, sha256_of, wait_for_status
from testkit.people import Accounts, make_unit
from tests.helpers import assert_one_window, in_one_window, run_threads

PART = 8 * 1024**2


@pytest.fixture(scope="module")
def stack(backing: harness.Backing, database: str) -> Iterator[harness.Stack]:
    # Short-lived URLs and a low create limit, so expiry and throttling are testable in seconds.
    stack = harness.start_stack(
        backing,
        database,
        extra_env={"MVQ_PRESIGN_TTL_SECONDS": "3", "MVQ_CREATE_RATE_PER_MINUTE": "40"},
    )
    try:
        yield stack
    finally:
        stack.group.stop()


def new_submission(api: httpx.Client, key: str | None = None) -> str:
    response = api.post(
        "/api/v1/submissions",
        json=claim_body(),
        headers={"Idempotency-Key": key or uuid.uuid4().hex},
    )
    assert response.status_code in (200, 201), response.text
    return str(response.json()["id"])


def register(api: httpx.Client, submission_id: str, path: Path, sha: str | None = None) -> dict:  # type: ignore[type-arg]
    response = api.post(
        f"/api/v1/submissions/{submission_id}/media",
        json={
            "filename": path.name,
            "size": path.stat().st_size,
            "sha256": sha or sha256_of(path),
            "content_type": "video/mp4",
        },
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def put_part(url: str, data: bytes) -> httpx.Response:
    return httpx.put(url, content=data)


def test_multipart_upload_resumes_and_completes(
    stack: harness.Stack, accounts: Accounts, big_clip: Path
) -> None:
    data = big_clip.read_bytes()
    with stack.client(accounts.unit_token) as api:
        submission_id = new_submission(api)
        plan = register(api, submission_id, big_clip)
        upload = plan["upload"]
        assert upload["mode"] == "multipart" and upload["part_size"] >= PART
        assert len(upload["urls"]) == -(-len(data) // upload["part_size"]) == 3
        first = put_part(upload["urls"][0], data[:PART])
        assert first.status_code == 200

        incomplete = api.post(f"/api/v1/media/{plan['media_id']}/complete", json={})
        assert incomplete.status_code == 409
        assert incomplete.json()["error"]["code"] == "parts_missing"

        # Asking again: the same media, and S3's record of what already arrived.
        again = register(api, submission_id, big_clip)
        assert again["media_id"] == plan["media_id"]
        assert [p["part_number"] for p in again["upload"]["uploaded_parts"]] == [1]
        etags = {1: first.headers["etag"]}
        for n in (2, 3):
            response = put_part(again["upload"]["urls"][n - 1], data[(n - 1) * PART : n * PART])
            etags[n] = response.headers["etag"]
        parts = [{"part_number": n, "etag": e} for n, e in etags.items()]
        done = api.post(f"/api/v1/media/{plan['media_id']}/complete", json={"parts": parts})
        assert done.status_code == 202, done.text
        assert api.post(f"/api/v1/media/{plan['media_id']}/complete", json={}).status_code == 202
    body = wait_for_status(stack, accounts.unit_token, submission_id, "in_queue", "failed")
    assert body["status"] == "in_queue"
    assert body["media"][0]["sha256"] == sha256_of(big_clip)
    assert body["media"][0]["metadata"]["width"] == 1280


def test_tampered_part_ends_in_checksum_mismatch(
    stack: harness.Stack, accounts: Accounts, big_clip: Path
) -> None:
    data = bytearray(big_clip.read_bytes())
    with stack.client(accounts.unit_token) as api:
        submission_id = new_submission(api)
        plan = register(api, submission_id, big_clip)
        data[PART + 1000] ^= 0xFF  # one flipped byte in part 2, same length
        for n, url in enumerate(plan["upload"]["urls"], start=1):
            assert put_part(url, bytes(data[(n - 1) * PART : n * PART])).status_code == 200
        assert api.post(f"/api/v1/media/{plan['media_id']}/complete", json={}).status_code == 202
    body = wait_for_status(stack, accounts.unit_token, submission_id, "failed")
    assert body["media"][0]["failure_reason"] == "checksum_mismatch"


def test_expired_url_is_refused(stack: harness.Stack, accounts: Accounts, tank_clip: Path) -> None:
    with stack.client(accounts.unit_token) as api:
        plan = register(api, new_submission(api), tank_clip)
    time.sleep(4.5)  # the stack's URLs live 3 s
    response = httpx.put(
        plan["upload"]["urls"][0],
        content=tank_clip.read_bytes(),
        headers={"Content-Type": "video/mp4"},
    )
    assert response.status_code == 403
    with session_factory(stack.database_url)() as session:
        media = session.get(Media, plan["media_id"])
        assert media is not None
        keys = media.upload_key, media.s3_key
    assert keys == (
        storage.upload_key(media.submission_id, media.id),
        storage.original_key(media.submission_id, media.id),
    )
    assert keys[0] in plan["upload"]["urls"][0] and keys[1] not in plan["upload"]["urls"][0]
    assert storage.head(keys[0]) is None and storage.head(keys[1]) is None


def test_concurrent_retries_of_one_create_make_one_submission(
    stack: harness.Stack, accounts: Accounts
) -> None:
    key, body = uuid.uuid4().hex, claim_body()
    results: list[httpx.Response] = []
    barrier = threading.Barrier(10)

    def create() -> None:
        with stack.client(accounts.unit_token) as api:
            barrier.wait()
            results.append(
                api.post("/api/v1/submissions", json=body, headers={"Idempotency-Key": key})
            )

    run_threads([create] * 10, timeout=60)
    assert sorted(r.status_code for r in results) == [200] * 9 + [201]
    assert len({r.json()["id"] for r in results}) == 1
    with session_factory(stack.database_url)() as session:
        count = session.scalar(
            select(func.count()).select_from(Submission).where(Submission.idempotency_key == key)
        )
    assert count == 1


def test_interrupted_cli_upload_resumes_without_a_second_submission(
    stack: harness.Stack, accounts: Accounts, big_clip: Path
) -> None:
    with session_factory(stack.database_url)() as session:
        unit_id, token = make_unit(session)
    env = {**stack.env, "MVQ_URL": stack.url, "MVQ_TOKEN": token}
    argv = [
        *servers.mvq_argv(),
        "upload",
        str(big_clip),
        "--target",
        "tank",
        "--outcome",
        "destroyed",
        "--occurred-at",
        "2026-11-01T10:00:00+00:00",
    ]
    slow = subprocess.Popen(
        [*argv, "--limit-rate", "3M"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=harness.ROOT,
    )

    def some_parts_stored() -> Media | None:
        with session_factory(stack.database_url)() as session:
            media = session.scalar(
                select(Media).join(Submission).where(Submission.unit_id == unit_id)
            )
        if media is None or media.upload_id is None:
            return None
        return (
            media
            if storage.list_parts(uploads.target_key(media), upload_id=media.upload_id)
            else None
        )

    media = harness.wait_until(some_parts_stored, timeout=60, interval=0.05, what="a part stored")
    slow.send_signal(signal.SIGKILL)
    slow.wait()
    assert media.upload_id is not None
    stored_before = len(storage.list_parts(uploads.target_key(media), upload_id=media.upload_id))
    assert 1 <= stored_before < 3

    resumed = subprocess.run(
        argv, env=env, capture_output=True, text=True, cwd=harness.ROOT, timeout=300
    )
    assert resumed.returncode == 0, resumed.stderr
    assert f"{stored_before} of 3 parts already stored" in resumed.stderr
    submission_id = resumed.stdout.strip()
    body = wait_for_status(stack, token, submission_id, "in_queue", "failed")
    assert body["status"] == "in_queue"
    with session_factory(stack.database_url)() as session:
        submissions = session.scalar(
            select(func.count()).select_from(Submission).where(Submission.unit_id == unit_id)
        )
        media_rows = session.scalar(
            select(func.count())
            .select_from(Media)
            .join(Submission)
            .where(Submission.unit_id == unit_id)
        )
    assert (submissions, media_rows) == (1, 1)

    again = subprocess.run(
        argv, env=env, capture_output=True, text=True, cwd=harness.ROOT, timeout=300
    )
    assert again.returncode == 0 and again.stdout.strip() == submission_id  # nothing re-sent


def test_rotating_a_token_retires_the_old_one(stack: harness.Stack, accounts: Accounts) -> None:
    with session_factory(stack.database_url)() as session:
        unit_id, old = make_unit(session)
    with stack.client(accounts.staff_tokens["admin"]) as admin:
        graced = admin.post(f"/api/v1/units/{unit_id}/token/rotate", json={"grace_minutes": 5})
        assert graced.status_code == 200
        middle = graced.json()["token"]
        with stack.client(old) as unit:
            assert unit.get("/api/v1/submissions").status_code == 200  # still in its grace
        now = admin.post(f"/api/v1/units/{unit_id}/token/rotate", json={})
        newest = now.json()["token"]
        for retired in (old, middle):
            with stack.client(retired) as unit:
                assert unit.get("/api/v1/submissions").status_code == 401
        with stack.client(newest) as unit:
            assert unit.get("/api/v1/submissions").status_code == 200
        revoked = admin.post(f"/api/v1/units/{unit_id}/token/revoke")
        assert revoked.json()["revoked"] == 1
    with stack.client(newest) as unit:
        assert unit.get("/api/v1/submissions").status_code == 401
    with stack.client(accounts.staff_tokens["reviewer"]) as reviewer:
        assert reviewer.post(f"/api/v1/units/{unit_id}/token/rotate").status_code == 403
    with stack.client(accounts.unit_token) as unit:
        assert unit.post(f"/api/v1/units/{unit_id}/token/rotate").status_code == 403


def test_creates_are_rate_limited_per_token(stack: harness.Stack, accounts: Accounts) -> None:
    # `accounts` seeds the demo rules: without them every create is a 422 (unknown target type).
    with session_factory(stack.database_url)() as session:
        _, token = make_unit(session)
    window = ratelimit.WINDOW_SECONDS
    started = in_one_window(window, needed=30)
    with stack.client(token) as api:
        codes = [api.post("/api/v1/submissions", json=claim_body()).status_code for _ in range(41)]
        limited = api.post("/api/v1/submissions", json=claim_body())
    finished = time.time()
    assert_one_window(window, started)
    assert codes == [201] * 40 + [429]
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    # Retry-After is what is left of the window, as the server saw it during the burst.
    left_at_start, left_at_end = window - started % window, window - finished % window
    assert int(left_at_end) <= int(limited.headers["retry-after"]) <= math.ceil(left_at_start)


def test_request_bodies_are_capped(stack: harness.Stack, accounts: Accounts) -> None:
    with stack.client(accounts.unit_token) as api:
        huge = api.post("/api/v1/submissions", json=claim_body(note="x" * (2 * 1024**2)))
        chunked = api.post(
            "/api/v1/submissions",
            content=iter([b"{" + b" " * (2 * 1024**2)]),
            headers={"Content-Type": "application/json"},
        )
    assert huge.status_code == 413 and huge.json()["error"]["code"] == "body_too_large"
    assert chunked.status_code == 413


def test_abandoned_multipart_upload_is_aborted_by_the_sweep(
    stack: harness.Stack, accounts: Accounts, big_clip: Path
) -> None:
    with stack.client(accounts.unit_token) as api:
        submission_id = new_submission(api)
        plan = register(api, submission_id, big_clip)
        put_part(plan["upload"]["urls"][0], big_clip.read_bytes()[:PART])
    swept = harness.run_cli(["sweep"], {**stack.env, "MVQ_ABANDONED_UPLOAD_HOURS": "0"})
    assert swept.returncode == 0, swept.stderr
    with session_factory(stack.database_url)() as session:
        media = session.get_one(Media, plan["media_id"])
    assert (media.status, media.failure_reason) == ("failed", "abandoned")
    assert media.upload_id is not None
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError, match="NoSuchUpload"):
        storage.list_parts(uploads.target_key(media), upload_id=media.upload_id)


def test_a_client_on_a_slow_link_asks_for_the_smallest_parts(
    stack: harness.Stack, accounts: Accounts
) -> None:
    """The upload page measures its link and asks for 5 MiB parts on a slow one: heeded when
    the file is first registered, kept when it is registered again (the resume), and never
    below S3's floor."""
    size, smallest = 22 * 1024**2, 5 * 1024**2
    body = {"filename": "slow.mp4", "size": size, "sha256": "ab" * 32, "content_type": "video/mp4"}
    with stack.client(accounts.unit_token) as api:
        submission_id = new_submission(api)
        path = f"/api/v1/submissions/{submission_id}/media"
        too_small = api.post(path, json=body | {"part_size": smallest - 1})
        assert too_small.status_code == 422
        first = api.post(path, json=body | {"part_size": smallest})
        assert first.status_code == 201, first.text
        upload = first.json()["upload"]
        assert upload["mode"] == "multipart" and upload["part_size"] == smallest
        assert len(upload["urls"]) == math.ceil(size / smallest) == 5
        again = api.post(path, json=body | {"part_size": 64 * 1024**2}).json()["upload"]
        assert again["part_size"] == smallest and again["uploaded_parts"] == []


CHUNK = 1024**2  # a slow link's chunk: 4 s at 250 KB/s, where a 5 MiB part takes 21 s
SMALLEST = 5 * 1024**2


def chunk_spec(data: bytes, offset: int, size: int = CHUNK) -> dict[str, object]:
    piece = data[offset : offset + size]
    return {"offset": offset, "size": len(piece), "sha256": hashlib.sha256(piece).hexdigest()}


def test_a_slow_link_stages_small_chunks_that_the_server_stitches_into_parts(
    stack: harness.Stack, accounts: Accounts, big_clip: Path
) -> None:
    """Chunks of 1 MiB go to storage as staging objects through short-lived URLs that take only
    the declared bytes; a chunk storage holds is listed on resume and never handed a URL again;
    a whole part sent directly mixes with them; at complete the server stitches the chunks into
    5 MiB parts, completes, and deletes the chunks; the file is processed as sent."""
    data = big_clip.read_bytes()
    size = len(data)
    with stack.client(accounts.unit_token) as api:
        submission_id = new_submission(api)
        body = {"filename": big_clip.name, "size": size, "sha256": sha256_of(big_clip),
                "content_type": "video/mp4", "part_size": SMALLEST}  # fmt: skip
        plan = api.post(f"/api/v1/submissions/{submission_id}/media", json=body).json()
        media_id = plan["media_id"]
        path = f"/api/v1/media/{media_id}/chunks"
        first = [chunk_spec(data, n * CHUNK) for n in range(3)]
        answer = api.post(path, json={"chunks": first})
        assert answer.status_code == 200, answer.text
        got = answer.json()
        assert got["part_size"] == SMALLEST and got["expires_in"] <= 3  # the stack's short TTL
        assert [u["offset"] for u in got["urls"]] == [0, CHUNK, 2 * CHUNK]
        # Storage takes only the declared bytes.
        wrong = httpx.put(got["urls"][0]["url"], content=data[1 : CHUNK + 1],
                          headers=got["urls"][0]["headers"])  # fmt: skip
        assert wrong.status_code == 400, wrong.text
        for url in got["urls"][:2]:
            put = httpx.put(url["url"], content=data[url["offset"] : url["offset"] + url["size"]],
                            headers=url["headers"])  # fmt: skip
            assert put.status_code == 200, put.text
        # Part 2 straight, by its part URL, as a fast link would.
        assert put_part(plan["upload"]["urls"][1], data[SMALLEST : 2 * SMALLEST]).status_code == 200

        # The resume's question: what storage holds, chunks and parts.
        held = api.post(path, json={}).json()
        assert held["staged"] == [{"offset": 0, "size": CHUNK}, {"offset": CHUNK, "size": CHUNK}]
        assert held["parts"] == [{"part_number": 2, "size": SMALLEST}]
        # Asked again, a stored chunk (or one inside a stored part) gets no URL.
        again = api.post(path, json={"chunks": [*first, chunk_spec(data, SMALLEST)]}).json()
        assert [u["offset"] for u in again["urls"]] == [2 * CHUNK]

        early = api.post(f"/api/v1/media/{media_id}/complete", json={})
        assert early.status_code == 409 and early.json()["error"]["code"] == "parts_missing"

        # Everything else, in chunks: a chunk never crosses a part, so the last of each part
        # (and of the file) may be shorter.
        rest = []
        for start in range(0, size, SMALLEST):
            if start == SMALLEST:
                continue
            end = min(start + SMALLEST, size)
            rest += [chunk_spec(data, at, min(CHUNK, end - at)) for at in range(start, end, CHUNK)]
        for batch in range(0, len(rest), 32):
            for url in api.post(path, json={"chunks": rest[batch : batch + 32]}).json()["urls"]:
                piece = data[url["offset"] : url["offset"] + url["size"]]
                put = httpx.put(url["url"], content=piece, headers=url["headers"])
                assert put.status_code == 200, put.text
        assert storage.keys(storage.staging_prefix(media_id))
        done = api.post(f"/api/v1/media/{media_id}/complete", json={})
        assert done.status_code == 202, done.text
    assert storage.keys(storage.staging_prefix(media_id)) == []
    claimed = wait_for_status(stack, accounts.unit_token, submission_id, "in_queue", "failed")
    assert claimed["status"] == "in_queue", claimed
    assert claimed["media"][0]["sha256"] == sha256_of(big_clip)


def test_chunks_are_refused_outside_the_members_own_upload_and_in_bad_shapes(
    stack: harness.Stack, accounts: Accounts, big_clip: Path, tank_clip: Path
) -> None:
    data = big_clip.read_bytes()
    with stack.client(accounts.unit_token) as api:
        submission_id = new_submission(api)
        body = {"filename": big_clip.name, "size": len(data), "sha256": sha256_of(big_clip),
                "content_type": "video/mp4", "part_size": SMALLEST}  # fmt: skip
        media_id = api.post(f"/api/v1/submissions/{submission_id}/media", json=body).json()[
            "media_id"
        ]
        path = f"/api/v1/media/{media_id}/chunks"

        def refused(chunk: dict[str, object], status: int, code: str) -> None:
            answer = api.post(path, json={"chunks": [chunk]})
            assert answer.status_code == status, answer.text
            assert answer.json()["error"]["code"] == code, answer.text

        refused(chunk_spec(data, SMALLEST - CHUNK // 2), 422, "chunk_crosses_part")
        refused(chunk_spec(data, 0, 1000), 422, "chunk_too_small")
        refused({"offset": len(data) - 10, "size": 100, "sha256": "ab" * 32}, 422, "bad_chunk")
        refused({"offset": 0, "size": CHUNK, "sha256": "not hex"}, 422, "validation_error")
        refused({"offset": -1, "size": CHUNK, "sha256": "ab" * 32}, 422, "validation_error")
        too_many = api.post(path, json={"chunks": [chunk_spec(data, 0)] * 33})
        assert too_many.status_code == 422 and "error" in too_many.json()
        # A file sent in one PUT has no parts to stitch.
        single = register(api, submission_id, tank_clip)
        answer = api.post(f"/api/v1/media/{single['media_id']}/chunks", json={})
        assert answer.status_code == 409 and answer.json()["error"]["code"] == "bad_state"
    # Another unit's member cannot stage chunks for this file, nor learn it exists.
    with session_factory()() as session:
        other_token = make_unit(session)[1]
    with stack.client(other_token) as other:
        answer = other.post(path, json={"chunks": [chunk_spec(data, 0)]})
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"


def test_the_sweep_removes_abandoned_staged_chunks(
    stack: harness.Stack, accounts: Accounts, big_clip: Path
) -> None:
    data = big_clip.read_bytes()
    with stack.client(accounts.unit_token) as api:
        submission_id = new_submission(api)
        body = {"filename": big_clip.name, "size": len(data), "sha256": sha256_of(big_clip),
                "content_type": "video/mp4", "part_size": SMALLEST}  # fmt: skip
        media_id = api.post(f"/api/v1/submissions/{submission_id}/media", json=body).json()[
            "media_id"
        ]
        url = api.post(f"/api/v1/media/{media_id}/chunks",
                       json={"chunks": [chunk_spec(data, 0)]}).json()["urls"][0]  # fmt: skip
        put = httpx.put(url["url"], content=data[:CHUNK], headers=url["headers"])
        assert put.status_code == 200
    # An orphan too: chunks whose media is gone (a crash between complete and the delete).
    storage.put_bytes(f"{storage.staging_prefix('gone')}000000000000-1-{'0' * 64}", b"x",
                      content_type="application/octet-stream")  # fmt: skip
    assert storage.keys(storage.staging_prefix(media_id))
    swept = harness.run_cli(["sweep"], {**stack.env, "MVQ_ABANDONED_UPLOAD_HOURS": "0"})
    assert swept.returncode == 0, swept.stderr
    assert storage.keys(storage.staging_prefix(media_id)) == []
    assert storage.keys(storage.staging_prefix("gone")) == []
