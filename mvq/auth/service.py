"""Units' and staff's credentials: tokens are random and stored only as SHA-256."""

import hashlib
import secrets
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mvq import ratelimit
from mvq.audit import service as audit
from mvq.auth import policy
from mvq.auth.models import ApiToken, Role, StaffUser
from mvq.auth.principal import Principal
from mvq.errors import Conflict, Invalid, NotFound, Unauthenticated
from mvq.settings import get_settings
from mvq.units.models import Unit

_hasher = PasswordHasher()
# Verified against when the e-mail is unknown, so a miss costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("not-a-password")
MAX_UNIT_NAME = 200


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def mint_token(
    session: Session,
    *,
    prefix: str,
    unit_id: str | None = None,
    user_id: str | None = None,
    expires_at: datetime | None = None,
    purpose: str = "api",
    role: str | None = None,
    second_factor: bool = False,
) -> str:
    """Every token is made here: random, shown once, stored only as its SHA-256. A person's
    token names the role it is for and whether a second factor was given (see resolve_token)."""
    token = f"{prefix}_{secrets.token_urlsafe(32)}"
    session.add(
        ApiToken(
            token_hash=hash_token(token),
            unit_id=unit_id,
            user_id=user_id,
            expires_at=expires_at,
            purpose=purpose,
            role=role,
            second_factor=second_factor,
        )
    )
    session.flush()
    return token


def create_unit(session: Session, *, name: str, actor: str) -> tuple[Unit, str]:
    """The unit and its first API token (to be shown once): the one place a unit is made, from
    the admin pages, the command line and the demo alike."""
    name = name.strip()
    if not name:
        raise Invalid("unit name is empty")
    if len(name) > MAX_UNIT_NAME:
        raise Invalid(f"a unit's name has at most {MAX_UNIT_NAME} characters", code="bad_name")
    if session.scalar(select(Unit).where(Unit.name == name)):
        raise Conflict(f"a unit named {name!r} exists", code="unit_exists")
    unit = Unit(name=name)
    session.add(unit)
    session.flush()
    token = mint_token(session, prefix="mvqu", unit_id=unit.id)
    audit.record(
        session,
        actor=actor,
        action="unit.created",
        object_type="unit",
        object_id=unit.id,
        data={"name": name},
    )
    return unit, token


def get_unit(session: Session, *, unit_id: str) -> Unit:
    unit = session.get(Unit, unit_id)
    if unit is None:
        raise NotFound("no such unit")
    return unit


def unit_names(session: Session, *, ids: list[str] | None = None) -> dict[str, str]:
    """Unit id -> name: of the given units, or of all."""
    stmt = select(Unit.id, Unit.name)
    if ids is not None:
        stmt = stmt.where(Unit.id.in_(ids))
    return {unit_id: name for unit_id, name in session.execute(stmt)}


def staff_email(session: Session, *, user_id: str) -> str:
    return session.get_one(StaffUser, user_id).email


def language_of(session: Session, *, user_id: str | None) -> str | None:
    """A person's stored language (None: none stored, or a unit's token, which is no person)."""
    if user_id is None:
        return None
    return session.scalar(select(StaffUser.language).where(StaffUser.id == user_id))


def create_user(
    session: Session, *, email: str, role: Role, unit_id: str | None, actor: str
) -> tuple[StaffUser, str]:
    email = email.strip().lower()
    if "@" not in email:
        raise Invalid("not an e-mail address")
    if policy.is_member(role):
        if unit_id is None:
            raise Invalid("a unit member needs --unit UNIT_ID", code="unit_required")
        if get_unit(session, unit_id=unit_id).disabled_at is not None:
            raise Conflict("the unit is deactivated", code="unit_disabled")
    if session.scalar(select(StaffUser).where(StaffUser.email == email)):
        raise Conflict(f"a user {email} exists", code="user_exists")
    password = new_password()
    user = StaffUser(email=email, password_hash=_hasher.hash(password), role=role, unit_id=unit_id)
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="user.created",
        object_type="staff_user",
        object_id=user.id,
        data={"email": email, "role": role, "unit_id": unit_id},
    )
    return user, password


def new_password() -> str:
    """A password made for a person (shown once): they may change it later."""
    return secrets.token_urlsafe(15)


def login(session: Session, *, email: str, password: str, client: str) -> StaffUser:
    """check_password behind a throttle on failures, per address and per client, so a
    password cannot be guessed online. The attempt is counted before the password is checked,
    so parallel guesses cannot all pass a check that none of them has counted yet; a success
    gives its count back."""
    settings = get_settings()
    limits = {
        f"email:{email.strip().lower()}": settings.login_failures_allowed,
        f"client:{client}": settings.login_failures_allowed * 4,
    }
    counted = ratelimit.attempt(
        bucket="login", limits=limits, window_seconds=settings.login_window_seconds
    )
    user = check_password(session, email=email, password=password)
    ratelimit.refund(counted)
    return user


def check_password(session: Session, *, email: str, password: str) -> StaffUser:
    user = session.scalar(select(StaffUser).where(StaffUser.email == email.strip().lower()))
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except VerificationError:
        user = None
    if user is None or user.disabled_at is not None:
        raise Unauthenticated("wrong e-mail or password", code="bad_credentials")
    return user


def staff_token_expiry(now: datetime) -> datetime:
    return now + timedelta(hours=get_settings().session_hours)


def issue_staff_token(
    session: Session, *, user: StaffUser, now: datetime, second_factor: bool, purpose: str = "api"
) -> str:
    """A bearer token ("api") or the web login's session token ("session"), for the person's
    role now; `second_factor`: was one given in signing in?"""
    token = mint_token(
        session,
        prefix="mvqs" if purpose == "api" else "mvqw",
        user_id=user.id,
        expires_at=staff_token_expiry(now),
        purpose=purpose,
        role=user.role,
        second_factor=second_factor,
    )
    audit.record(
        session,
        actor=f"staff:{user.id}",
        action="user.login",
        object_type="staff_user",
        object_id=user.id,
        data={"via": "api_token" if purpose == "api" else "web"},
    )
    return token


def end_session(session: Session, *, token: str, now: datetime) -> None:
    row = session.scalar(
        select(ApiToken).where(
            ApiToken.token_hash == hash_token(token), ApiToken.purpose == "session"
        )
    )
    if row is None or row.revoked_at is not None:
        return
    row.revoked_at = now
    audit.record(
        session,
        actor=f"staff:{row.user_id}",
        action="user.logout",
        object_type="staff_user",
        object_id=str(row.user_id),
        data={},
    )


def resolve_token(
    session: Session, *, token: str, now: datetime, purpose: str = "api"
) -> Principal:
    # One round trip on every request: the token, for a person their account, and the unit a
    # token or a member acts for (a deactivated unit acts no more, whatever credential is left).
    acting_unit = func.coalesce(ApiToken.unit_id, StaffUser.unit_id)
    found = session.execute(
        select(ApiToken, StaffUser, Unit.disabled_at)
        .outerjoin(StaffUser, StaffUser.id == ApiToken.user_id)
        .outerjoin(Unit, Unit.id == acting_unit)
        .where(ApiToken.token_hash == hash_token(token))
    ).first()
    row, user, unit_disabled_at = found if found else (None, None, None)
    if row is None or row.revoked_at is not None or row.purpose != purpose:
        raise Unauthenticated("unknown or revoked token", code="bad_token")
    if row.expires_at is not None and row.expires_at <= now:
        raise Unauthenticated("token expired", code="token_expired")
    if row.unit_id is not None:
        if unit_disabled_at is not None:
            raise Unauthenticated("the unit is deactivated", code="unit_disabled")
        return Principal(kind="unit", id=row.unit_id, unit_id=row.unit_id)
    if user is None or user.disabled_at is not None:
        raise Unauthenticated("account disabled", code="bad_token")
    if not _grant_holds(row, user):
        raise Unauthenticated("this token was issued for another role: sign in again",
                              code="bad_token")  # fmt: skip
    if policy.is_member(user.role):
        assert user.unit_id is not None
        if unit_disabled_at is not None:
            raise Unauthenticated("the unit is deactivated", code="unit_disabled")
        return Principal(kind="unit", id=user.unit_id, role=user.role, unit_id=user.unit_id,
                         member_id=user.id)  # fmt: skip
    return Principal(kind="staff", id=user.id, role=user.role, unit_id=user.unit_id)


def _grant_holds(row: ApiToken, user: StaffUser) -> bool:
    """A person's token acts only for the role it was issued for, and for a role that needs a
    second factor only if one was given. A role change ends the tokens anyway (end_credentials):
    this holds should a row change by any other way."""
    if row.role != user.role:
        return False
    needed = policy.needs_second_factor(
        user.role, reviewers_too=get_settings().reviewer_totp_required
    )
    return row.second_factor or not needed


def end_credentials(session: Session, *, user_id: str, now: datetime) -> int:
    """Every live web session and API token of the person ends at once (a reset, a role
    change, a deactivation); returns how many. The caller's audit event says why."""
    rows = session.scalars(
        select(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
    ).all()
    live = [r for r in rows if r.expires_at is None or r.expires_at > now]
    for row in rows:
        row.revoked_at = now
    session.flush()
    return len(live)


def rotate_unit_token(
    session: Session, *, unit_id: str, grace: timedelta, actor: str, now: datetime
) -> str:
    """A new token for the unit. Old ones stop working after `grace` (zero: at once), so a
    unit in the field can switch over without a gap."""
    if session.get(Unit, unit_id) is None:
        raise NotFound("no such unit")
    for row in _live_unit_tokens(session, unit_id=unit_id, now=now):
        if grace <= timedelta(0):
            row.revoked_at = now
        else:
            row.expires_at = min(row.expires_at or now + grace, now + grace)
    token = mint_token(session, prefix="mvqu", unit_id=unit_id)
    audit.record(
        session,
        actor=actor,
        action="unit.token_rotated",
        object_type="unit",
        object_id=unit_id,
        data={"grace_seconds": grace.total_seconds()},
    )
    return token


def revoke_unit_tokens(session: Session, *, unit_id: str, actor: str, now: datetime) -> int:
    if session.get(Unit, unit_id) is None:
        raise NotFound("no such unit")
    rows = _live_unit_tokens(session, unit_id=unit_id, now=now)
    for row in rows:
        row.revoked_at = now
    audit.record(
        session,
        actor=actor,
        action="unit.tokens_revoked",
        object_type="unit",
        object_id=unit_id,
        data={"count": len(rows)},
    )
    return len(rows)


def _live_unit_tokens(session: Session, *, unit_id: str, now: datetime) -> list[ApiToken]:
    rows = session.scalars(
        select(ApiToken).where(ApiToken.unit_id == unit_id, ApiToken.revoked_at.is_(None))
    ).all()
    return [r for r in rows if r.expires_at is None or r.expires_at > now]
