"""Postgres backups with pgBackRest: continuous WAL archiving and base backups into an S3
bucket, and a restore of them into a scratch cluster.

pgBackRest does the work (compression, checksums, retention, choosing the backup a point in
time needs); this module writes its configuration, gives Postgres the `archive_command` that
pushes each finished WAL segment, runs its commands, and starts a restored copy on a free
loopback port for whoever checks it (a restore drill, a test).

pgBackRest's S3 client speaks HTTPS only: a SeaweedFS in dev serves S3 over TLS on a second
port with a self-signed certificate, hence `S3Repo.verify_tls`. Postgres and pgBackRest run as
the cluster's owner: under root, as the `postgres` user (initdb and postgres refuse root).
"""

import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import psycopg
from sqlalchemy.engine import make_url

from mvq.backup import BackupFailed, NotConfigured
from mvq.settings import get_settings

LOOPBACK = "127.0.0.1"
BackupKind = Literal["full", "diff", "incr"]


class BackupError(BackupFailed):
    """A pgBackRest command or a restored cluster failed; the message carries its output."""


@dataclass(frozen=True)
class S3Repo:
    """Where pgBackRest keeps backups and archived WAL: a bucket on an S3 endpoint."""

    host: str
    port: int
    bucket: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"
    path: str = "/pgbackrest"  # the repository's prefix inside the bucket
    # Off only for a dev or test endpoint whose certificate is self-signed.
    verify_tls: bool = True


@dataclass(frozen=True)
class Stanza:
    """A pgBackRest stanza (one cluster's backups) and the configuration file naming it."""

    config: Path
    name: str = "mvq"

    def run(self, *args: str, timeout: float = 3600) -> str:
        """Run a pgBackRest command for this stanza as the cluster's owner; its output."""
        argv = [pgbackrest_binary(), f"--config={self.config}", f"--stanza={self.name}", *args]
        done = subprocess.run(
            as_cluster_owner(argv), capture_output=True, text=True, check=False, timeout=timeout
        )
        if done.returncode != 0:
            raise BackupError(
                f"pgbackrest {args[-1] if args else ''} failed ({done.returncode}): "
                f"{(done.stderr or done.stdout).strip()[-2000:]}"
            )
        return done.stdout


def pgbackrest_binary() -> str:
    found = shutil.which("pgbackrest")
    if found is None:
        raise BackupError("pgbackrest not found: install Debian's pgbackrest package")
    return found


def postgres_bin(name: str) -> str:
    for version_dir in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (version_dir / name).exists():
            return str(version_dir / name)
    raise FileNotFoundError(f"{name} not found: install Debian's postgresql package")


def as_cluster_owner(argv: Sequence[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else list(argv)


def _own(path: Path) -> None:
    """Hand a file or directory to the cluster's owner (only root has another user to hand to)."""
    if os.geteuid() == 0:
        shutil.chown(path, "postgres")


def write_config(
    config: Path,
    *,
    stanza: str,
    data_dir: Path,
    port: int,
    socket_dir: Path,
    user: str,
    repo: S3Repo,
    full_backups_kept: int = 2,
) -> Stanza:
    """pgbackrest.conf for one stanza, owner-only (it holds the S3 keys). Its logs and locks
    go beside it, so nothing needs /var/log or /tmp to be writable by the cluster's owner."""
    work = config.parent.resolve()
    for sub in (work, work / "log", work / "lock"):
        sub.mkdir(parents=True, exist_ok=True)
        _own(sub)
    lines = [
        "[global]",
        "repo1-type=s3",
        f"repo1-path={repo.path}",
        f"repo1-s3-bucket={repo.bucket}",
        f"repo1-s3-endpoint={repo.host}",
        f"repo1-storage-port={repo.port}",
        f"repo1-s3-region={repo.region}",
        f"repo1-s3-key={repo.access_key}",
        f"repo1-s3-key-secret={repo.secret_key}",
        # SeaweedFS (and most self-hosted S3) answer at one host name, the bucket in the path.
        "repo1-s3-uri-style=path",
        f"repo1-storage-verify-tls={'y' if repo.verify_tls else 'n'}",
        # Older full backups (and the WAL only they need) are expired after each backup.
        f"repo1-retention-full={full_backups_kept}",
        "compress-type=lz4",
        # Small files (most of a cluster's) packed into bundles: a restore fetches tens of
        # objects from S3 instead of a thousand, one request each.
        "repo1-bundle=y",
        # A backup starts with an immediate checkpoint instead of waiting for the next one.
        "start-fast=y",
        f"log-path={work / 'log'}",
        f"lock-path={work / 'lock'}",
        "log-level-console=warn",
        "log-level-file=info",
        "",
        f"[{stanza}]",
        f"pg1-path={data_dir.resolve()}",
        f"pg1-port={port}",
        f"pg1-socket-path={socket_dir.resolve()}",
        f"pg1-user={user}",
    ]
    fd = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    _own(config)
    return Stanza(config=config.resolve(), name=stanza)


def archive_settings(stanza: Stanza, *, timeout_seconds: int) -> dict[str, str]:
    """Postgres settings (`-c name=value`) that archive each WAL segment through pgBackRest.
    `archive_timeout` switches to a new segment at least this often while anything is
    written, so a lost database host loses at most about that many seconds of commits."""
    push = [pgbackrest_binary(), f"--config={stanza.config}", f"--stanza={stanza.name}"]
    return {
        "wal_level": "replica",
        "archive_mode": "on",
        "archive_command": f"{shlex.join(push)} archive-push %p",
        "archive_timeout": str(timeout_seconds),
    }


def configured_stanza() -> Stanza:
    """The stanza the settings name, for a restore run by hand or by a drill."""
    settings = get_settings()
    if settings.pg_backup != "pgbackrest":
        raise NotConfigured(
            "Postgres backups are not configured here: set MVQ_PG_BACKUP=pgbackrest "
            "(docs/OPERATIONS.md, Backups)"
        )
    assert settings.pgbackrest_config is not None  # filled in by Settings
    if not settings.pgbackrest_config.exists():
        raise BackupError(f"pgBackRest configuration not found: {settings.pgbackrest_config}")
    return Stanza(config=settings.pgbackrest_config, name=settings.pgbackrest_stanza)


def stanza_create(stanza: Stanza) -> None:
    """Make the stanza in the repository (again is harmless), then check that Postgres can
    archive a WAL segment into it: a wrong archive_command fails here, not weeks later."""
    stanza.run("stanza-create")
    stanza.run("check")


def backup(stanza: Stanza, kind: BackupKind = "full") -> None:
    """A base backup of the running cluster; with the WAL archived since, any moment after
    it can be restored."""
    stanza.run(f"--type={kind}", "backup")


def take(url: str, *, now: datetime) -> str:
    """`mvq backup` on Postgres: an incremental backup (pgBackRest makes it a full one when the
    repository has none); the WAL in between is archived all along. `url` and `now` are the
    dispatcher's (mvq.backup): the stanza names the cluster and pgBackRest the time."""
    stanza = configured_stanza()
    backup(stanza, "incr")
    return f"pgbackrest:{stanza.name}/{backups(stanza)[-1]['label']}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


@contextmanager
def restored(
    url: str,
    *,
    at: datetime | None,
    workdir: Path,
    stanza: Stanza | None = None,
    timeout: float = 3600,
) -> Iterator[str]:
    """The newest backup restored into a scratch cluster under `workdir`, recovered up to
    `at` (every transaction committed by then; None: all the archived WAL), and running on a
    free loopback port. Yields the SQLAlchemy URL of `url`'s database there (same user and
    database name); stops the cluster and removes its directory on exit (its log stays).
    `workdir` must be reachable by the cluster's owner (the postgres user, under root).

    A moment before the first backup's end, or past the last archived commit, is refused
    (BackupError with pgBackRest's or Postgres's reason): the restore would not be that
    moment."""
    if at is not None and at.tzinfo is None:
        raise ValueError("the restore point needs a time zone (a naive time is ambiguous)")
    stanza = stanza or configured_stanza()
    source = make_url(url)
    workdir.mkdir(parents=True, exist_ok=True)
    scratch = workdir / f"pg-restore-{secrets.token_hex(4)}"
    data, sockets = scratch / "data", scratch / "sock"
    for path in (scratch, data, sockets):
        path.mkdir(mode=0o700)
        _own(path)
    reachable = subprocess.run(as_cluster_owner(["test", "-w", str(data)]), check=False)
    if reachable.returncode != 0:
        shutil.rmtree(scratch, ignore_errors=True)
        raise BackupError(f"the postgres user cannot reach {workdir}: give it a directory it can")
    log_path = workdir / f"{scratch.name}.log"
    proc: subprocess.Popen[bytes] | None = None
    try:
        target = []
        if at is not None:
            # pgBackRest starts from the newest backup that ended before the moment, comparing
            # whole seconds: a moment in the same second as a backup's end finds none.
            moment = at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f+00")
            target = ["--type=time", f"--target={moment}", "--target-action=promote"]
        # archive-mode=off: the copy must never push its own WAL into the live repository.
        # process-max: files fetched and unpacked four at a time (the wait is mostly S3's).
        stanza.run(f"--pg1-path={data}", "--archive-mode=off", "--process-max=4", *target,
                   "restore", timeout=timeout)  # fmt: skip
        _fill_missing_config(data)
        port = _free_port()
        # hot_standby=off: no queries until recovery is over (so none sees a moment too
        # early), and no need for max_connections and the like at the source's values, which
        # a read-only copy during recovery would ask for. recovery_init_sync_method=syncfs:
        # before replaying, Postgres makes the restored files durable with one syncfs() of
        # the file system instead of an fsync() per file (seconds for a thousand files).
        argv = [postgres_bin("postgres"), "-D", str(data), "-p", str(port), "-k", str(sockets),
                "-c", f"listen_addresses={LOOPBACK}", "-c", "archive_mode=off",
                "-c", "hot_standby=off", "-c", "recovery_init_sync_method=syncfs"]  # fmt: skip
        with log_path.open("ab") as log:
            proc = subprocess.Popen(
                as_cluster_owner(argv), stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        scratch_url = source.set(host=LOOPBACK, port=port)
        _wait_for_recovery(scratch_url.render_as_string(hide_password=False), proc, log_path,
                           timeout=timeout)  # fmt: skip
        yield scratch_url.render_as_string(hide_password=False)
    finally:
        if proc is not None:
            _stop(proc, data)
        shutil.rmtree(scratch, ignore_errors=True)


def _fill_missing_config(data: Path) -> None:
    """A cluster whose configuration lives outside its data directory (Debian keeps it in
    /etc/postgresql) restores without it: Postgres's defaults then, and password logins on
    loopback (the roles and their passwords come back with the data)."""
    defaults = {
        "postgresql.conf": "",
        "pg_ident.conf": "",
        "pg_hba.conf": "local all all peer\nhost all all 127.0.0.1/32 scram-sha-256\n",
    }
    for name, text in defaults.items():
        path = data / name
        if not path.exists():
            path.write_text(text)
            path.chmod(0o600)
            _own(path)


def _wait_for_recovery(
    url: str, proc: "subprocess.Popen[bytes]", log_path: Path, *, timeout: float
) -> None:
    """Until the copy has replayed the WAL up to its target and left recovery."""
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-15:])
            raise BackupError(f"the restored cluster stopped during recovery:\n{tail}")
        with suppress(psycopg.OperationalError), psycopg.connect(dsn, connect_timeout=2) as conn:
            row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
            if row is not None and not row[0]:
                return
        if time.monotonic() > deadline:
            raise BackupError(f"the restored cluster was still recovering after {timeout:.0f} s")
        time.sleep(0.2)


def _stop(proc: "subprocess.Popen[bytes]", data: Path) -> None:
    """A fast shutdown (sessions ended, then a clean exit), then SIGKILL to what is left."""
    if proc.poll() is None:
        pg_ctl = [postgres_bin("pg_ctl"), "stop", "-D", str(data), "-m", "fast", "-w", "-t", "30"]
        subprocess.run(as_cluster_owner(pg_ctl), capture_output=True, check=False, timeout=60)
        with suppress(subprocess.TimeoutExpired):
            proc.wait(10)
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def backups(stanza: Stanza) -> list[dict[str, Any]]:
    """The stanza's backups, oldest first, as `pgbackrest info` reports them (each with its
    `type`, `label` and `timestamp` start and stop)."""
    stanzas = json.loads(stanza.run("--output=json", "info"))
    return list(stanzas[0].get("backup", [])) if stanzas else []
