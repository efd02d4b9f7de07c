"""Postgres backups with pgBackRest (mvq.backup.postgres), all real: Debian's Postgres and
pgbackrest, and a SeaweedFS serving the repository over HTTPS. A restore to a moment has
exactly what was committed by then; a Postgres killed mid-write loses only what was not yet
archived, which archive_timeout bounds."""

import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import psycopg
import pytest

from deploy import servers
from mvq.backup import postgres as pg_backup
from testkit.pgbackup import (
    ArchivedPostgres,
    archived_postgres,
    s3_over_tls,
    switch_and_wait_for_archive,
)

pytestmark = pytest.mark.slow

WAL_SEGMENT_BYTES = 16 * 1024**2  # initdb's default, which the harness keeps
# What archiving itself may add to archive_timeout on a busy machine: pgbackrest's start and
# one upload of a segment.
ARCHIVE_SLACK_SECONDS = 5.0


@pytest.fixture(scope="module")
def root() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="mvq-pgbackup-"))
    root.chmod(0o755)  # Postgres and pgbackrest run as the postgres user and must reach it
    yield root
    if not os.environ.get("MVQ_KEEP_TEST_DIR"):
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def group(root: Path) -> Iterator[servers.Group]:
    group = servers.Group()
    try:
        yield group
    finally:
        group.stop()


@pytest.fixture(scope="module")
def repo(root: Path, group: servers.Group) -> Iterator[pg_backup.S3Repo]:
    with s3_over_tls(root, group) as repo:
        yield repo


@pytest.fixture
def pg(root: Path, group: servers.Group, repo: pg_backup.S3Repo) -> ArchivedPostgres:
    return archived_postgres(root, group, repo, archive_timeout=10)


def create_events(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE events (n int PRIMARY KEY)")


def insert(dsn: str, numbers: range) -> None:
    """One transaction each, as a client's requests commit."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        for n in numbers:
            conn.execute("INSERT INTO events (n) VALUES (%s)", (n,))


def numbers(url: str) -> list[int]:
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
        return [row[0] for row in conn.execute("SELECT n FROM events ORDER BY n")]


def now(dsn: str) -> datetime:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT clock_timestamp()").fetchone()
        assert row is not None
        return row[0]  # type: ignore[no-any-return]


def timed_backup(pg: ArchivedPostgres) -> float:
    started = time.monotonic()
    pg_backup.backup(pg.stanza, "full")
    return time.monotonic() - started


def test_a_restore_to_a_moment_has_exactly_what_was_committed_by_then(
    pg: ArchivedPostgres, root: Path
) -> None:
    create_events(pg.dsn)
    insert(pg.dsn, range(1, 101))
    backup_seconds = timed_backup(pg)
    time.sleep(1.1)  # pgBackRest picks the backup to start from by whole seconds
    insert(pg.dsn, range(101, 201))
    time.sleep(0.5)  # commits well clear of the moment on either side
    moment = now(pg.dsn)
    time.sleep(0.5)
    insert(pg.dsn, range(201, 301))
    switch_and_wait_for_archive(pg.dsn)

    started = time.monotonic()
    with pg_backup.restored(pg.url, at=moment, workdir=root / "restores", stanza=pg.stanza) as url:
        restore_seconds = time.monotonic() - started
        assert numbers(url) == list(range(1, 201))
    with pg_backup.restored(pg.url, at=None, workdir=root / "restores", stanza=pg.stanza) as url:
        assert numbers(url) == list(range(1, 301))
    # The scratch cluster is stopped and its directory gone; the live one is untouched.
    assert not servers.is_listening(int(url.rsplit(":", 1)[1].split("/")[0]))
    assert not list((root / "restores").glob("pg-restore-*/"))
    assert numbers(pg.url) == list(range(1, 301))
    print(f"\nfull backup {backup_seconds:.1f} s; to a moment, restored and ready in "
          f"{restore_seconds:.1f} s")  # fmt: skip


def test_a_moment_outside_the_backups_is_refused_with_the_reason(
    pg: ArchivedPostgres, root: Path
) -> None:
    create_events(pg.dsn)
    before_any_backup = now(pg.dsn)
    pg_backup.backup(pg.stanza, "full")
    time.sleep(1.1)  # pgBackRest picks the backup to start from by whole seconds
    insert(pg.dsn, range(1, 11))
    moment = now(pg.dsn)  # nothing committed after it has been archived
    with (
        pytest.raises(pg_backup.BackupError, match="recovery target"),
        pg_backup.restored(pg.url, at=moment, workdir=root / "restores", stanza=pg.stanza),
    ):
        pass
    with (
        pytest.raises(pg_backup.BackupError, match="unable to find backup set"),
        pg_backup.restored(
            pg.url, at=before_any_backup, workdir=root / "restores", stanza=pg.stanza
        ),
    ):
        pass
    with (
        pytest.raises(ValueError, match="time zone"),
        pg_backup.restored(
            pg.url, at=moment.replace(tzinfo=None), workdir=root / "restores", stanza=pg.stanza
        ),
    ):
        pass


@pytest.mark.skipif(os.geteuid() != 0, reason="only under root is the cluster's owner another user")
def test_a_workdir_the_cluster_owner_cannot_reach_is_named(tmp_path: Path) -> None:
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    stanza = pg_backup.Stanza(config=tmp_path / "unused.conf")
    with (
        pytest.raises(pg_backup.BackupError, match=f"cannot reach {private}"),
        pg_backup.restored(
            "postgresql+psycopg://mvq@127.0.0.1/mvq", at=None, workdir=private, stanza=stanza
        ),
    ):
        pass
    assert list(private.iterdir()) == []  # nothing left behind


def segment_end(name: str) -> int:
    """The LSN just past a WAL segment, from its file name (timeline, log, segment in hex)."""
    log, seg = int(name[8:16], 16), int(name[16:24], 16)
    return (log << 32) + (seg + 1) * WAL_SEGMENT_BYTES


def lsn(text: str) -> int:
    high, low = text.split("/")
    return (int(high, 16) << 32) + int(low, 16)


def test_a_killed_postgres_loses_only_what_was_not_yet_archived(
    pg: ArchivedPostgres, root: Path
) -> None:
    create_events(pg.dsn)
    with psycopg.connect(pg.dsn) as conn:  # an acknowledgement means the commit is on disk
        settings = dict(conn.execute("SELECT name, setting FROM pg_settings").fetchall())
    assert (settings["fsync"], settings["synchronous_commit"]) == ("on", "on")
    timed_backup(pg)
    # Each acknowledged insert: its number, when the client had the acknowledgement, and the
    # WAL position just past its commit.
    acknowledged: list[tuple[int, float, int]] = []
    stop = threading.Event()

    def write() -> None:
        with psycopg.connect(pg.dsn, autocommit=True) as conn:
            n = 0
            while not stop.is_set():
                n += 1
                try:
                    conn.execute("INSERT INTO events (n) VALUES (%s)", (n,))
                    acked = time.monotonic()
                    row = conn.execute("SELECT pg_current_wal_insert_lsn()::text").fetchone()
                except psycopg.Error:
                    return  # the server is gone
                assert row is not None
                acknowledged.append((n, acked, lsn(row[0])))
                time.sleep(0.005)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        time.sleep(pg.archive_timeout * 2.5)  # at least two switches by archive_timeout alone
        with psycopg.connect(pg.dsn) as conn:
            row = conn.execute("SELECT last_archived_wal FROM pg_stat_archiver").fetchone()
        assert row is not None and row[0] is not None
        archived_end = segment_end(row[0])  # the archive only grows from here to the kill
        killed_at = time.monotonic()
        os.killpg(pg.proc.popen.pid, signal.SIGKILL)  # the postmaster and every backend
    finally:
        stop.set()
        writer.join(30)
    assert not writer.is_alive()

    started = time.monotonic()
    with pg_backup.restored(pg.url, at=None, workdir=root / "restores", stanza=pg.stanza) as url:
        restore_seconds = time.monotonic() - started
        recovered = numbers(url)
    newest = recovered[-1]
    assert recovered == list(range(1, newest + 1))  # no gap: what is back is a prefix
    # Nothing acknowledged whose commit was in an archived segment is lost...
    archived = [n for n, _, end in acknowledged if end <= archived_end]
    assert len(archived) > 100 and max(archived) <= newest
    # ...and what is lost was acknowledged at most archive_timeout (and archiving's own time)
    # before the kill.
    lost = [n for n, _, _ in acknowledged if n > newest]
    loss_seconds = killed_at - max(at for n, at, _ in acknowledged if n <= newest)
    assert loss_seconds <= pg.archive_timeout + ARCHIVE_SLACK_SECONDS
    print(
        f"\n{len(acknowledged)} acknowledged, {len(recovered)} recovered, {len(lost)} lost: "
        f"the newest recovered was acknowledged {loss_seconds:.1f} s before the kill "
        f"(archive_timeout {pg.archive_timeout} s); restore to ready {restore_seconds:.1f} s"
    )
