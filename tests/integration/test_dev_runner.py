"""`make dev`'s runner: up within 60 s on its own ports, Ctrl-C stops everything, and a
restart keeps every submission."""

import re
from pathlib import Path

import httpx

from deploy import servers
from testkit.claims import claim_body
from tests.dev_stack import dev_env, interrupt, start, wait_ready


def test_dev_stack_starts_stops_and_keeps_data(tmp_path: Path) -> None:
    env = dev_env(tmp_path / "data")
    base = f"http://127.0.0.1:{env['MVQ_PORT']}"
    first_log = tmp_path / "first.log"
    proc = start(env, first_log)
    try:
        seconds = wait_ready(base, proc, first_log)
        assert seconds < 60
        output = first_log.read_text()
        token = re.search(r"token=(\S+)", output)
        assert token, output
        for role in ("admin", "reviewer", "senior", "auditor"):
            assert re.search(rf"{role}@demo\.mvq\s+password=\S+", output)
        headers = {"Authorization": f"Bearer {token.group(1)}"}
        created = httpx.post(f"{base}/api/v1/submissions", json=claim_body(), headers=headers)
        assert created.status_code == 201, created.text
    finally:
        code = interrupt(proc)
    assert code == 0
    for name in ("MVQ_PORT", "MVQ_REDIS_PORT", "MVQ_S3_PORT"):
        assert not servers.is_listening(int(env[name])), f"{name} still served after Ctrl-C"

    second_log = tmp_path / "second.log"
    proc = start(env, second_log)
    try:
        wait_ready(base, proc, second_log)
        again = httpx.get(f"{base}/api/v1/submissions/{created.json()['id']}", headers=headers)
        assert again.status_code == 200 and again.json()["status"] == "awaiting_upload"
        assert "password=" not in second_log.read_text()  # credentials are shown once
    finally:
        assert interrupt(proc) == 0
