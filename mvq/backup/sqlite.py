"""The dev stack's database backup: SQLite's online backup API (sqlite3.Connection.backup), which
copies a consistent snapshot while the API and workers keep writing, into one file per backup
under MVQ_BACKUP_DIR/<database file's name>/, named by the time it was taken. A point-in-time
restore can only go back to one of these files: SQLite has no log to replay in between."""

import os
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from mvq.backup import NoBackup
from mvq.settings import get_settings

_STAMP = "%Y%m%dT%H%M%S.%fZ"
_SUFFIX = ".sqlite"


def _database_file(url: str) -> Path:
    name = make_url(url).database
    if not name or name == ":memory:":
        raise NoBackup(f"{url} is not a database file")
    return Path(name).resolve()


def folder(url: str) -> Path:
    backups = get_settings().backup_dir
    assert backups is not None  # filled in by Settings
    return backups / _database_file(url).name


def backups(url: str) -> list[tuple[datetime, Path]]:
    """Every finished backup of the database, oldest first."""
    found = []
    for path in folder(url).glob(f"*{_SUFFIX}"):
        try:
            taken = datetime.strptime(path.name.removesuffix(_SUFFIX), _STAMP).replace(tzinfo=UTC)
        except ValueError:
            continue  # not one of ours
        found.append((taken, path))
    return sorted(found)


def take(url: str, *, now: datetime) -> Path:
    source = _database_file(url)
    if not source.exists():
        raise NoBackup(f"no database at {source}")
    target = folder(url)
    target.mkdir(parents=True, exist_ok=True, mode=0o700)
    dest = target / f"{now.astimezone(UTC).strftime(_STAMP)}{_SUFFIX}"
    # Written under another name first: a backup cut short is never taken for a finished one.
    partial = dest.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    partial.touch(mode=0o600)  # the database's secrets (password hashes, sessions) stay private
    with (
        closing(sqlite3.connect(source, timeout=30)) as src,
        closing(sqlite3.connect(partial)) as dst,
    ):
        src.backup(dst)  # all pages in one step: one read snapshot, writers carry on meanwhile
    os.replace(partial, dest)
    return dest


def newest(url: str, *, at: datetime | None) -> tuple[datetime, Path]:
    usable = [(taken, path) for taken, path in backups(url) if at is None or taken <= at]
    if not usable:
        when = f" taken at or before {at.isoformat()}" if at is not None else ""
        raise NoBackup(f"no backup of {_database_file(url)}{when} in {folder(url)}")
    return usable[-1]


@contextmanager
def restored(url: str, *, at: datetime | None, workdir: Path) -> Iterator[str]:
    """A copy of the newest backup (at or before `at`) in `workdir`: the backup itself is never
    opened for writing, so a drill (which integrates the Merkle tree) leaves it as it was."""
    _, source = newest(url, at=at)
    scratch = workdir / f"restored-{source.name}"
    scratch.touch(mode=0o600)  # private as the backup is (the workdir may be traversable)
    shutil.copyfile(source, scratch)
    try:
        yield f"sqlite:///{scratch}"
    finally:
        for path in (scratch, Path(f"{scratch}-wal"), Path(f"{scratch}-shm")):
            path.unlink(missing_ok=True)
