"""Backups of the database, one module per backend, behind two functions that dispatch on the
database URL's dialect:

- `take(url, *, now)`: a backup now; returns where it went, for the operator.
- `restored(url, *, at, workdir)`: a context manager that restores the newest backup (taken at
  or before `at`, when given) into a scratch database under `workdir` and yields that
  database's SQLAlchemy URL; the scratch copy is gone when the block ends.

`mvq.backup.sqlite` is the dev stack's (SQLite's online backup API); `mvq.backup.postgres` is
production's (pgBackRest: WAL archived continuously, base backups), NotConfigured until
MVQ_PG_BACKUP=pgbackrest. The originals' copy (`mvq.backup.bucket`) is the same on every backend.
"""

import importlib
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from types import ModuleType

from sqlalchemy.engine import make_url


class BackupFailed(Exception):
    """A backup or restore that cannot be done, with the reason an operator can act on."""


class NotConfigured(BackupFailed):
    """No backup of this kind of database can be taken or restored here."""


class NoBackup(BackupFailed):
    """There is no backup to restore (at or before the moment asked for)."""


def _backend(url: str) -> ModuleType:
    dialect = make_url(url).get_backend_name()
    if dialect == "sqlite":
        return importlib.import_module("mvq.backup.sqlite")
    if dialect == "postgresql":
        return importlib.import_module("mvq.backup.postgres")
    raise NotConfigured(f"no backups for {dialect} databases")


def take(url: str, *, now: datetime) -> str:
    return str(_backend(url).take(url, now=now))


def restored(url: str, *, at: datetime | None, workdir: Path) -> AbstractContextManager[str]:
    manager: AbstractContextManager[str] = _backend(url).restored(url, at=at, workdir=workdir)
    return manager
