"""The test harness's servers: one Redis, one SeaweedFS and (lazily) one Postgres cluster per
run, each on free loopback ports with its own data directory; a fresh database per module."""

import itertools
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg

from deploy import servers
from mvq import queue, storage
from mvq.bootstrap import migrate
from mvq.settings import get_settings

ROOT = Path(__file__).resolve().parent.parent
_counter = itertools.count(1)


@dataclass
class Backing:
    root: Path
    group: servers.Group
    env: dict[str, str]
    pg_url: str | None = None


def start_backing(root: Path) -> Backing:
    group = servers.Group()
    logs = root / "logs"
    redis_port = servers.free_port()
    proc = group.start(
        "redis",
        servers.redis_argv(port=redis_port, data_dir=root / "redis", persist=False),
        log_dir=logs,
    )
    servers.wait_for_port(redis_port, proc=proc)
    access, secret = "testkey" + os.urandom(4).hex(), os.urandom(16).hex()
    for attempt in range(3):
        # A dozen ports chosen, then bound a second or two later: another test run on the
        # machine choosing at the same moment can take one, and weed exits. New ports then.
        ports = servers.WeedPorts(*(servers.free_port(with_grpc=True) for _ in range(6)))
        proc = group.start(
            f"seaweedfs-{attempt}" if attempt else "seaweedfs",
            servers.weed_argv(ports=ports, data_dir=root / "weed", bucket="mvq-test"),
            env=servers.weed_env(access, secret),
            log_dir=logs,
        )
        try:
            servers.wait_for_port(ports.s3, proc=proc, timeout=90)
            break
        except RuntimeError:
            if proc.alive() or attempt == 2:
                raise
    env = {
        "MVQ_ENV": "dev",
        "MVQ_DATA_DIR": str(root / "data"),
        "MVQ_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "MVQ_S3_ENDPOINT_URL": f"http://127.0.0.1:{ports.s3}",
        "MVQ_S3_BUCKET": "mvq-test",
        "MVQ_S3_ACCESS_KEY": access,
        "MVQ_S3_SECRET_KEY": secret,
        "MVQ_SECRET_KEY": os.urandom(24).hex(),
        "MVQ_SIGNING_KEY": os.urandom(32).hex(),
        "MVQ_STUCK_AFTER_SECONDS": "2",
        # Tests of everything else decide at machine speed; the warnings' own tests turn it on.
        "MVQ_FAST_DECISION_WARNINGS": "false",
        # No golden or re-review items unless a test asks for them (extra_env): a test that
        # claims an item expects the live one it queued.
        "MVQ_GOLDEN_RATE": "0",
        "MVQ_REREVIEW_RATE": "0",
    }
    backing = Backing(root=root, group=group, env=env)
    use_env(backing.env)
    deadline = time.monotonic() + 60
    while True:
        try:
            storage.ensure_bucket()
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    return backing


@contextmanager
def temporary_backing(prefix: str) -> Iterator[Backing]:
    """Redis and SeaweedFS (and Postgres, once asked for) in a fresh directory, stopped and
    removed afterwards; MVQ_KEEP_TEST_DIR keeps the directory and its logs."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    root.chmod(0o755)  # the Postgres cluster runs as the postgres user and must reach its dir
    backing = start_backing(root)
    try:
        yield backing
    finally:
        backing.group.stop()
        if not os.environ.get("MVQ_KEEP_TEST_DIR"):
            shutil.rmtree(root, ignore_errors=True)


def use_env(env: dict[str, str]) -> None:
    """Point this process's settings, S3 client and Redis connection at `env`."""
    os.environ.update(env)
    get_settings.cache_clear()
    storage.client.cache_clear()
    queue.redis_conn.cache_clear()


def postgres_template(backing: Backing) -> str:
    """Start the cluster on first use and migrate a template database once."""
    if backing.pg_url is None:
        url = servers.start_postgres(
            backing.group,
            port=servers.free_port(),
            data_dir=backing.root / "pg",
            log_dir=backing.root / "logs",
        )
        admin = url.replace("postgresql+psycopg", "postgresql")
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("CREATE DATABASE mvq_template")
        migrate(url.rsplit("/", 1)[0] + "/mvq_template")
        backing.pg_url = url
    return backing.pg_url


def fresh_database(backing: Backing, backend: str) -> str:
    n = next(_counter)
    if backend == "sqlite":
        url = f"sqlite:///{backing.root}/db-{n}.sqlite"
        migrate(url)
        return url
    base = postgres_template(backing)
    admin = base.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE mvq_{n} TEMPLATE mvq_template")
    return base.rsplit("/", 1)[0] + f"/mvq_{n}"


@dataclass
class Stack:
    """API and workers as real processes, against one database."""

    url: str
    database_url: str
    env: dict[str, str]
    group: servers.Group
    logs: Path

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


def start_stack(
    backing: Backing,
    database_url: str,
    *,
    workers: int = 1,
    api_workers: int = 1,
    sweep_every: float | None = None,
    extra_env: dict[str, str] | None = None,
) -> Stack:
    env = {**backing.env, "MVQ_DATABASE_URL": database_url, **(extra_env or {})}
    group = servers.Group()
    logs = backing.root / "logs" / f"stack-{next(_counter)}"
    port = servers.free_port()
    for n in range(workers):
        group.start(f"worker-{n}", servers.mvq_argv("worker"), env=env, log_dir=logs, cwd=ROOT)
    if sweep_every is not None:
        sweep = servers.mvq_argv("sweep", "--every", str(sweep_every))
        group.start("sweeper", sweep, env=env, log_dir=logs, cwd=ROOT)
    argv = servers.uvicorn_argv(host="127.0.0.1", port=port, workers=api_workers)
    api = group.start("api", argv, env=env, log_dir=logs, cwd=ROOT)
    servers.wait_for_port(port, proc=api)
    return Stack(url=f"http://127.0.0.1:{port}", database_url=database_url, env=env, group=group,
                 logs=logs)  # fmt: skip


def wait_until(predicate, *, timeout: float = 60, interval: float = 0.3, what: str = "condition"):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"{what} not reached within {timeout}s")


def run_cli(args: list[str], env: dict[str, str], **kwargs) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    return subprocess.run(
        servers.mvq_argv(*args),
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        **kwargs,
    )
