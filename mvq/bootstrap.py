"""First-start set-up shared by `make dev` and the CLI: schema, bucket, demo data."""

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mvq.auth import service as auth
from mvq.auth.models import Role, StaffUser
from mvq.db import utcnow
from mvq.rules import service as rules

ROOT = Path(__file__).resolve().parent.parent


def alembic_config(database_url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.attributes["database_url"] = database_url
    return config


def migrate(database_url: str) -> None:
    command.upgrade(alembic_config(database_url), "head")


@dataclass(frozen=True)
class DemoAccounts:
    unit_name: str
    unit_id: str
    unit_token: str
    staff: list[tuple[str, str, str]]  # (email, role, password)


def create_demo_accounts(session: Session) -> DemoAccounts | None:
    """Only on a fresh database: the demo admin, reviewer, senior, auditor and unit."""
    if session.scalar(select(func.count()).select_from(StaffUser)):
        return None
    actor = "system:bootstrap"
    rules.seed_demo_rules(session, now=utcnow())
    unit, token = auth.create_unit(session, name="Demo Unit", actor=actor)
    staff = []
    for role in (Role.admin, Role.reviewer, Role.senior, Role.auditor):
        email = f"{role}@demo.mvq"
        _, password = auth.create_user(session, email=email, role=role, unit_id=None, actor=actor)
        staff.append((email, str(role), password))
    return DemoAccounts(unit.name, unit.id, token, staff)
