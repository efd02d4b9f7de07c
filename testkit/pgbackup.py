"""A Postgres cluster whose WAL pgBackRest archives into a SeaweedFS of its own, served over
HTTPS (pgBackRest's S3 client speaks nothing else), for tests that back up, kill and restore.
Its own servers, so killing this Postgres touches no other test's database."""

import dataclasses
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

from deploy import servers
from mvq.backup import postgres as pg_backup


@dataclass
class ArchivedPostgres:
    url: str  # SQLAlchemy URL of its `mvq` database
    stanza: pg_backup.Stanza
    proc: servers.Proc
    archive_timeout: int

    @property
    def dsn(self) -> str:
        return self.url.replace("postgresql+psycopg", "postgresql")


@contextmanager
def s3_over_tls(root: Path, group: servers.Group) -> Iterator[pg_backup.S3Repo]:
    """SeaweedFS with its S3 on HTTPS too (a self-signed certificate made here)."""
    ports = servers.WeedPorts(*(servers.free_port(with_grpc=True) for _ in range(6)))
    https = servers.write_s3_certificate(root / "s3-tls", port=servers.free_port())
    access, secret = "backupkey" + secrets.token_hex(4), secrets.token_hex(16)
    proc = group.start(
        "seaweedfs-backups",
        servers.weed_argv(ports=ports, data_dir=root / "weed", bucket="mvq", https=https),
        env=servers.weed_env(access, secret),
        log_dir=root / "logs",
    )
    servers.wait_for_port(https.port, proc=proc, timeout=90)
    yield pg_backup.S3Repo(host="127.0.0.1", port=https.port, bucket="mvq-pgbackrest",
                           access_key=access, secret_key=secret, verify_tls=False)  # fmt: skip


def archived_postgres(
    root: Path, group: servers.Group, repo: pg_backup.S3Repo, *, archive_timeout: int = 10
) -> ArchivedPostgres:
    """A new cluster under `root` archiving into its own path of the repository."""
    name = f"pg-{secrets.token_hex(3)}"
    repo = dataclasses.replace(repo, path=f"/{name}")
    deadline = time.monotonic() + 60
    while True:  # a fresh SeaweedFS answers on its port before it can make a bucket
        try:
            servers.ensure_bucket(repo)
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    url, stanza = servers.start_archived_postgres(
        group, port=servers.free_port(), data_dir=root / name, log_dir=root / "logs", repo=repo,
        config=root / name / "pgbackrest" / "pgbackrest.conf", archive_timeout=archive_timeout,
    )  # fmt: skip
    proc = next(p for p in reversed(group.procs) if p.name == "postgres")
    return ArchivedPostgres(url=url, stanza=stanza, proc=proc, archive_timeout=archive_timeout)


def switch_and_wait_for_archive(dsn: str, *, timeout: float = 60) -> str:
    """Close the current WAL segment (pg_switch_wal) and wait until it is in the archive;
    returns that segment's name."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("SELECT pg_walfile_name(pg_switch_wal())").fetchone()
        assert row is not None
        segment = str(row[0])
        deadline = time.monotonic() + timeout
        while True:
            archived = conn.execute("SELECT last_archived_wal FROM pg_stat_archiver").fetchone()
            if archived is not None and archived[0] is not None and archived[0] >= segment:
                return segment
            if time.monotonic() > deadline:
                raise TimeoutError(f"WAL segment {segment} not archived within {timeout} s")
            time.sleep(0.2)
