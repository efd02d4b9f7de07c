"""README's curl-only upload runs as written, for a single PUT and for a multipart upload, and
the trap it warns about is real: a single PUT without the listed headers is refused."""

import os
import re
import subprocess
from pathlib import Path

import httpx
import pytest

from testkit import harness
from testkit.claims import sha256_of, wait_for_status
from testkit.people import Accounts

README = Path(__file__).parents[2] / "README.md"


def readme_script() -> str:
    text = README.read_text()
    found = re.search(r"<!-- curl-upload -->\n```sh\n(.*?)```", text, re.S)
    assert found, "README has no curl-upload block"
    return found[1]


@pytest.mark.parametrize("which", ["tank_clip", "big_clip"])
def test_the_readme_upload_works_with_curl_alone(
    stack: harness.Stack, accounts: Accounts, which: str, request: pytest.FixtureRequest
) -> None:
    clip: Path = request.getfixturevalue(which)
    env = os.environ | {"MVQ_URL": stack.url, "MVQ_TOKEN": accounts.unit_token,
                        "FILE": str(clip)}  # fmt: skip
    done = subprocess.run(["bash", "-c", readme_script()], env=env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    claim = done.stdout.strip().splitlines()[-1]
    body = wait_for_status(stack, accounts.unit_token, claim, "in_queue")
    (media,) = body["media"]
    assert media["status"] == "processed" and media["sha256"] == sha256_of(clip)


def test_a_single_put_without_the_listed_headers_is_refused(
    stack: harness.Stack, accounts: Accounts, tank_clip: Path
) -> None:
    with stack.client(accounts.unit_token) as api:
        claim = api.post(
            "/api/v1/submissions", headers={"Idempotency-Key": "bare-put"},
            json={"target_type": "tank", "outcome": "destroyed"},
        ).json()["id"]  # fmt: skip
        plan = api.post(f"/api/v1/submissions/{claim}/media", json={
            "filename": "clip.mp4", "size": tank_clip.stat().st_size,
            "sha256": sha256_of(tank_clip), "content_type": "video/mp4"}).json()  # fmt: skip
    upload = plan["upload"]
    assert upload["mode"] == "single" and upload["headers"] == {"Content-Type": "video/mp4"}
    bare = httpx.put(upload["urls"][0], content=tank_clip.read_bytes(),
                     headers={"Content-Type": "application/octet-stream"})  # fmt: skip
    assert bare.status_code == 403 and "SignatureDoesNotMatch" in bare.text
    listed = httpx.put(upload["urls"][0], content=tank_clip.read_bytes(), headers=upload["headers"])
    assert listed.status_code == 200, listed.text
