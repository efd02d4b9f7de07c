"""`make dev` is closed and supervised: SeaweedFS answers anonymous requests on none of its
side doors, Redis wants its password, `.data/` is the owner's alone, and a killed worker or
API process comes back while the stack keeps answering."""

import json
import os
import re
import signal
import stat
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import httpx
import pytest
import redis
from botocore.config import Config

from deploy import servers
from testkit import harness
from testkit.claims import upload_claim, wait_for_status
from tests import devstack


@dataclass
class Dev:
    make: devstack.MakeDev
    data: Path
    stack: harness.Stack
    token: str

    @property
    def env(self) -> dict[str, str]:
        return self.make.env

    @property
    def runner(self) -> int:
        """The runner's pid: `make dev` runs it as its only child."""
        (pid,) = _children(self.make.proc.pid)
        return pid

    def port(self, name: str) -> int:
        return int(self.env[f"MVQ_{name}"])

    def ready(self) -> bool:
        try:
            return httpx.get(f"{self.stack.url}/readyz", timeout=5).status_code == 200
        except httpx.TransportError:
            return False


@pytest.fixture(scope="module")
def dev(newcomer_clone: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dev]:
    devstack.forget_data(newcomer_clone)
    make = devstack.make_dev(
        newcomer_clone, devstack.port_env(), tmp_path_factory.mktemp("devstack") / "dev.log"
    )
    try:
        make.wait_ready(timeout=900)  # the first `make dev` of a run builds the clone's venv
        token, _ = devstack.demo_credentials(make.output())
        stack = harness.Stack(make.url, "", make.env, servers.Group(), newcomer_clone)
        yield Dev(make, newcomer_clone / ".data", stack, token)
    finally:
        make.ctrl_c()
        assert make.output().rstrip().endswith("stopped."), make.output()[-3000:]


@pytest.fixture(scope="module")
def uploaded(dev: Dev, tank_clip: Path) -> str:
    """One clip through the whole path; its processing needs Redis, the workers and S3."""
    submission_id = upload_claim(dev.stack, dev.token, tank_clip)
    wait_for_status(dev.stack, dev.token, submission_id, "in_queue")
    return submission_id


def _loose_modes(data: Path) -> list[str]:
    loose = []
    for path in data.rglob("*"):
        mode = stat.S_IMODE(path.lstat().st_mode)
        if (path.is_dir() and mode & 0o077) or (path.is_file() and mode & 0o177):
            loose.append(f"{oct(mode)} {path.relative_to(data)}")
    return loose


def test_data_dir_is_owner_only(dev: Dev, uploaded: str) -> None:
    assert stat.S_IMODE(dev.data.stat().st_mode) == 0o700
    assert (dev.data / "mvq.db").exists()
    assert (dev.data / "seaweedfs-conf" / "security.toml").exists()
    # SeaweedFS chmods a new volume's .vif to 0644 itself; the runner tightens it again soon.
    harness.wait_until(lambda: not _loose_modes(dev.data), timeout=30, what="owner-only modes")


def test_seaweedfs_side_doors_refuse_anonymous(dev: Dev, uploaded: str, tank_clip: Path) -> None:
    secrets = json.loads((dev.data / "secrets.json").read_text())
    s3 = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{dev.port('S3_PORT')}",
        aws_access_key_id=secrets["s3_access_key"],
        aws_secret_access_key=secrets["s3_secret_key"],
        region_name="us-east-1",
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="mvq")["Contents"]]
    original = next(k for k in keys if s3.head_object(Bucket="mvq", Key=k)["ContentLength"]
                    == tank_clip.stat().st_size)  # fmt: skip
    assert s3.get_object(Bucket="mvq", Key=original)["Body"].read() == tank_clip.read_bytes()

    filer = f"http://127.0.0.1:{dev.port('WEED_FILER_PORT')}"
    for path in (f"/buckets/mvq/{original}", "/buckets/mvq/", "/"):
        answer = httpx.get(filer + path, timeout=5)
        # -disableHttp leaves the filer's port a 404 for everything; JWTs would answer 401.
        assert answer.status_code in (401, 403, 404), (path, answer.status_code, answer.text[:200])
    assert not servers.is_listening(dev.port("WEED_WEBDAV_PORT"))
    # The master's HTTP admin API would drop the bucket's whole collection for anyone.
    master = f"http://127.0.0.1:{dev.port('WEED_MASTER_PORT')}"
    for path in ("/col/delete?collection=mvq", "/dir/assign", "/vol/grow?collection=mvq"):
        answer = httpx.get(master + path, timeout=5)
        assert answer.status_code >= 400, (path, answer.status_code, answer.text[:200])
    assert s3.get_object(Bucket="mvq", Key=original)["Body"].read() == tank_clip.read_bytes()
    # The filer's gRPC port and the volume server: `weed filer.cat` looks the object up over
    # gRPC and reads its chunks from the volume server, with no credentials of its own.
    cat = subprocess.run(
        [servers.weed_binary(), "filer.cat", f"{filer}/buckets/mvq/{original}"],
        capture_output=True,
        timeout=60,
        cwd=dev.data.parent,
        check=False,
    )
    assert tank_clip.read_bytes()[:4096] not in cat.stdout


def test_redis_wants_its_password(dev: Dev, uploaded: str) -> None:
    anonymous = redis.Redis(port=dev.port("REDIS_PORT"), socket_timeout=5)
    with pytest.raises(redis.AuthenticationError):
        anonymous.ping()
    assert "MVQ_REDIS_URL" not in dev.env


def _children(parent: int) -> dict[int, str]:
    found = {}
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat_file.parent / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if int(fields[1]) == parent:
            found[int(stat_file.parent.name)] = cmdline.decode(errors="replace")
    return found


def _pids_of(dev: Dev, marker: str) -> set[int]:
    return {pid for pid, cmd in _children(dev.runner).items() if re.search(marker, cmd)}


# The media workers' command lines end at `-m workers`; the webhooks worker's names its queue.
@pytest.mark.parametrize(("kind", "marker"), [("worker-", r" -m workers $"), ("api", "uvicorn")])
def test_killed_process_is_restarted(dev: Dev, uploaded: str, kind: str, marker: str) -> None:
    before = _pids_of(dev, marker)
    old = min(before)
    os.kill(old, signal.SIGKILL)
    killed = time.monotonic()

    def restarted() -> int | None:
        fresh = _pids_of(dev, marker) - before
        return fresh.pop() if fresh and dev.ready() else None

    new = harness.wait_until(restarted, timeout=60, interval=0.2, what=f"{kind} restarted")
    print(f"{kind}: back and ready {time.monotonic() - killed:.1f} s after kill -9")
    lines = [json.loads(line) for line in dev.make.output().splitlines() if '"event"' in line]
    (exit_event,) = [e for e in lines if e["event"] == "process_exited" and e["pid"] == old]
    assert exit_event["exit_code"] == -signal.SIGKILL, lines
    assert str(exit_event["process"]).startswith(kind)
    assert any(
        e["event"] == "process_restarted" and e["pid"] == new
        and e["process"] == exit_event["process"] for e in lines
    ), lines  # fmt: skip
    assert dev.make.proc.poll() is None
    assert dev.ready()
