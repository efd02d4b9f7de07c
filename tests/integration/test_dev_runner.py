"""`make dev`'s runner: up within 60 s on its own ports, Ctrl-C stops everything, and a
restart keeps every submission."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from deploy import servers
from tests import harness
from tests.integration.conftest import claim_body


def dev_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MVQ_")}
    env |= {
        "MVQ_DATA_DIR": str(data_dir),
        "MVQ_WORKERS": "1",
        "PYTHONUNBUFFERED": "1",
        "MVQ_PORT": str(servers.free_port()),
        "MVQ_REDIS_PORT": str(servers.free_port()),
    }
    for name in (
        "S3_PORT",
        "WEED_MASTER_PORT",
        "WEED_VOLUME_PORT",
        "WEED_FILER_PORT",
        "WEED_WEBDAV_PORT",
        "WEED_ADMIN_PORT",
    ):
        env[f"MVQ_{name}"] = str(servers.free_port(with_grpc=True))
    return env


def start(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "deploy.dev"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=harness.ROOT,
        )


def wait_ready(base: str, proc: subprocess.Popen[bytes], log: Path) -> float:
    started = time.monotonic()

    def ready() -> bool:
        assert proc.poll() is None, log.read_text()
        try:
            return httpx.get(f"{base}/readyz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    harness.wait_until(ready, timeout=90, interval=0.5, what="readyz")
    return time.monotonic() - started


def interrupt(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGINT)
    return proc.wait(timeout=60)


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
