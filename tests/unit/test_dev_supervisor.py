"""The dev runner's supervisor: app processes come back after a doubling pause, each exit
logged with its process and code; a dead backing server stops the runner instead."""

import json
import time
from pathlib import Path

import pytest

from deploy import servers
from deploy.dev import Supervisor


def _events(err: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in err.splitlines() if line.startswith("{")]


def test_a_crashing_worker_is_restarted_with_growing_pauses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    group = servers.Group()
    group.start("worker-1", ["sh", "-c", "exit 3"], log_dir=tmp_path)
    supervisor = Supervisor(group)
    supervisor.FIRST_DELAY, supervisor.MAX_DELAY = 0.05, 0.2
    deadline = time.monotonic() + 10
    seen: list[dict[str, object]] = []
    while len([e for e in seen if e["event"] == "process_exited"]) < 5:
        assert time.monotonic() < deadline, seen
        assert supervisor.check() is None
        seen += _events(capsys.readouterr().err)
        time.sleep(0.01)
    group.stop()
    exits = [e for e in seen if e["event"] == "process_exited"]
    assert [e["restart_in_seconds"] for e in exits] == [0.05, 0.1, 0.2, 0.2, 0.2]
    assert {e["process"] for e in exits} == {"worker-1"} and {e["exit_code"] for e in exits} == {3}
    restarts = [e["pid"] for e in seen if e["event"] == "process_restarted"]
    assert len(set(restarts)) == len(restarts) == 4


def test_a_dead_backing_server_is_not_restarted(tmp_path: Path) -> None:
    group = servers.Group()
    group.start("redis", ["sh", "-c", "exit 1"], log_dir=tmp_path)
    group.procs[0].popen.wait()
    dead = Supervisor(group).check()
    assert dead is not None and dead.name == "redis"
