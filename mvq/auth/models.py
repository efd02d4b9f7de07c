import enum
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, String, false
from sqlalchemy.orm import Mapped, mapped_column

from mvq.db import Base, utcnow
from mvq.ids import new_id


class Role(enum.StrEnum):
    reviewer = "reviewer"
    senior = "senior"
    admin = "admin"
    auditor = "auditor"
    # A service account of the equipment marketplace: it may record spends and nothing else.
    marketplace = "marketplace"
    # A member of a field unit (commander, pilot, ...): a web login that acts for the unit and
    # sees that unit's claims only.
    unit = "unit"


class StaffUser(Base):
    """Every person with a login: staff, and members of units (role `unit`). The table keeps its
    first name; `unit_id` means "acts for" for a member and "must never review" for staff."""

    __tablename__ = "staff_users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    # A reviewer attached to a unit must never judge that unit's claims.
    unit_id: Mapped[str | None] = mapped_column(ForeignKey("units.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[datetime | None]
    # The second factor (TOTP): the secret sealed with the app's key (mvq.sealing), when it was
    # enrolled, and the last time step a code was accepted for, so no code works twice.
    totp_sealed_secret: Mapped[str | None] = mapped_column(String(200))
    totp_enrolled_at: Mapped[datetime | None]
    totp_last_step: Mapped[int | None]
    # The person's language (a locale code) and time zone (IANA name); None: the defaults.
    language: Mapped[str | None] = mapped_column(String(8))
    time_zone: Mapped[str | None] = mapped_column(String(64))


class RecoveryCode(Base):
    """A one-time code that stands in for a TOTP code. Only its SHA-256 is stored; a used code
    keeps its row (with `used_at`) until the person's codes are replaced or reset."""

    __tablename__ = "staff_recovery_codes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("staff_users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None]


class ApiToken(Base):
    """A bearer token for a unit or a staff user. Only its SHA-256 is stored."""

    __tablename__ = "api_tokens"
    __table_args__ = (CheckConstraint("(unit_id IS NULL) <> (user_id IS NULL)", name="one_owner"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    unit_id: Mapped[str | None] = mapped_column(ForeignKey("units.id"), index=True)
    user_id: Mapped[str | None] = mapped_column(ForeignKey("staff_users.id"), index=True)
    # "api" for bearer tokens, "session" for the web login's cookie: neither works as the other.
    purpose: Mapped[str] = mapped_column(String(10), default="api", server_default="api")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    # A person's token says what it was issued for: the role then, and whether a second factor
    # was given (or, for a service account's standing token, an admin issued it). It acts for
    # that role only, and never for a role that needs a second factor unless one was given.
    # None and False for a unit's token.
    role: Mapped[str | None] = mapped_column(String(20))
    second_factor: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
