"""The `mvq` command: administration, uploads for units, status and audit checks."""

import json
import os
import sys
import time
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mvq.auth.models import Role
from mvq.errors import DomainError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from cli.client import Client

app = typer.Typer(help="mvq: media-verification queue", no_args_is_help=True)
admin = typer.Typer(help="Administration (runs against MVQ_DATABASE_URL)", no_args_is_help=True)
audit_app = typer.Typer(help="Audit log checks", no_args_is_help=True)
db_app = typer.Typer(help="Database schema", no_args_is_help=True)
index_app = typer.Typer(help="The shared frame index (segments in S3)", no_args_is_help=True)
app.add_typer(admin, name="admin")
app.add_typer(audit_app, name="audit")
app.add_typer(db_app, name="db")
app.add_typer(index_app, name="index")


def _fail(message: str, code: int = 1) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


@admin.command("create-unit")
def create_unit(name: str) -> None:
    """Create a unit and print its id and a new API token (shown once)."""
    from mvq.auth import service as auth
    from mvq.db import session_scope

    try:
        with session_scope() as session:
            unit, token = auth.create_unit(session, name=name, actor="cli:admin")
    except DomainError as exc:
        _fail(exc.message)
    typer.echo(f"unit_id: {unit.id}\ntoken: {token}")


@admin.command("create-user")
def create_user(
    email: str,
    role: Annotated[
        Role, typer.Option(help="reviewer, senior, admin, auditor, marketplace or unit")
    ],
    unit: Annotated[
        str | None,
        typer.Option(
            help="unit id or name: the unit a member acts for (--role unit), or the "
            "unit a member of staff must never review"
        ),
    ] = None,
) -> None:
    """Create a person's login (staff, or a unit's member) and print a password (shown once);
    for a role that needs a second factor, also its otpauth:// URI (shown once)."""
    from mvq.auth import second_factor
    from mvq.auth import service as auth
    from mvq.db import session_scope, utcnow

    try:
        with session_scope() as session:
            unit_id = _unit_id(session, unit) if unit is not None else None
            user, password = auth.create_user(
                session, email=email, role=role, unit_id=unit_id, actor="cli:admin"
            )
            # A role that needs a second factor is enrolled from the start (a scripted account
            # computes its codes from the URI); the URI, like the password, is shown only now.
            uri = (
                second_factor.enrol_now(session, user=user, actor="cli:admin", now=utcnow())
                if second_factor.required(user)
                else None
            )
    except DomainError as exc:
        _fail(exc.message)
    typer.echo(f"password: {password}")
    if uri is not None:
        typer.echo(f"otpauth: {uri}")


@admin.command("reset-2fa")
def reset_2fa(email: str) -> None:
    """Remove a person's second factor (a lost phone): they enrol again at the next web
    sign-in."""
    from sqlalchemy import select

    import mvq.models  # noqa: F401  (every table, so the flush resolves foreign keys)
    from mvq.auth.models import StaffUser
    from mvq.auth.policy import OPERATOR
    from mvq.auth.second_factor import reset_second_factor
    from mvq.db import session_scope, utcnow

    with session_scope() as session:
        user_id = session.scalar(
            select(StaffUser.id).where(StaffUser.email == email.strip().lower())
        )
        if user_id is None:
            _fail(f"no user {email!r}")
        reset_second_factor(session, principal=OPERATOR, user_id=str(user_id), now=utcnow())
    typer.echo(f"second factor reset: {email.strip().lower()}")


def _unit_id(session: "Session", unit: str) -> str:
    from sqlalchemy import or_, select

    from mvq.units.models import Unit

    unit_id = session.scalar(select(Unit.id).where(or_(Unit.id == unit, Unit.name == unit)))
    if unit_id is None:
        _fail(f"no unit {unit!r}")
    return str(unit_id)


@admin.command("rotate-token")
def rotate_token(
    unit: Annotated[str, typer.Argument(help="unit id or name")],
    grace_minutes: Annotated[float, typer.Option(help="old tokens keep working this long")] = 0,
) -> None:
    """Issue a new token for a unit (shown once); old tokens end after the grace period."""
    from mvq.auth import accounts
    from mvq.auth.policy import OPERATOR
    from mvq.db import session_scope, utcnow

    try:
        with session_scope() as session:
            token = accounts.rotate_unit_token(
                session,
                principal=OPERATOR,
                unit_id=_unit_id(session, unit),
                grace=timedelta(minutes=grace_minutes),
                now=utcnow(),
            )
    except DomainError as exc:
        _fail(exc.message)
    typer.echo(f"token: {token}")


@admin.command("revoke-tokens")
def revoke_tokens(unit: Annotated[str, typer.Argument(help="unit id or name")]) -> None:
    """Revoke every token of a unit at once (a lost or captured device)."""
    from mvq.auth import accounts
    from mvq.auth.policy import OPERATOR
    from mvq.db import session_scope, utcnow

    with session_scope() as session:
        count = accounts.revoke_unit_tokens(
            session, principal=OPERATOR, unit_id=_unit_id(session, unit), now=utcnow()
        )
    typer.echo(f"revoked: {count}")


def _user_id(session: "Session", email: str) -> str:
    from sqlalchemy import select

    from mvq.auth.models import StaffUser

    user_id = session.scalar(select(StaffUser.id).where(StaffUser.email == email.strip().lower()))
    if user_id is None:
        _fail(f"no user {email!r}")
    return str(user_id)


@admin.command("deactivate-user")
def deactivate_user(email: str) -> None:
    """Disable a person's login and tokens (nothing is deleted); never the last active admin."""
    from mvq.auth import accounts
    from mvq.auth.policy import OPERATOR
    from mvq.db import session_scope, utcnow

    try:
        with session_scope() as session:
            accounts.deactivate_user(session, principal=OPERATOR,
                                     user_id=_user_id(session, email), now=utcnow())  # fmt: skip
    except DomainError as exc:
        _fail(exc.message)
    typer.echo(f"deactivated: {email.strip().lower()}")


@admin.command("reset-password")
def reset_password(email: str) -> None:
    """Give a person a new password (shown once); their open web sessions end."""
    from mvq.auth import accounts
    from mvq.auth.policy import OPERATOR
    from mvq.db import session_scope, utcnow

    try:
        with session_scope() as session:
            password = accounts.reset_password(session, principal=OPERATOR,
                                               user_id=_user_id(session, email),
                                               now=utcnow())  # fmt: skip
    except DomainError as exc:
        _fail(exc.message)
    typer.echo(f"password: {password}")


@admin.command("deactivate-unit")
def deactivate_unit(unit: Annotated[str, typer.Argument(help="unit id or name")]) -> None:
    """Deactivate a unit: its tokens are revoked and its members' logins disabled."""
    from mvq.auth import accounts
    from mvq.auth.policy import OPERATOR
    from mvq.db import session_scope, utcnow

    with session_scope() as session:
        accounts.deactivate_unit(session, principal=OPERATOR, unit_id=_unit_id(session, unit),
                                 now=utcnow())  # fmt: skip
    typer.echo(f"deactivated: {unit}")


@index_app.command("status")
def index_status() -> None:
    """The segments in force (rows, seq range) and the rows waiting after them, as JSON; the
    keyframes' segments (their rows are keyframes) under "keyframes"; under "rehash", the old
    rows left to re-hash ("backlog"), those left old as their still is gone, and how far the
    segments have been rebuilt with the re-hashed rows."""
    from sqlalchemy import func, select

    from mvq.db import session_factory
    from mvq.matching import rehash, segments
    from mvq.matching.models import IndexedFrame, IndexedKeyframe

    def status(family: str, seq: Any) -> dict[str, Any]:
        listing = segments.current(family=family)
        shown = [{k: m[k] for k in ("id", "lo", "hi", "rows")} for m in listing["segments"]]
        top = shown[-1]["hi"] if shown else 0
        with session_factory()() as session:
            waiting = session.scalar(select(func.count()).where(seq > top))
        return {"generation": listing["generation"], "segments": shown,
                "rows_after_segments": waiting,
                "reported_corrupt": sorted(segments.reported_corrupt(family=family))}  # fmt: skip

    shown = status(segments.FRAMES, IndexedFrame.seq)
    shown["keyframes"] = status(segments.KEYFRAMES, IndexedKeyframe.seq)
    with session_factory()() as session:
        reached = rehash.position(session)
        shown["rehash"] = {"backlog": rehash.old_rows(session, after=reached),
                           "position": reached,
                           "stills_missing": rehash.old_rows(session, after=0, up_to=reached),
                           "segments_rehashed_to": segments.current().get("rehashed_to", 0),
                           }  # fmt: skip
    typer.echo(json.dumps(shown, indent=2))


@index_app.command("compact")
def index_compact() -> None:
    """Run the compaction job now, here (the sweeper asks a worker for it every sweep)."""
    from mvq.matching import compaction

    report = compaction.compact()
    if report.busy:
        _fail("another compaction is running")
    typer.echo(json.dumps({"written": report.written, "merged": report.merged,
                           "rebuilt": report.rebuilt, "deleted": report.deleted}))  # fmt: skip


@index_app.command("rehash")
def index_rehash(
    batch: Annotated[int | None, typer.Option(min=1, help="rows a transaction")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="stop after this many rows")] = None,
    enqueue: Annotated[bool, typer.Option(help="leave it to the workers instead")] = False,
) -> None:
    """Re-hash rows indexed before the current matching scheme from their stored stills, here,
    a line per batch; a run stopped resumes where it was. The next compaction puts the new
    hashes into the segments."""
    from mvq import queue
    from mvq.matching import rehash
    from mvq.settings import get_settings

    if enqueue:
        queue.send(queue.rehash_index_job())
        typer.echo("enqueued: the workers re-hash a stretch a job, the sweeper sends the next")
        return
    try:
        progress = rehash.run_locked(batch=batch or get_settings().index_rehash_batch,
                                     limit=limit,
                                     report=lambda p: typer.echo(p.line(), err=True))  # fmt: skip
    except rehash.Busy:
        _fail("another re-hash is running")
    typer.echo(json.dumps({"done": progress.done, "missing": progress.missing,
                           "position": progress.position}))  # fmt: skip


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration."""
    from mvq.bootstrap import migrate
    from mvq.settings import get_settings

    migrate(get_settings().database_url)


@app.command()
def worker(queues: Annotated[list[str] | None, typer.Argument()] = None) -> None:
    """Run one RQ worker (with the scheduler) on the named queues; by default webhooks first,
    then media."""
    # The worker is the workers package's own program (workers.run): this process becomes it,
    # so its id, signals and exit status stay the ones whoever started `mvq worker` holds.
    argv = [sys.executable, "-m", "workers", *(queues or [])]
    os.execv(argv[0], argv)  # noqa: S606 (this interpreter, a fixed module: no shell needed)


@app.command()
def sweep(
    every: Annotated[float, typer.Option(help="seconds between sweeps; 0 = once")] = 0,
) -> None:
    """Re-enqueue stuck media and release expired leases (the database is the truth)."""
    from edge import outcome_words
    from mvq import sweeper
    from mvq.db import session_factory, utcnow
    from mvq.settings import get_settings

    settings = get_settings()
    while True:
        try:
            with session_factory()() as session:
                report = sweeper.sweep(
                    session,
                    now=utcnow(),
                    stuck_after=timedelta(seconds=settings.stuck_after_seconds),
                    tell=outcome_words.told_to_unit,
                )
            if any(report.__dict__.values()):
                typer.echo(json.dumps(report.__dict__))
        except Exception as exc:  # a sweep must outlive an outage of what it sweeps
            typer.echo(f"sweep failed: {type(exc).__name__}: {exc}", err=True)
        if not every:
            return
        time.sleep(every)


@app.command()
def prune() -> None:
    """Remove, in short batches until none is left, delivered webhooks past
    MVQ_WEBHOOK_RETENTION_DAYS and sessions and used recovery codes past
    MVQ_CREDENTIAL_RETENTION_DAYS (the sweeper does a few batches each sweep); print what went,
    as JSON."""
    from mvq import pruning
    from mvq.db import session_factory, utcnow

    with session_factory()() as session:
        report = pruning.prune(session, now=utcnow())
    typer.echo(json.dumps(report.__dict__))


@audit_app.command("verify")
def audit_verify() -> None:
    """Exit 0 only if the audit log's hash chain is intact, every ledger entry and decision is
    the row its event recorded, and the log's Merkle tree extends every checkpoint its
    witnesses (MVQ_WITNESSES) hold. A log that was ever witnessed never verifies without them."""
    from mvq.exports import integrity

    # The same check as the auditors' page's "verify now" (mvq.exports.integrity).
    result = integrity.check()
    if result.problem is not None:
        _fail(result.problem)
    typer.echo(result.summary())


@app.command("backup")
def backup_cmd() -> None:
    """Back up the database (SQLite: an online copy into MVQ_BACKUP_DIR; Postgres: a pgBackRest
    backup) and copy the originals and checkpoints not yet copied into MVQ_BACKUP_BUCKET; exits 1
    if the database's backup failed or a copy there differs."""
    from mvq import backup
    from mvq.backup import bucket
    from mvq.db import utcnow
    from mvq.settings import get_settings

    where: str | None = None
    failed: str | None = None
    try:
        where = backup.take(get_settings().database_url, now=utcnow())
    except backup.NotConfigured as exc:
        _fail(str(exc))  # a setup to fix first: nothing is done
        return
    except backup.BackupFailed as exc:
        # The originals are copied all the same: after the database crashed they are what
        # its WAL archive refers to and what the restore drill re-hashes, and S3 still has them.
        failed = str(exc)
    copied = bucket.replicate()
    shown = {"database": where, "bucket": bucket.backup_bucket()} | asdict(copied)
    typer.echo(json.dumps(shown))
    if failed is not None:
        _fail(f"the database's backup failed (the originals were copied): {failed}")
    if copied.differing:
        _fail(f"{len(copied.differing)} objects differ from their backed-up copy (left as they "
              f"are): {', '.join(copied.differing[:5])}")  # fmt: skip


@app.command("restore-drill")
def restore_drill(
    at: Annotated[
        str | None, typer.Option(help="restore the newest backup at or before this ISO time")
    ] = None,
    sample: Annotated[
        int | None, typer.Option(min=0, help="originals to re-hash (default MVQ_DRILL_SAMPLE)")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="the sample's seed (default: random)")] = None,
    export: Annotated[
        list[Path] | None,
        typer.Option(
            help="a signed export to anchor the log to when S3 holds no checkpoint (repeatable)"
        ),
    ] = None,
) -> None:
    """Restore the newest backup into a scratch database and check it: audit log against its
    checkpoint, ledger against the log, a sample of originals against their SHA-256. Prints a
    JSON report; exits 1 if any check fails."""
    from mvq import backup
    from mvq.backup import drill
    from mvq.settings import get_settings

    try:
        when = _day(at)
    except ValueError:
        _fail(f"--at {at!r} is not an ISO 8601 time")
        return
    settings = get_settings()
    try:
        report = drill.run(settings.database_url, at=when, seed=seed, exports=export or [],
                           sample=settings.drill_sample if sample is None else sample)  # fmt: skip
    except backup.BackupFailed as exc:
        _fail(str(exc))
        return
    typer.echo(json.dumps(report, indent=2, default=str))
    if not report["ok"]:
        failed = [f"{name}: {c['reason']}" for name, c in report["checks"].items() if not c["ok"]]
        _fail("restore drill failed: " + " | ".join(failed))


@app.command("witness")
def witness_cmd(
    store: Annotated[Path, typer.Option(help="the witness's own directory: its key and state")],
    port: Annotated[int, typer.Option(help="port to listen on")],
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    log_key: Annotated[
        list[str] | None,
        typer.Option(help="hex Ed25519 public key of a log to witness (repeatable; remembered)"),
    ] = None,
) -> None:
    """Run a C2SP tlog-witness: cosigns a log's checkpoints only after a consistency proof."""
    from mvq.audit import signing, witness

    logs_file = store / "logs.txt"
    known = logs_file.read_text().split() if logs_file.exists() else []
    keys = list(dict.fromkeys([*known, *(log_key or [])]))
    if not keys:
        # Dev convenience: the log of this machine's settings (only its public key is used).
        keys = [signing.public_key_hex()]
    server_witness = witness.Witness(store, keys)
    logs_file.write_text("\n".join(keys) + "\n")
    server = witness.serve(server_witness, host=host, port=port)
    typer.echo(
        f"witness {server_witness.name} key {server_witness.public_key} "
        f"on http://{host}:{port} for {', '.join(server_witness.logs)}",
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def _note_of(path: Path) -> str:
    """A checkpoint note from a file holding one, or from a receipt's JSON."""
    content = path.read_text()
    if content.lstrip().startswith("{"):
        return str(json.loads(content)["checkpoint"])
    return content


@audit_app.command("prove-consistency")
def prove_consistency(
    old: Annotated[Path, typer.Option(help="an older checkpoint: its note, or a receipt")],
    new: Annotated[
        Path | None, typer.Option(help="a newer checkpoint's note (default: the log now)")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="write the proof here (JSON)")] = None,
) -> None:
    """Show that a newer checkpoint extends an older one: writes {old, new, proof}, the RFC
    9162 consistency proof from the database's tree, and exits 1 when it does not verify (the
    log was rewritten since the older checkpoint)."""
    import base64

    from mvq.audit import checkpoint, merkle, tree
    from mvq.db import session_factory

    old_note = _note_of(old)
    with session_factory()() as session:
        if new is not None:
            new_note = _note_of(new)
        else:
            now = checkpoint.current(session)
            session.commit()
            if now is None:
                _fail("the log is empty")
                return
            new_note = checkpoint.sign(now)
        try:
            older, newer = checkpoint.parse(old_note), checkpoint.parse(new_note)
            proof = tree.consistency_proof(session, first=older.size, second=newer.size)
        except (checkpoint.CheckpointInvalid, merkle.ProofError) as exc:
            _fail(str(exc))
            return
    result = {"old": old_note, "new": new_note,
              "proof": [base64.b64encode(p).decode() for p in proof]}  # fmt: skip
    if out is not None:
        out.write_text(json.dumps(result, indent=2))
    else:
        typer.echo(json.dumps(result, indent=2))
    try:
        merkle.verify_consistency(first=older.size, second=newer.size, first_root=older.root,
                                  second_root=newer.root, proof=proof)  # fmt: skip
    except merkle.ProofError as exc:
        _fail(f"the checkpoint of {newer.size} does not extend the one of {older.size}: {exc}")
    typer.echo(f"ok: the checkpoint of {newer.size} extends the one of {older.size}", err=True)


@app.command("verify-receipt")
def verify_receipt(
    file: Annotated[Path, typer.Argument(help="a receipt from GET /api/v1/ledger/{id}/receipt")],
    log_key: Annotated[
        str | None, typer.Option(help="the log's hex Ed25519 public key (default: this one's)")
    ] = None,
    witness_key: Annotated[
        list[str] | None,
        typer.Option(help="a witness's hex public key, repeatable (default: MVQ_WITNESSES')"),
    ] = None,
    newer: Annotated[
        Path | None,
        typer.Option(help="output of `mvq audit prove-consistency --old FILE`: check it too"),
    ] = None,
) -> None:
    """Exit 0 only if the receipt's inclusion proof and witnessed checkpoint check out, offline."""
    from mvq.audit import signing, witnesses
    from mvq.scoring import receipts

    keys = witness_key or [w.public_key for w in witnesses.configured()]
    try:
        checked = receipts.verify(
            json.loads(file.read_text()),
            log_key=log_key or signing.public_key_hex(),
            witness_keys=keys,
            newer=json.loads(newer.read_text()) if newer else None,
        )
    except (receipts.ReceiptInvalid, ValueError) as exc:
        _fail(str(exc))
        return
    typer.echo(
        f"ok: entry {checked.entry_id} ({checked.points:+d}) is leaf {checked.leaf_index} of "
        f"{checked.tree_size}, cosigned by {', '.join(checked.witnesses)}"
        + ("; the newer checkpoint extends it" if newer else "")
    )


def _day(text: str | None) -> datetime | None:
    if not text:
        return None
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@app.command("export")
def export_cmd(
    out: Annotated[Path, typer.Option(help="directory for the files and manifest.json")],
    from_: Annotated[str | None, typer.Option("--from", help="ISO 8601 date or time, UTC")] = None,
    to: Annotated[str | None, typer.Option(help="exclusive end, ISO 8601")] = None,
    format: Annotated[str, typer.Option(help="csv, jsonl or parquet")] = "csv",
) -> None:
    """Export the record of a period with a signed manifest."""
    from mvq.db import session_factory
    from mvq.exports import dataset as export

    if format not in export.FORMATS:
        _fail(f"--format must be one of {', '.join(export.FORMATS)}")
    from mvq.audit.checkpoint import CheckpointInvalid

    with session_factory()() as session:
        try:
            result = export.export(session, out=out, fmt=format, since=_day(from_), until=_day(to))
        except CheckpointInvalid as exc:
            _fail(f"not exported, the audit chain contradicts its newest checkpoint: {exc}")
            return
        session.commit()
    for name, info in result.manifest["files"].items():
        typer.echo(f"{name}: {info['rows']} rows")
    typer.echo(f"chain head {result.manifest['chain']['head']}; manifest {out / 'manifest.json'}")


@app.command("verify-export")
def verify_export_cmd(
    directory: Annotated[Path, typer.Argument(help="an export made by `mvq export`")],
    public_key: Annotated[
        str | None, typer.Option(help="hex Ed25519 key from GET /api/v1/audit/public-key")
    ] = None,
    previous: Annotated[
        Path | None, typer.Option(help="the export before this one, to check the chain joins")
    ] = None,
) -> None:
    """Exit 0 only if every file's SHA-256, the signature and the audit chain check out."""
    from mvq.audit import signing
    from mvq.exports import verify as verify_export

    key = public_key or signing.public_key_hex()
    try:
        manifest = verify_export.verify(directory, public_key=key, previous=previous)
    except verify_export.ExportInvalid as exc:
        _fail(str(exc))
        return
    typer.echo(f"ok: {len(manifest['files'])} files, chain head {manifest['chain']['head']}")


@app.command("evidence")
def evidence_cmd(
    submission_id: str,
    out: Annotated[Path, typer.Option(help="directory for the bundle")],
) -> None:
    """The evidence bundle of one claim: originals, derivatives, decisions, custody, manifest."""
    from mvq.auth.policy import OPERATOR
    from mvq.db import session_factory
    from mvq.exports import evidence

    with session_factory()() as session:
        try:
            manifest = evidence.build(
                session, submission_id=submission_id, out=out, actor="cli", viewer=OPERATOR
            )
        except DomainError as exc:
            _fail(exc.message)
            return
        session.commit()
    typer.echo(f"{len(manifest['files'])} files in {out}; manifest signed")


def _client(limit_rate: float | None = None) -> "Client":
    from cli.client import Client

    url, token = os.environ.get("MVQ_URL"), os.environ.get("MVQ_TOKEN")
    if not url or not token:
        _fail("set MVQ_URL and MVQ_TOKEN")
    return Client(url or "", token or "", limit_rate=limit_rate)


def _rate(text: str | None) -> float | None:
    """'500K', '2M' or plain bytes per second."""
    if not text:
        return None
    units = {"K": 1024, "M": 1024**2, "G": 1024**3}
    factor = units.get(text[-1].upper(), 1)
    try:
        return float(text[:-1] if factor > 1 else text) * factor
    except ValueError:
        _fail(f"bad rate {text!r}: use e.g. 500K or 2M")
        raise


@app.command()
def upload(
    files: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False, readable=True)],
    target: Annotated[str, typer.Option(help="target type, e.g. tank")],
    outcome: Annotated[str, typer.Option(help="destroyed or damaged")],
    occurred_at: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S"])
    ] = None,
    lat: float | None = None,
    lon: float | None = None,
    note: str | None = None,
    limit_rate: Annotated[
        str | None, typer.Option(help="cap upload speed, bytes/s (500K, 2M)")
    ] = None,
) -> None:
    """Upload footage as one claim; prints the submission id. Run it again to resume."""
    from cli.client import ClientError

    when = occurred_at or datetime.now(UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    try:
        submission_id = _client(_rate(limit_rate)).upload(
            files,
            target_type=target,
            outcome=outcome,
            occurred_at=when,
            lat=lat,
            lon=lon,
            note=note,
        )
    except ClientError as exc:
        _fail(str(exc))
    typer.echo(submission_id)


@app.command()
def analyze(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    occurred_at: Annotated[
        datetime | None, typer.Option(help="the claimed time, to check the file against")
    ] = None,
    lat: float | None = None,
    lon: float | None = None,
) -> None:
    """Run the ingest pipeline on a local file (no queue, no database) and print JSON."""
    from mvq.media.flags import Claim, OsdRule, consistency_flags
    from mvq.media.ingest import pipeline
    from mvq.media.service import jsonable
    from mvq.settings import get_settings

    try:
        result = pipeline.analyse(file)
    except pipeline.Rejected as exc:
        typer.echo(json.dumps({"status": "failed", "reason": exc.reason, "detail": exc.detail}))
        raise typer.Exit(1) from exc
    when = occurred_at.replace(tzinfo=occurred_at.tzinfo or UTC) if occurred_at else None
    settings = get_settings()
    found = consistency_flags(
        result.facts,
        Claim(when, lat, lon),
        tolerance_minutes=settings.capture_tolerance_minutes,
        tolerance_km=settings.location_tolerance_km,
        osd_rule=OsdRule.of(settings),
    )
    report = {
        "status": "processed", "sha256": result.sha256, "size": result.size,
        "metadata": result.facts,
        "frames": [{"index": s.index, "t_seconds": s.t_seconds, "pdq": s.hashes.pdq,
                    "pdq_quality": s.hashes.quality} for s in result.stills],
        "probes": len(result.probes),
        "flags": [{"kind": kind, "evidence": evidence} for kind, evidence in found],
    }  # fmt: skip
    typer.echo(json.dumps(jsonable(report), indent=2))


@app.command()
def match(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
) -> None:
    """Analyse a local file and list the submissions holding copies of it (reads the database)."""
    from sqlalchemy import select

    from mvq.db import session_factory
    from mvq.matching import features
    from mvq.matching import service as matching
    from mvq.media.ingest import pipeline
    from mvq.media.models import Media
    from mvq.settings import get_settings

    try:
        result = pipeline.analyse(file)
    except pipeline.Rejected as exc:
        _fail(f"{exc.reason}: {exc.detail}")
    settings = get_settings()
    with session_factory()() as session:
        cat, shapes = matching.catalogue(session), features.feature_index(session)
        found = [matching.describe(session, media_id=m.media_id)
                 | {"kind": "near_duplicate", "share_this": m.share_this,
                    "share_other": m.share_other, "min_distance": m.min_distance,
                    "signals": m.signals, "frame_pairs": m.pairs[:10],
                    "geometry": m.geometry[:3]}
                 for m in matching.near_matches(cat, result.probes, exclude_media=None,
                                                threshold=settings.match_threshold,
                                                rule=matching.ClipRule(
                                                    settings.match_min_share,
                                                    settings.match_min_frames),
                                                keyframes=result.keyframes,
                                                feature_index=shapes)]  # fmt: skip
        exact = session.scalars(select(Media.id).where(
            Media.sha256 == result.sha256, Media.status == "processed")).all()  # fmt: skip
        found = [matching.describe(session, media_id=m) | {"kind": "exact_duplicate"}
                 for m in exact] + found  # fmt: skip
    typer.echo(json.dumps({"sha256": result.sha256, "probes": len(result.probes), "matches": found},
                          indent=2))  # fmt: skip


@app.command()
def status(submission_id: str) -> None:
    """State, flags, decision and points of one submission, and its appeal if any."""
    from cli.client import ClientError

    try:
        body = _client().submission(submission_id)
    except ClientError as exc:
        _fail(str(exc))
    shown = {k: body.get(k) for k in ("id", "status", "flags", "decision", "points")}
    if body.get("appeal"):  # only once there is one: its status and the senior's outcome
        shown["appeal"] = body["appeal"]
    typer.echo(json.dumps(shown, indent=2))


def main() -> None:
    sys.exit(app())
