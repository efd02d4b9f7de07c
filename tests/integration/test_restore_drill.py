"""`mvq backup` and `mvq restore-drill` on the dev stack's SQLite, through the CLI against a
running stack with a witness: real uploads and decisions are backed up, the drill restores and
checks them, a damaged original or audit row fails it by name, and `--at` restores an earlier
backup and says how many events that loses."""

import json
import shutil
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from mvq import storage
from mvq.auth.models import Role
from mvq.db import session_factory, utcnow
from mvq.rules import service as rules
from testkit import footage, harness
from testkit.claims import upload_claim, wait_for_status
from testkit.people import make_staff, make_unit
from tests.witnesses import witnessed_sqlite

BACKUP_BUCKET = "mvq-drill-test"


@dataclass
class History:
    stack: harness.Stack
    first_backup: Path
    between: datetime  # after the first backup, before the events the second one adds
    seq_at_first: int
    seq_at_second: int
    originals: list[str]


def cli(stack: harness.Stack, *args: str) -> tuple[int, str, str]:
    done = harness.run_cli(list(args), stack.env)
    return done.returncode, done.stdout, done.stderr


def drill(stack: harness.Stack, *args: str) -> tuple[int, dict[str, Any], str]:
    code, out, err = cli(stack, "restore-drill", *args)
    assert out.strip(), err
    return code, json.loads(out), err


def last_seq(url: str) -> int:
    with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
        return int(db.execute("SELECT max(seq) FROM audit_events").fetchone()[0])


def approve_all(stack: harness.Stack, reviewer: str, ids: list[str]) -> None:
    with stack.client(reviewer) as api:
        for _ in ids:
            lease = api.post("/api/v1/review/claim").json()
            assert lease["submission_id"] in ids
            decision = {"lease_token": lease["lease_token"], "decision": "approve"}
            done = api.post(f"/api/v1/review/{lease['item_id']}/decision", json=decision)
            assert done.status_code == 200, done.text


@pytest.fixture(scope="module")
def history(
    backing: harness.Backing, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[History]:
    extra = {"MVQ_BACKUP_BUCKET": BACKUP_BUCKET}
    with witnessed_sqlite(backing, tmp_path_factory.mktemp("witness"), extra) as (url, env, _):
        stack = harness.start_stack(backing, url, workers=1, extra_env=env)
        try:
            with session_factory(url)() as session:
                rules.seed_demo_rules(session, now=utcnow())
                session.commit()
                _, unit_token = make_unit(session)
                reviewer = make_staff(session, Role.reviewer)
            clips = tmp_path_factory.mktemp("drill-footage")
            files = [
                footage.clip("chelsea", clips / "a.mp4"),
                footage.clip("rocket", clips / "b.mp4"),
            ]
            ids = [upload_claim(stack, unit_token, path) for path in files]
            for submission_id in ids:
                wait_for_status(stack, unit_token, submission_id, "in_queue")
            approve_all(stack, reviewer, ids)
            assert cli(stack, "sweep")[0] == 0  # a checkpoint, cosigned by the witness
            code, out, err = cli(stack, "backup")
            assert code == 0, err
            first = json.loads(out)
            seq_at_first = last_seq(url)
            between = datetime.now(UTC)
            time.sleep(0.01)
            assert cli(stack, "admin", "create-unit", "After the first backup")[0] == 0
            assert cli(stack, "sweep")[0] == 0
            assert cli(stack, "backup")[0] == 0
            originals = [key for key in storage.keys("originals/") if key.split("/")[1] in ids]
            yield History(stack, Path(first["database"]), between, seq_at_first, last_seq(url),
                          originals)  # fmt: skip
        finally:
            stack.group.stop()


def test_a_backup_of_real_claims_restores_and_every_check_passes(history: History) -> None:
    assert len(history.originals) == 2
    code, report, err = drill(history.stack, "--seed", "7")
    assert code == 0, err
    assert report["ok"] is True
    assert all(check["ok"] for check in report["checks"].values()), report["checks"]
    point = report["recovery_point"]
    assert point["recovered"]["seq"] == point["live"]["seq"] == history.seq_at_second
    assert point["events_lost"] == 0
    assert "witnessed by" in report["checks"]["audit_log"]["reason"]
    originals = report["checks"]["originals"]["details"]
    assert (originals["seed"], originals["checked"], originals["of"]) == (7, 2, 2)
    assert report["originals_per_second"] > 0
    assert set(report["seconds"]) == {"restore", "audit_log", "ledger", "originals", "total"}
    # Incremental: a third backup copies nothing already in the backup bucket.
    code, out, err = cli(history.stack, "backup")
    assert code == 0, err
    assert json.loads(out)["copied"] == 0 and json.loads(out)["unchanged"] >= 2


def test_an_earlier_moment_restores_the_earlier_backup_and_says_what_it_loses(
    history: History,
) -> None:
    code, report, err = drill(history.stack, "--at", history.between.isoformat())
    assert code == 0, err
    point = report["recovery_point"]
    assert point["recovered"]["seq"] == history.seq_at_first < point["live"]["seq"]
    assert point["events_lost"] == history.seq_at_second - history.seq_at_first > 0
    too_early = cli(history.stack, "restore-drill", "--at", "2001-01-01T00:00:00")
    assert too_early[0] == 1 and "no backup" in too_early[2]


def test_a_damaged_original_in_the_backup_bucket_fails_the_drill_by_name(history: History) -> None:
    key = history.originals[0]
    s3 = storage.client()
    good = s3.get_object(Bucket=BACKUP_BUCKET, Key=key)["Body"].read()
    damaged = bytearray(good)
    damaged[len(damaged) // 2] ^= 0x01
    s3.put_object(Bucket=BACKUP_BUCKET, Key=key, Body=bytes(damaged))
    try:
        code, report, err = drill(history.stack)
        assert code == 1 and report["ok"] is False
        originals = report["checks"]["originals"]
        assert (
            not originals["ok"] and key in originals["reason"] and "hash to" in originals["reason"]
        )
        assert key in err
        assert report["checks"]["audit_log"]["ok"] and report["checks"]["ledger"]["ok"]
        # The next backup reports the difference and leaves both copies as they are.
        code, out, err = cli(history.stack, "backup")
        assert code == 1 and key in err and json.loads(out)["differing"] == [key]
        assert s3.get_object(Bucket=BACKUP_BUCKET, Key=key)["Body"].read() == bytes(damaged)
        # The backup bucket is versioned: the good copy is still there, under its version.
        versions = s3.list_object_versions(Bucket=BACKUP_BUCKET, Prefix=key)["Versions"]
        kept = [s3.get_object(Bucket=BACKUP_BUCKET, Key=key, VersionId=v["VersionId"])["Body"]
                .read() for v in versions if v["Key"] == key]  # fmt: skip
        assert good in kept and bytes(damaged) in kept
    finally:
        s3.put_object(Bucket=BACKUP_BUCKET, Key=key, Body=good)


def test_an_edited_audit_row_in_the_backup_fails_the_drill_at_its_event(
    history: History, tmp_path: Path
) -> None:
    kept = tmp_path / "kept.sqlite"
    shutil.copyfile(history.first_backup, kept)
    try:
        with closing(sqlite3.connect(history.first_backup)) as db, db:  # closed: WAL folded in
            seq = db.execute("SELECT max(seq) FROM audit_events "
                             "WHERE action = 'ledger.award'").fetchone()[0]  # fmt: skip
            db.execute("DROP TRIGGER audit_events_refuse_update")  # as someone with the file would
            changed = db.execute("UPDATE audit_events SET data = json_set(data, '$.points', 999) "
                                 "WHERE seq = ?", (seq,)).rowcount  # fmt: skip
        assert changed == 1
        code, report, err = drill(history.stack, "--at", history.between.isoformat())
        assert code == 1 and report["ok"] is False
        audit = report["checks"]["audit_log"]
        assert not audit["ok"] and f"audit chain broken at event {seq}" in audit["reason"]
        assert audit["details"]["first_bad_seq"] == seq
        assert f"event {seq}" in err
    finally:
        shutil.copyfile(kept, history.first_backup)


def test_postgres_without_its_backups_configured_is_refused_clearly(
    backing: harness.Backing,
) -> None:
    url = harness.fresh_database(backing, "postgres")
    for command in ("backup", "restore-drill"):
        done = harness.run_cli([command], {**backing.env, "MVQ_DATABASE_URL": url,
                                           "MVQ_PG_BACKUP": ""})  # fmt: skip
        assert done.returncode == 1 and "Postgres backups are not configured" in done.stderr


def test_without_a_checkpoint_the_newest_signed_export_anchors_the_log(
    history: History, backing: harness.Backing, tmp_path: Path
) -> None:
    url = harness.fresh_database(backing, "sqlite")
    stack = harness.Stack(history.stack.url, url, {**history.stack.env, "MVQ_DATABASE_URL": url},
                          history.stack.group, history.stack.logs)  # fmt: skip
    for name in ("Export One", "Export Two"):
        assert cli(stack, "admin", "create-unit", name)[0] == 0
    before = set(storage.keys("audit/checkpoints/"))
    code, _, err = cli(stack, "export", "--out", str(tmp_path / "export"))
    assert code == 0, err
    for key in set(storage.keys("audit/checkpoints/")) - before:
        storage.delete(key)  # the operator's copy lost: only the export holds the checkpoint
    assert cli(stack, "backup")[0] == 0
    code, report, _ = drill(stack)
    assert (
        code == 1 and "nothing to check the restored log" in report["checks"]["audit_log"]["reason"]
    )
    code, report, err = drill(stack, "--export", str(tmp_path / "export"))
    assert code == 0, err
    assert "the signed export" in report["checks"]["audit_log"]["reason"]
