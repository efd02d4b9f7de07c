"""Write-once originals: after `complete`, nothing a unit holds changes the bytes that are
reviewed, hashed, exported or bundled; and a client that sends exactly `upload.headers` never
meets a signature error."""

import hashlib
import io
import uuid
import zipfile
from pathlib import Path

import httpx
from sqlalchemy import select

from mvq import storage
from mvq.audit.models import AuditEvent
from mvq.db import session_factory
from mvq.media.models import Media
from testkit import footage, harness
from testkit.claims import claim_body, sha256_of, wait_for_status
from testkit.people import Accounts


def register(api: httpx.Client, submission_id: str, path: Path) -> dict:  # type: ignore[type-arg]
    response = api.post(
        f"/api/v1/submissions/{submission_id}/media",
        json={"filename": path.name, "size": path.stat().st_size,
              "sha256": sha256_of(path), "content_type": "video/mp4"},
    )  # fmt: skip
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def new_submission(api: httpx.Client) -> str:
    created = api.post(
        "/api/v1/submissions", json=claim_body(), headers={"Idempotency-Key": uuid.uuid4().hex}
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def test_a_put_after_processing_changes_nothing_any_reader_sees(
    stack: harness.Stack, accounts: Accounts, tank_clip: Path, clips: Path
) -> None:
    other = footage.clip("rocket", clips / "rocket-replacement.mp4")
    with stack.client(accounts.unit_token) as api:
        submission_id = new_submission(api)
        plan = register(api, submission_id, tank_clip)
        url, headers = plan["upload"]["urls"][0], plan["upload"]["headers"]
        assert httpx.put(url, content=tank_clip.read_bytes(), headers=headers).status_code == 200
        done = api.post(f"/api/v1/media/{plan['media_id']}/complete", json={})
        assert done.status_code == 202, done.text
    assert wait_for_status(stack, accounts.unit_token, submission_id, "in_queue")

    # The unit still holds a live URL and its headers: it tries both ways to swap the clip.
    with_signed = httpx.put(url, content=other.read_bytes(), headers=headers)
    own_checksum = {**headers, "x-amz-checksum-sha256": _b64_sha256(other)}
    with_own = httpx.put(url, content=other.read_bytes(), headers=own_checksum)
    assert with_signed.status_code == 400 and "BadDigest" in with_signed.text
    assert with_own.status_code >= 400, with_own.text

    with session_factory(stack.database_url)() as session:
        media = session.get_one(Media, plan["media_id"])
        sealed_key, stored_sha = media.s3_key, media.sha256
        custody = session.scalars(
            select(AuditEvent.action).where(AuditEvent.object_id == media.id)
        ).all()
    assert stored_sha == sha256_of(tank_clip)
    assert "media.sealed" in custody
    # The reviewer's player reads the sealed copy, which no presigned PUT ever names.
    assert sealed_key not in url
    played = httpx.get(storage.presign_get(sealed_key, content_type="video/mp4"))
    assert hashlib.sha256(played.content).hexdigest() == sha256_of(tank_clip)

    with stack.client(accounts.staff_tokens["auditor"]) as auditor:
        bundle = auditor.get(f"/api/v1/submissions/{submission_id}/evidence")
    assert bundle.status_code == 200, bundle.text
    with zipfile.ZipFile(io.BytesIO(bundle.content)) as archive:
        name = next(n for n in archive.namelist() if n.endswith(f"original/{media.id}"))
        assert hashlib.sha256(archive.read(name)).hexdigest() == sha256_of(tank_clip)


def test_a_client_sending_exactly_the_instructed_headers_succeeds(
    stack: harness.Stack, accounts: Accounts, tank_clip: Path, big_clip: Path
) -> None:
    with stack.client(accounts.unit_token) as api:
        submission_id = new_submission(api)
        single = register(api, submission_id, tank_clip)
        multi = register(api, submission_id, big_clip)
        assert single["upload"]["mode"] == "single"
        assert single["upload"]["headers"] == {"Content-Type": "video/mp4"}
        put = httpx.put(
            single["upload"]["urls"][0],
            content=tank_clip.read_bytes(),
            headers=single["upload"]["headers"],
        )
        assert put.status_code == 200, put.text
        upload = multi["upload"]
        assert upload["mode"] == "multipart"
        data, size = big_clip.read_bytes(), upload["part_size"]
        for n, part_url in enumerate(upload["urls"], start=1):
            part = data[(n - 1) * size : n * size]
            response = httpx.put(part_url, content=part, headers=upload["headers"])
            assert response.status_code == 200, response.text
        for media_id in (single["media_id"], multi["media_id"]):
            assert api.post(f"/api/v1/media/{media_id}/complete", json={}).status_code == 202
    body = wait_for_status(stack, accounts.unit_token, submission_id, "in_queue", "failed")
    assert body["status"] == "in_queue"
    assert {m["sha256"] for m in body["media"]} == {sha256_of(tank_clip), sha256_of(big_clip)}
    # The part URLs died with their upload ID at complete: a replacement part is refused.
    late = httpx.put(upload["urls"][0], content=data[:size][::-1], headers=upload["headers"])
    assert late.status_code == 404 and "NoSuchUpload" in late.text
    with session_factory(stack.database_url)() as session:
        media = session.scalars(select(Media).where(Media.submission_id == submission_id)).all()
    for m in media:
        assert m.upload_key is not None and storage.head(m.upload_key) is None  # staging emptied
        sealed = httpx.get(storage.presign_get(m.s3_key))
        assert hashlib.sha256(sealed.content).hexdigest() == m.sha256 == m.declared_sha256


def _b64_sha256(path: Path) -> str:
    import base64

    return base64.b64encode(hashlib.sha256(path.read_bytes()).digest()).decode()
