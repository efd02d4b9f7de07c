"""`make dev`'s runner driven as a person does: its environment on free ports, start, wait
for /readyz, Ctrl-C."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from deploy import servers
from testkit import harness


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
