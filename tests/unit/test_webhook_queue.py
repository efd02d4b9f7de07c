"""Webhook deliveries have a queue of their own, so they never wait behind media processing:
every worker takes them before media jobs, and the dev runner, the Procfile, compose and
Kubernetes each also run a worker on that queue alone. (tests/integration/test_webhooks.py
shows a delivery arriving while the media worker is busy.)"""

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from cli import app as cli_app
from deploy import dev, servers
from mvq import logs, queue
from mvq.webhooks import dispatch
from workers import run

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
WEBHOOKS_ONLY = ["mvq", "worker", "webhooks"]


def test_deliveries_go_to_their_own_queue() -> None:
    job = dispatch.delivery_job("endpoint-1")
    assert job.queue == queue.WEBHOOKS_QUEUE == "webhooks"
    assert queue.WEBHOOKS_QUEUE != queue.MEDIA_QUEUE


def test_a_worker_takes_deliveries_before_media_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[list[str]] = []

    class FakeWorker:
        def __init__(self, queues: list[str], **_: Any) -> None:
            started.append(list(queues))

        def work(self, **_: Any) -> None:
            pass

    monkeypatch.setattr(run, "SimpleWorker", FakeWorker)
    monkeypatch.setattr(run, "clean_stale_scratch", lambda: None)
    monkeypatch.setattr(logs, "configure", lambda: None)
    monkeypatch.setattr(queue, "redis_conn", lambda: None)
    run.work([])
    run.work(["webhooks"])
    # RQ takes a job from the first of its queues that has one.
    # Index compaction last: it only runs when no file is waiting.
    assert started == [["webhooks", "media", "index"], ["webhooks"]]


def test_mvq_worker_becomes_the_workers_program(monkeypatch: pytest.MonkeyPatch) -> None:
    """`mvq worker` hands its process over to `python -m workers` (the CLI imports no
    workers), keeping its queues."""
    became: list[list[str]] = []
    monkeypatch.setattr(cli_app.os, "execv", lambda path, argv: became.append(argv))
    runner = CliRunner()
    assert runner.invoke(cli_app.app, ["worker"]).exit_code == 0
    assert runner.invoke(cli_app.app, ["worker", "webhooks"]).exit_code == 0
    assert [argv[1:] for argv in became] == [["-m", "workers"], ["-m", "workers", "webhooks"]]


def test_the_dev_runner_starts_a_worker_for_webhooks_alone(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    commands: dict[str, list[str]] = {}

    class FakeGroup:
        def start(self, name: str, argv: list[str], **_: Any) -> None:
            commands[name] = [Path(argv[0]).name, *argv[1:]]

    monkeypatch.setattr(servers, "wait_for_port", lambda *a, **k: None)
    settings = SimpleNamespace(workers=2, sweep_interval_seconds=15, host="127.0.0.1", port=8000)
    dev.start_app(FakeGroup(), settings, tmp_path)  # type: ignore[arg-type]
    workers = {name: argv for name, argv in commands.items() if name.startswith("worker-")}
    assert workers == {"worker-1": ["mvq", "worker"], "worker-2": ["mvq", "worker"],
                       "worker-webhooks": WEBHOOKS_ONLY}  # fmt: skip
    # The supervisor restarts it like any worker.
    assert "worker-webhooks".startswith(dev.Supervisor.RESTARTABLE)


def test_every_deployment_runs_a_worker_for_webhooks_alone() -> None:
    procfile = dict(
        line.split(": ", 1) for line in (DEPLOY / "Procfile").read_text().splitlines() if line
    )
    assert procfile["worker"] == "mvq worker"
    assert procfile["webhooks"] == " ".join(WEBHOOKS_ONLY)

    services = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    commands = [s.get("command") for s in services.values()]
    assert ["mvq", "worker"] in commands and WEBHOOKS_ONLY in commands

    docs = yaml.safe_load_all((DEPLOY / "k8s" / "workers.yaml").read_text())
    commands = [
        c["command"]
        for d in docs
        if d and d["kind"] == "Deployment"
        for c in d["spec"]["template"]["spec"]["containers"]
    ]
    assert ["mvq", "worker"] in commands and WEBHOOKS_ONLY in commands
