"""`make dev`: the whole stack on loopback, in the foreground, data kept under MVQ_DATA_DIR.

Redis and SeaweedFS are started here unless MVQ_REDIS_URL / MVQ_S3_ENDPOINT_URL point
elsewhere, each closed to anyone without the keys in `<data_dir>`, which only its owner may
read. A worker, the sweeper or the API that dies is started again after a growing pause.
Ctrl-C stops every child, newest first.
"""

import json
import os
import signal
import stat
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from deploy import servers
from mvq import queue, storage
from mvq.audit import signing, witness
from mvq.backup import postgres as pg_backup
from mvq.bootstrap import create_demo_accounts, migrate
from mvq.db import session_scope
from mvq.settings import Settings, dev_postgres_dir, get_settings


def weed_ports(settings: Settings) -> servers.WeedPorts:
    return servers.WeedPorts(
        s3=settings.s3_port,
        master=settings.weed_master_port,
        volume=settings.weed_volume_port,
        filer=settings.weed_filer_port,
        webdav=settings.weed_webdav_port,
        admin=settings.weed_admin_port,
    )


def wanted_ports(settings: Settings) -> dict[int, str]:
    """Every loopback port this run will listen on, with the variable that moves it."""
    wanted = {settings.port: "MVQ_PORT"}
    if "MVQ_WITNESSES" not in os.environ:
        wanted[settings.witness_port] = "MVQ_WITNESS_PORT"
    if "MVQ_REDIS_URL" not in os.environ:
        wanted[settings.redis_port] = "MVQ_REDIS_PORT"
    if settings.pg_backup:
        wanted[settings.pg_port] = "MVQ_PG_PORT"
        wanted[settings.s3_https_port] = "MVQ_S3_HTTPS_PORT"
    if "MVQ_S3_ENDPOINT_URL" not in os.environ:
        ports = weed_ports(settings)
        for name in ("s3", "master", "volume", "filer", "admin"):
            variable = "MVQ_S3_PORT" if name == "s3" else f"MVQ_WEED_{name.upper()}_PORT"
            port = getattr(ports, name)
            wanted[port] = variable
            wanted[port + servers.GRPC_OFFSET] = (
                f"the gRPC twin of {variable}, +{servers.GRPC_OFFSET}"
            )
    return wanted


def port_problems(settings: Settings) -> list[str]:
    """Why a port this run needs cannot be had: out of range (SeaweedFS adds 10000 for its gRPC
    twin, so a high ephemeral port like 59287 has none), or already in use."""
    problems = []
    for port, variable in sorted(wanted_ports(settings).items()):
        if not 0 < port < 65536:
            problems.append(
                f"port {port} ({variable}) is outside 1-65535; SeaweedFS ports need their "
                f"+{servers.GRPC_OFFSET} twin, so keep them below {65536 - servers.GRPC_OFFSET}"
            )
        elif not servers.port_is_free(port):
            problems.append(f"port {port} ({variable}) is already in use")
    return problems


class StartFailed(RuntimeError):
    """A part of the stack did not come up; the message names it and where its log is."""


def started(name: str, proc: servers.Proc, port: int, variable: str, timeout: float) -> None:
    try:
        servers.wait_for_port(port, proc=proc, timeout=timeout)
    except (RuntimeError, TimeoutError) as exc:
        raise StartFailed(
            f"{name} did not start: port {port} ({variable}) did not open within {timeout:.0f} s "
            f"or the process exited; its log is {proc.log_path}\n{proc.tail()}"
        ) from exc


def start_backends(group: servers.Group, settings: Settings, logs: Path) -> None:
    if "MVQ_REDIS_URL" not in os.environ:
        proc = group.start(
            "redis",
            servers.redis_argv(
                port=settings.redis_port,
                data_dir=settings.data_dir / "redis",
                persist=True,
                password=settings.secret("redis_password"),
            ),
            log_dir=logs,
        )
        started("redis", proc, settings.redis_port, "MVQ_REDIS_PORT", timeout=60)
    if "MVQ_S3_ENDPOINT_URL" not in os.environ:
        weed_conf = settings.data_dir / "seaweedfs-conf"
        servers.write_weed_security(weed_conf)
        https = None
        if settings.pg_backup:  # for pgBackRest, whose S3 client speaks only HTTPS
            https = servers.write_s3_certificate(weed_conf, port=settings.s3_https_port)
        proc = group.start(
            "seaweedfs",
            servers.weed_argv(
                ports=weed_ports(settings),
                data_dir=settings.data_dir / "seaweedfs",
                bucket=settings.s3_bucket,
                https=https,
            ),
            env=servers.weed_env(
                settings.secret("s3_access_key"), settings.secret("s3_secret_key")
            ),
            log_dir=logs,
            cwd=weed_conf,  # where weed finds its security.toml
        )
        started("seaweedfs", proc, settings.s3_port, "MVQ_S3_PORT", timeout=90)
    _wait_for_bucket()


def start_backed_up_postgres(
    group: servers.Group, settings: Settings, logs: Path
) -> pg_backup.Stanza:
    """MVQ_PG_BACKUP=pgbackrest: a Postgres of the runner's own (kept in dev_postgres_dir)
    whose WAL pgBackRest archives into a bucket of the dev SeaweedFS, as production does
    into its S3; MVQ_DATABASE_URL then points at it for every process started after."""
    if "MVQ_S3_ENDPOINT_URL" in os.environ:
        raise StartFailed(
            "MVQ_PG_BACKUP=pgbackrest keeps the backups in the dev runner's own SeaweedFS: "
            "unset MVQ_S3_ENDPOINT_URL (for another S3, run Postgres and pgBackRest yourself)"
        )
    url = f"postgresql+psycopg://mvq@127.0.0.1:{settings.pg_port}/mvq"
    if os.environ.get("MVQ_DATABASE_URL", url) != url:
        raise StartFailed(
            f"MVQ_PG_BACKUP=pgbackrest starts its own Postgres at {url}: unset "
            "MVQ_DATABASE_URL, or set it to that"
        )
    repo = pg_backup.S3Repo(
        host="127.0.0.1",
        port=settings.s3_https_port,
        bucket=settings.pgbackrest_bucket,
        access_key=settings.secret("s3_access_key"),
        secret_key=settings.secret("s3_secret_key"),
        region=settings.s3_region,
        verify_tls=False,  # the certificate made at this start
    )
    assert settings.pgbackrest_config is not None  # filled in by Settings
    try:
        url, stanza = servers.start_archived_postgres(
            group,
            port=settings.pg_port,
            data_dir=dev_postgres_dir(settings.data_dir),
            log_dir=logs,
            repo=repo,
            config=settings.pgbackrest_config,
            stanza=settings.pgbackrest_stanza,
            archive_timeout=settings.pg_archive_timeout_seconds,
        )
    except (RuntimeError, TimeoutError) as exc:
        raise StartFailed(f"Postgres with WAL archiving did not start: {exc}") from exc
    os.environ["MVQ_DATABASE_URL"] = url
    get_settings.cache_clear()
    return stanza


def first_backup(stanza: pg_backup.Stanza) -> None:
    """A full backup when the repository has none yet, so a restore works from the start;
    later ones are the operator's (docs/OPERATIONS.md)."""
    if not pg_backup.backups(stanza):
        pg_backup.backup(stanza, "full")
    newest = pg_backup.backups(stanza)[-1]
    print(f"Postgres backups: pgBackRest stanza {stanza.name}, newest backup {newest['label']}, "
          f"configuration {stanza.config}", flush=True)  # fmt: skip


def _wait_for_bucket(timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            storage.ensure_bucket()
            return
        except Exception as exc:
            if time.monotonic() > deadline:
                raise StartFailed(f"the S3 bucket could not be made ready: {exc}") from exc
            time.sleep(0.5)


def start_witness(group: servers.Group, settings: Settings, logs: Path) -> None:
    """A witness of the audit log as another host would run one: its own process, key and
    directory, and its own port; the sweeper sends it each checkpoint. MVQ_WITNESSES set:
    those witnesses instead."""
    if "MVQ_WITNESSES" in os.environ:
        return
    store = settings.data_dir / "witness"
    port = settings.witness_port
    argv = servers.mvq_argv("witness", "--store", str(store), "--port", str(port),
                            "--log-key", signing.public_key_hex())  # fmt: skip
    started("witness", group.start("witness", argv, log_dir=logs), port, "MVQ_WITNESS_PORT",
            timeout=30)  # fmt: skip
    os.environ["MVQ_WITNESSES"] = f"http://127.0.0.1:{port} {witness.public_key(store)}"


def start_app(group: servers.Group, settings: Settings, logs: Path) -> None:
    for n in range(settings.workers):
        group.start(f"worker-{n + 1}", servers.mvq_argv("worker"), log_dir=logs)
    # Deliveries never wait behind media processing: a worker for them alone.
    argv = servers.mvq_argv("worker", queue.WEBHOOKS_QUEUE)
    group.start("worker-webhooks", argv, log_dir=logs)
    every = str(settings.sweep_interval_seconds)
    group.start("sweeper", servers.mvq_argv("sweep", "--every", every), log_dir=logs)
    api = group.start(
        "api", servers.uvicorn_argv(host=settings.host, port=settings.port), log_dir=logs
    )
    started("api", api, settings.port, "MVQ_PORT", timeout=60)


# SeaweedFS sets 0644 on some files it creates (a new volume's .vif) whatever the umask.
TIGHTEN_EVERY_SECONDS = 10


def make_private(data_dir: Path) -> None:
    """Owner-only: what exists now, and (by the umask every child inherits) what comes next."""
    os.umask(0o077)
    data_dir.mkdir(parents=True, exist_ok=True)
    tighten(data_dir)


def tighten(data_dir: Path) -> None:
    # os.walk, unlike rglob, shrugs off a directory that vanishes while it is being read.
    paths = [Path(top, name) for top, dirs, files in os.walk(data_dir) for name in dirs + files]
    for path in [data_dir, *paths]:
        try:
            mode = path.lstat().st_mode
            wanted = 0o700 if stat.S_ISDIR(mode) else 0o600
            if not stat.S_ISLNK(mode) and stat.S_IMODE(mode) != wanted:
                path.chmod(wanted)
        except FileNotFoundError:
            continue  # a temporary file (SQLite journal, a weed upload) gone meanwhile


class Supervisor:
    """Restarts the app's processes when they die, waiting 1, 2, 4 … 30 s between tries; a
    process that then stays up for a minute starts again from 1 s."""

    RESTARTABLE = ("worker-", "sweeper", "api", "witness")
    FIRST_DELAY, MAX_DELAY, STABLE_AFTER = 1.0, 30.0, 60.0

    def __init__(self, group: servers.Group) -> None:
        self.group = group
        self.delay: dict[str, float] = {}
        self.started: dict[str, float] = {}
        self.due: dict[str, float] = {}

    def check(self) -> servers.Proc | None:
        """Handle dead processes; return one that may not be restarted (a backing server)."""
        now = time.monotonic()
        for proc in list(self.group.procs):
            if proc.alive():
                continue
            if not proc.name.startswith(self.RESTARTABLE):
                return proc
            if proc.name not in self.due:
                self._exited(proc, now)
            elif now >= self.due[proc.name]:
                del self.due[proc.name]
                fresh = self.group.restart(proc)
                self.started[proc.name] = now
                log_event("process_restarted", process=proc.name, pid=fresh.popen.pid)
        return None

    def _exited(self, proc: servers.Proc, now: float) -> None:
        stable = now - self.started.get(proc.name, now) >= self.STABLE_AFTER
        last = self.delay.get(proc.name)
        delay = self.FIRST_DELAY if last is None or stable else min(last * 2, self.MAX_DELAY)
        self.delay[proc.name] = delay
        self.due[proc.name] = now + delay
        log_event(
            "process_exited",
            process=proc.name,
            pid=proc.popen.pid,
            exit_code=proc.popen.returncode,
            restart_in_seconds=delay,
            log=str(proc.log_path),
        )


def log_event(event: str, **fields: object) -> None:
    line = {"ts": datetime.now(UTC).isoformat(), "logger": "mvq.dev", "event": event, **fields}
    print(json.dumps(line), file=sys.stderr, flush=True)


def print_demo_accounts() -> None:
    with session_scope() as session:
        demo = create_demo_accounts(session)
    if demo is None:
        return
    print("\nDemo accounts (shown once; demo data only):")
    print(f"  unit  {demo.unit_name}  id={demo.unit_id}  token={demo.unit_token}")
    for email, role, password in demo.staff:
        print(f"  {role:<9} {email:<24} password={password}")
    print(flush=True)  # shown now, whether stdout is a terminal or a file


class Interrupted(Exception):
    """Ctrl-C (or SIGTERM) while the stack was still starting."""


def main() -> int:
    settings = get_settings()
    problems = port_problems(settings)
    if problems:
        print("mvq dev: cannot start, nothing was started:", *problems, sep="\n  ", file=sys.stderr)
        print("Stop what holds it, or move it with the variable named.", file=sys.stderr)
        return 1
    make_private(settings.data_dir)
    logs = settings.data_dir / "logs"
    group = servers.Group()
    supervisor = Supervisor(group)
    running = False
    stopping = False

    def _stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        if not running:  # break out of whatever start step is waiting
            raise Interrupted

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        start_backends(group, settings, logs)
        stanza = None
        if settings.pg_backup:
            stanza = start_backed_up_postgres(group, settings, logs)
            settings = get_settings()
        migrate(settings.database_url)
        if stanza is not None:
            first_backup(stanza)
        print_demo_accounts()
        start_witness(group, settings, logs)
        start_app(group, settings, logs)
        running = True
        if stopping:
            return 0
        print(
            f"mvq is up on http://{settings.host}:{settings.port}  (logs in {logs}; Ctrl-C stops)",
            flush=True,
        )
        tightened = time.monotonic()
        while not stopping:
            if time.monotonic() - tightened > TIGHTEN_EVERY_SECONDS:
                tighten(settings.data_dir)
                tightened = time.monotonic()
            dead = supervisor.check()
            if dead is not None:
                print(f"{dead.name} exited; stopping.\n{dead.tail()}", file=sys.stderr)
                return 1
            time.sleep(0.2)
        return 0
    except Interrupted:
        return 0
    except StartFailed as exc:
        print(f"mvq dev: {exc}", file=sys.stderr)
        return 1
    finally:
        # A second Ctrl-C must not cut the stop short and leave servers running.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("stopping…", flush=True)
        group.stop()
        print("stopped.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
