"""The contract's CLI against a running stack: admin commands, upload and status."""

import json
from pathlib import Path

from testkit import harness
from testkit.claims import wait_for_status
from testkit.people import Accounts


def test_admin_creates_a_unit_whose_token_works_and_a_staff_user(stack: harness.Stack) -> None:
    made = harness.run_cli(["admin", "create-unit", "Recon Team 7"], stack.env)
    assert made.returncode == 0, made.stderr
    lines = dict(line.split(": ", 1) for line in made.stdout.strip().splitlines())
    assert lines["token"].startswith("mvqu_") and len(lines["token"]) > 40
    with stack.client(lines["token"]) as unit:
        assert unit.get("/api/v1/submissions").status_code == 200
    duplicate = harness.run_cli(["admin", "create-unit", "Recon Team 7"], stack.env)
    assert duplicate.returncode == 1 and "exists" in duplicate.stderr
    # The same rule as the admin pages: a name of at most 200 characters.
    too_long = harness.run_cli(["admin", "create-unit", "x" * 201], stack.env)
    assert too_long.returncode == 1 and "at most 200 characters" in too_long.stderr

    user = harness.run_cli(
        ["admin", "create-user", "Rev@Example.org", "--role", "reviewer", "--unit", "Recon Team 7"],
        stack.env,
    )
    assert user.returncode == 0, user.stderr
    password = user.stdout.strip().removeprefix("password: ")
    with stack.client() as anon:
        token = anon.post(
            "/api/v1/auth/token", json={"email": "rev@example.org", "password": password}
        )
        wrong = anon.post(
            "/api/v1/auth/token", json={"email": "rev@example.org", "password": password + "x"}
        )
    assert token.status_code == 200 and token.json()["token"].startswith("mvqs_")
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "bad_credentials"


def test_upload_and_status_commands(
    stack: harness.Stack, accounts: Accounts, tank_clip: Path
) -> None:
    # `accounts` seeds the demo rules, so "tank" is a known target type.
    made = harness.run_cli(["admin", "create-unit", "Uploader"], stack.env)
    token = made.stdout.split("token: ")[1].strip()
    env = {**stack.env, "MVQ_URL": stack.url, "MVQ_TOKEN": token}
    uploaded = harness.run_cli(
        [
            "upload",
            str(tank_clip),
            "--target",
            "tank",
            "--outcome",
            "damaged",
            "--lat",
            "48.1",
            "--lon",
            "37.6",
        ],
        env,
    )
    assert uploaded.returncode == 0, uploaded.stderr
    submission_id = uploaded.stdout.strip().splitlines()[-1]
    wait_for_status(stack, token, submission_id, "in_queue")
    shown = harness.run_cli(["status", submission_id], env)
    assert shown.returncode == 0, shown.stderr
    with stack.client(token) as api:
        flags = api.get(f"/api/v1/submissions/{submission_id}").json()["flags"]
    # The footage is re-encoded by ffmpeg and carries no capture time: both are flagged.
    assert sorted(f["kind"] for f in flags) == ["no_capture_time", "reencoded"]
    assert json.loads(shown.stdout) == {
        "id": submission_id,
        "status": "in_queue",
        "flags": flags,
        "decision": None,
        "points": None,
    }

    bad = harness.run_cli(
        ["upload", str(tank_clip), "--target", "spaceship", "--outcome", "destroyed"], env
    )
    assert bad.returncode == 1 and "unknown_target_type" in bad.stderr
    unauthenticated = harness.run_cli(["status", submission_id], {**env, "MVQ_TOKEN": "nope"})
    assert unauthenticated.returncode == 1 and "401" in unauthenticated.stderr
