"""The restore drill after a crash, through the front door: a stack whose Postgres archives its
WAL with pgBackRest (archive_timeout 5 s), a real witness cosigning the sweeper's checkpoints,
`mvq backup`, then units uploading claims and reviewers deciding over HTTP until Postgres is
killed with SIGKILL mid-write. `mvq restore-drill`, with the live database gone, restores the
archive into a scratch cluster and its checks pass; every write acknowledged to a client whose
WAL had been archived is in the copy, and what is lost was acknowledged within archive_timeout
(and one push's time) of the kill."""

import json
import os
import shutil
import signal
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from deploy import servers
from mvq.audit import signing
from mvq.auth.models import Role
from mvq.backup import postgres as pg_backup
from mvq.bootstrap import migrate
from mvq.db import session_factory, utcnow
from mvq.rules import service as rules
from testkit import footage, harness
from testkit.claims import claim_body, sha256_of, upload_claim
from testkit.people import staff_token, units
from testkit.pgbackup import ArchivedPostgres, archived_postgres, s3_over_tls
from tests.witnesses import WitnessProcess, start_witness

pytestmark = pytest.mark.slow

ARCHIVE_TIMEOUT = 5
# What archiving adds to archive_timeout on a busy machine: the checkpointer noticing the
# timeout, pgbackrest's start and one segment's upload (tests/integration/test_pg_backup.py).
ARCHIVE_SLACK_SECONDS = 5.0
LOAD_SECONDS = ARCHIVE_TIMEOUT * 3  # a few switches by archive_timeout alone before the kill
WAL_SEGMENT_BYTES = 16 * 1024**2  # initdb's default, which the harness keeps
BACKUP_BUCKET = "mvq-drill-backup"
SOURCES = ["astronaut", "coffee", "chelsea"]


@dataclass(frozen=True)
class Ack:
    """A write acknowledged to a client: the audit event it recorded (action, object id), when
    the client had the answer, and the WAL insert position read right after. A commit is
    flushed before its answer (synchronous_commit on, checked below), so that position is at
    or past the commit's end; None when it could not be read (the server already gone)."""

    effect: tuple[str, str]
    at: float
    wal: int | None


class Unacknowledged(Exception):
    """The API did not answer with success: nothing to hold it to."""


class Phases:
    """Each step's wall time, for the figures printed at the end."""

    def __init__(self) -> None:
        self.took: dict[str, float] = {}
        self.last = time.monotonic()

    def done(self, step: str) -> None:
        now = time.monotonic()
        self.took[step], self.last = round(now - self.last, 1), now


def lsn(text: str) -> int:
    high, low = text.split("/")
    return (int(high, 16) << 32) + int(low, 16)


def segment_end(name: str) -> int:
    """The LSN just past a WAL segment, from its file name (timeline, log, segment in hex)."""
    log, seg = int(name[8:16], 16), int(name[16:24], 16)
    return (log << 32) + (seg + 1) * WAL_SEGMENT_BYTES


def last_archived_end(dsn: str) -> int:
    """The WAL position up to which everything is in the archive: Postgres archives segments
    in order, so that is the end of the last one archived."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT last_archived_wal FROM pg_stat_archiver").fetchone()
    assert row is not None and row[0] is not None and len(row[0]) == 24, row  # a segment
    return segment_end(row[0])


class Load:
    """Clients writing through the HTTP API until told to stop, each write they were answered
    for kept as an Ack."""

    def __init__(self, stack: harness.Stack, dsn: str) -> None:
        self.stack, self.dsn = stack, dsn
        self.acks: list[Ack] = []  # list.append is atomic: the threads share it
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []

    def start(self, target: Any, *args: Any) -> None:
        thread = threading.Thread(target=self._run, args=(target, *args), daemon=True)
        thread.start()
        self.threads.append(thread)

    def _run(self, target: Any, *args: Any) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as wal:
            while not self.stop.is_set():
                try:
                    target(wal, *args)
                except (httpx.HTTPError, Unacknowledged):
                    self.stop.wait(0.3)

    def ack(self, wal: psycopg.Connection[Any], effect: tuple[str, str]) -> None:
        at = time.monotonic()
        try:
            row = wal.execute("SELECT pg_current_wal_insert_lsn()::text").fetchone()
            position = None if row is None else lsn(row[0])
        except psycopg.Error:
            position = None
        self.acks.append(Ack(effect, at, position))

    def expect(self, response: httpx.Response, status: int) -> dict[str, Any]:
        if response.status_code != status:
            raise Unacknowledged(f"{response.status_code}: {response.text[:200]}")
        return response.json() if response.content else {}

    def upload(self, wal: psycopg.Connection[Any], token: str, clip: Path) -> None:
        """A unit's whole upload, each of its three writes an acknowledgement of its own."""
        with self.stack.client(token) as api:
            key = {"Idempotency-Key": uuid.uuid4().hex}
            created = self.expect(
                api.post("/api/v1/submissions", json=claim_body(), headers=key), 201
            )
            self.ack(wal, ("submission.created", created["id"]))
            plan = self.expect(api.post(f"/api/v1/submissions/{created['id']}/media", json={
                "filename": clip.name, "size": clip.stat().st_size, "sha256": sha256_of(clip),
                "content_type": "video/mp4"}), 201)  # fmt: skip
            self.ack(wal, ("media.registered", plan["media_id"]))
            httpx.put(plan["upload"]["urls"][0], content=clip.read_bytes(),
                      headers={"Content-Type": "video/mp4"}).raise_for_status()  # fmt: skip
            self.expect(api.post(f"/api/v1/media/{plan['media_id']}/complete", json={}), 202)
            self.ack(wal, ("media.uploaded", plan["media_id"]))
        self.stop.wait(0.5)  # about two claims a second per unit: within the create rate

    def review(self, wal: psycopg.Connection[Any], token: str) -> None:
        """A reviewer's next item, leased and approved."""
        with self.stack.client(token) as api:
            lease = api.post("/api/v1/review/claim")
            if lease.status_code == 204:
                self.stop.wait(0.3)  # the queue is empty until the worker processes more
                return
            item = self.expect(lease, 200)
            self.ack(wal, ("review.leased", item["item_id"]))
            decision = {"lease_token": item["lease_token"], "decision": "approve"}
            done = self.expect(api.post(f"/api/v1/review/{item['item_id']}/decision",
                                        json=decision), 200)  # fmt: skip
            self.ack(wal, ("review.approve", done["decision_id"]))

    def join(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(60)
        assert not any(t.is_alive() for t in self.threads)


@dataclass
class Crashable:
    pg: ArchivedPostgres
    stack: harness.Stack
    root: Path
    group: servers.Group


@pytest.fixture(scope="module")
def crashable(
    system: harness.Backing, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Crashable]:
    """The app stack on an archiving Postgres of its own (killing it touches no other test),
    with a witness; its own Redis and SeaweedFS (`system`), and a second SeaweedFS serving
    pgBackRest's repository over HTTPS."""
    root = Path(tempfile.mkdtemp(prefix="mvq-pgdrill-"))
    root.chmod(0o755)  # Postgres and pgbackrest run as the postgres user and must reach it
    group = servers.Group()
    witness: WitnessProcess | None = None
    stack: harness.Stack | None = None
    before = dict(os.environ)
    try:
        with s3_over_tls(root, group) as repo:
            pg = archived_postgres(root, group, repo, archive_timeout=ARCHIVE_TIMEOUT)
            migrate(pg.url)
            harness.use_env({**system.env, "MVQ_DATABASE_URL": pg.url})
            with session_factory(pg.url)() as session:
                rules.seed_demo_rules(session, now=utcnow())
                session.commit()
            witness = start_witness(tmp_path_factory.mktemp("witness"), signing.public_key_hex())
            env = {"MVQ_DATABASE_URL": pg.url, "MVQ_PG_BACKUP": "pgbackrest",
                   "MVQ_PGBACKREST_CONFIG": str(pg.stanza.config),
                   "MVQ_PGBACKREST_STANZA": pg.stanza.name, "MVQ_BACKUP_BUCKET": BACKUP_BUCKET,
                   "MVQ_WITNESSES": f"{witness.url} {witness.public_key}"}  # fmt: skip
            harness.use_env(env)
            stack = harness.start_stack(system, pg.url, workers=1, sweep_every=3, extra_env=env)
            yield Crashable(pg, stack, root, group)
    finally:
        if stack is not None:
            stack.group.stop()
        if witness is not None:
            witness.proc.terminate()
            witness.proc.wait(timeout=10)
        group.stop()
        # Nothing of this module's settings (a dead witness, backups on) reaches the next one.
        os.environ.clear()
        harness.use_env(before)
        if not os.environ.get("MVQ_KEEP_TEST_DIR"):
            shutil.rmtree(root, ignore_errors=True)


def cli(stack: harness.Stack, *args: str) -> tuple[int, str, str]:
    done = harness.run_cli(list(args), stack.env)
    return done.returncode, done.stdout, done.stderr


def restored_effects(url: str) -> tuple[set[tuple[str, str]], int]:
    """Every (action, object id) in a database's audit log, and its last seq."""
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
        effects = {(a, o) for a, o in conn.execute("SELECT action, object_id FROM audit_events")}
        row = conn.execute("SELECT max(seq) FROM audit_events").fetchone()
    assert row is not None
    return effects, int(row[0])


def revived(crash: Crashable) -> str:
    """The killed cluster started again on its own data directory (crash recovery from its
    pg_wal), not archiving: what the live database held at the kill, which a host lost with
    its disk would not have. Only to measure the loss; the drill never sees it."""
    data_dir = crash.pg.stanza.config.parent.parent
    settings = {**servers.DURABLE_POSTGRES, "archive_mode": "off"}
    return servers.start_postgres(crash.group, port=servers.free_port(), data_dir=data_dir,
                                  log_dir=crash.root / "logs", settings=settings)  # fmt: skip


@pytest.mark.timeout(600)
def test_a_drill_after_postgres_is_killed_under_load_loses_only_the_unarchived_tail(
    crashable: Crashable, tmp_path: Path
) -> None:
    stack, pg = crashable.stack, crashable.pg
    phases = Phases()
    with psycopg.connect(pg.dsn) as conn:  # an answer means the commit is on disk
        settings: dict[str, str] = dict(conn.execute("SELECT name, setting FROM pg_settings"))
    assert (settings["fsync"], settings["synchronous_commit"]) == ("on", "on")
    clips = [footage.clip(name, tmp_path / f"{name}.mp4", seconds=3, size="320x180")
             for name in SOURCES]  # fmt: skip
    accounts = units(len(SOURCES))
    # Claims of distinct footage before the backup, processed while it runs: reviewers have
    # work from the start, and approving them pays awards (the drill's ledger check).
    first = [upload_claim(stack, t, clip) for (_, t), clip in zip(accounts, clips, strict=True)]
    phases.done("clips and claims")
    code, out, err = cli(stack, "backup")
    assert code == 0, err
    phases.done("backup")
    assert json.loads(out)["database"].startswith(f"pgbackrest:{pg.stanza.name}/")

    load = Load(stack, pg.dsn)
    for (_, token), clip in zip(accounts, clips, strict=True):
        load.start(load.upload, token, clip)
    for _ in range(2):
        load.start(load.review, staff_token(Role.reviewer))
    try:
        time.sleep(LOAD_SECONDS)
        # Killed mid-write: once a write was answered past the archive's end (on a loaded
        # machine a segment may just have been pushed with nothing answered since).
        deadline = time.monotonic() + 2 * ARCHIVE_TIMEOUT
        while True:
            archived_end = last_archived_end(pg.dsn)  # the archive only grows from here on
            if time.monotonic() > deadline or any(
                ack.wal is not None and ack.wal > archived_end for ack in load.acks
            ):
                break
            time.sleep(0.2)
        killed_at = time.monotonic()
        os.killpg(pg.proc.popen.pid, signal.SIGKILL)  # the postmaster and every backend
    finally:
        load.join()
    acks = load.acks
    phases.done("load")
    kinds = {ack.effect[0] for ack in acks}
    assert kinds == {"submission.created", "media.registered", "media.uploaded",
                     "review.leased", "review.approve"}, kinds  # fmt: skip
    # The kill met writes in flight: some were answered after the last archived segment.
    assert any(ack.wal is None or ack.wal > archived_end for ack in acks)

    # The originals are in S3 still: `mvq backup` copies them although the database is gone.
    code, out, err = cli(stack, "backup")
    assert code == 1 and "the database's backup failed" in err, err
    assert json.loads(out)["database"] is None and json.loads(out)["copied"] > 0
    phases.done("originals copied")

    code, out, err = cli(stack, "restore-drill", "--seed", "11", "--sample", "20")
    phases.done("drill")
    assert out.strip(), err
    report = json.loads(out)
    assert code == 0 and report["ok"] is True, (err, report["checks"])
    point = report["recovery_point"]
    assert point["live"] is None and point["events_lost"] is None and point["live_unreadable"]
    audit = report["checks"]["audit_log"]
    assert "witnessed by" in audit["reason"], audit
    assert report["checks"]["ledger"]["details"]["units"] > 0
    originals = report["checks"]["originals"]["details"]
    assert originals["checked"] == min(20, originals["of"]) and originals["of"] > len(first)

    # What the copy holds, restored again here to read (the drill removed its own).
    restores = crashable.root / "restores"
    with pg_backup.restored(pg.url, at=None, workdir=restores, stanza=pg.stanza) as url:
        effects, last_seq = restored_effects(url)
    phases.done("restore to read")
    assert last_seq == point["recovered"]["seq"]  # the same copy the drill checked
    archived = [ack for ack in acks if ack.wal is not None and ack.wal <= archived_end]
    assert len(archived) > 50
    assert [ack for ack in archived if ack.effect not in effects] == []
    lost = [ack for ack in acks if ack.effect not in effects]
    window = ARCHIVE_TIMEOUT + ARCHIVE_SLACK_SECONDS
    assert all(killed_at - ack.at <= window for ack in lost), sorted(
        round(killed_at - ack.at, 1) for ack in lost
    )

    # The loss in events and seconds, from the killed cluster's own disk.
    live_url = revived(crashable)
    live_effects, live_seq = restored_effects(live_url)
    assert {ack.effect for ack in acks} <= live_effects  # every answer was a durable commit
    with psycopg.connect(live_url.replace("postgresql+psycopg", "postgresql")) as conn:
        row = conn.execute(
            "SELECT max(occurred_at) FILTER (WHERE seq <= %s), max(occurred_at) FROM audit_events",
            (last_seq,),
        ).fetchone()
    assert row is not None
    phases.done("crashed cluster read")
    newest_recovered = max((ack.at for ack in acks if ack.effect in effects), default=None)
    print(f"\nacknowledged {dict(Counter(ack.effect[0] for ack in acks))}; wall time {phases.took}")
    print(
        f"\n{len(acks)} writes acknowledged under load, {len(archived)} with their WAL archived "
        f"before the kill, all recovered; {len(lost)} lost, the oldest of them acknowledged "
        f"{max((killed_at - a.at for a in lost), default=0):.1f} s before the kill, the newest "
        f"recovered {killed_at - (newest_recovered or killed_at):.1f} s before it "
        f"(archive_timeout {ARCHIVE_TIMEOUT} s). Recovery point: {live_seq - last_seq} audit "
        f"events lost of {live_seq}, {(row[1] - row[0]).total_seconds():.1f} s of the log. "
        f"Recovery time (drill): {report['seconds']}"
    )
