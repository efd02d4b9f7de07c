"""`make dev`: the whole stack on loopback, in the foreground, data kept under MVQ_DATA_DIR.

Redis and SeaweedFS are started here unless MVQ_REDIS_URL / MVQ_S3_ENDPOINT_URL point
elsewhere. Ctrl-C stops every child, newest first.
"""

import os
import signal
import sys
import time
from pathlib import Path

from deploy import servers
from mvq import storage
from mvq.bootstrap import create_demo_accounts, migrate
from mvq.db import session_scope
from mvq.settings import Settings, get_settings


def start_backends(group: servers.Group, settings: Settings, logs: Path) -> None:
    if "MVQ_REDIS_URL" not in os.environ:
        proc = group.start(
            "redis",
            servers.redis_argv(
                port=settings.redis_port,
                data_dir=settings.data_dir / "redis",
                persist=True,
            ),
            log_dir=logs,
        )
        servers.wait_for_port(settings.redis_port, proc=proc)
    if "MVQ_S3_ENDPOINT_URL" not in os.environ:
        ports = servers.WeedPorts(
            s3=settings.s3_port,
            master=settings.weed_master_port,
            volume=settings.weed_volume_port,
            filer=settings.weed_filer_port,
            webdav=settings.weed_webdav_port,
            admin=settings.weed_admin_port,
        )
        proc = group.start(
            "seaweedfs",
            servers.weed_argv(
                ports=ports, data_dir=settings.data_dir / "seaweedfs", bucket=settings.s3_bucket
            ),
            env=servers.weed_env(
                settings.secret("s3_access_key"), settings.secret("s3_secret_key")
            ),
            log_dir=logs,
        )
        servers.wait_for_port(settings.s3_port, proc=proc, timeout=90)
    _wait_for_bucket()


def _wait_for_bucket(timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            storage.ensure_bucket()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def start_app(group: servers.Group, settings: Settings, logs: Path) -> None:
    for n in range(settings.workers):
        group.start(f"worker-{n + 1}", servers.mvq_argv("worker"), log_dir=logs)
    every = str(settings.sweep_interval_seconds)
    group.start("sweeper", servers.mvq_argv("sweep", "--every", every), log_dir=logs)
    api = group.start(
        "api", servers.uvicorn_argv(host=settings.host, port=settings.port), log_dir=logs
    )
    servers.wait_for_port(settings.port, proc=api)


def print_demo_accounts() -> None:
    with session_scope() as session:
        demo = create_demo_accounts(session)
    if demo is None:
        return
    print("\nDemo accounts (shown once; demo data only):")
    print(f"  unit  {demo.unit_name}  id={demo.unit_id}  token={demo.unit_token}")
    for email, role, password in demo.staff:
        print(f"  {role:<9} {email:<24} password={password}")
    print()


def main() -> int:
    settings = get_settings()
    logs = settings.data_dir / "logs"
    group = servers.Group()
    stopping = False

    def _stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        start_backends(group, settings, logs)
        migrate(settings.database_url)
        print_demo_accounts()
        start_app(group, settings, logs)
        print(
            f"mvq is up on http://{settings.host}:{settings.port}  (logs in {logs}; Ctrl-C stops)"
        )
        while not stopping:
            dead = next((p for p in group.procs if not p.alive()), None)
            if dead is not None:
                print(f"{dead.name} exited; stopping.\n{dead.tail()}", file=sys.stderr)
                return 1
            time.sleep(0.5)
        return 0
    finally:
        print("stopping…")
        group.stop()


if __name__ == "__main__":
    sys.exit(main())
