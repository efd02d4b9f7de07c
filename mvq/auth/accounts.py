"""Administration of units and people: units, their members and API tokens, staff and the
marketplace's service accounts. Nothing is deleted: a unit or a person is deactivated, a token
revoked. Every change writes an audit event naming who did it and what changed, never a
password or a token.

Every function takes the principal acting and asks the policy first (units and their tokens:
`manage_units`; people: `manage_staff`); the command line acts as `policy.OPERATOR`. Two rules
keep the system administrable: nobody changes their own role or deactivates themselves
(`own_account`), and the last active admin is neither demoted nor deactivated (`last_admin`)."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import available_timezones

from argon2 import PasswordHasher
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mvq.audit import service as audit
from mvq.auth import policy
from mvq.auth import service as auth
from mvq.auth.models import ApiToken, Role, StaffUser
from mvq.auth.policy import Action
from mvq.auth.principal import Principal
from mvq.errors import Conflict, Invalid, NotFound
from mvq.units.models import Unit

MAX_GRACE = timedelta(days=7)
_hasher = PasswordHasher()


@dataclass(frozen=True)
class UnitSummary:
    unit: Unit
    members: int  # active
    live_tokens: int


@dataclass(frozen=True)
class TokenRow:
    token: ApiToken
    state: str  # live, expiring (a grace period runs), expired, revoked


def _user_event(session: Session, *, actor: str, action: str, user: StaffUser,
                **data: object) -> None:  # fmt: skip
    audit.record(session, actor=actor, action=action, object_type="staff_user",
                 object_id=user.id, data={"email": user.email, **data})  # fmt: skip


# Units


def units(session: Session, *, principal: Principal, now: datetime) -> list[UnitSummary]:
    policy.require(principal, Action.manage_units)
    members = dict(
        session.execute(
            select(StaffUser.unit_id, func.count())
            .where(policy.member_accounts(), StaffUser.disabled_at.is_(None))
            .group_by(StaffUser.unit_id)
        ).all()
    )
    live = (ApiToken.revoked_at.is_(None)) & (
        ApiToken.expires_at.is_(None) | (ApiToken.expires_at > now)
    )
    tokens = dict(
        session.execute(
            select(ApiToken.unit_id, func.count())
            .where(ApiToken.unit_id.is_not(None), live)
            .group_by(ApiToken.unit_id)
        ).all()
    )
    rows = session.scalars(select(Unit).order_by(Unit.disabled_at.is_not(None), Unit.name))
    return [UnitSummary(u, members.get(u.id, 0), tokens.get(u.id, 0)) for u in rows]


def get_unit(session: Session, *, principal: Principal, unit_id: str) -> Unit:
    policy.require(principal, Action.manage_units)
    return auth.get_unit(session, unit_id=unit_id)


def active_unit(session: Session, *, unit_id: str) -> Unit:
    unit = auth.get_unit(session, unit_id=unit_id)
    if unit.disabled_at is not None:
        raise Conflict(f"unit {unit.name!r} is deactivated", code="unit_disabled")
    return unit


def create_unit(session: Session, *, principal: Principal, name: str) -> tuple[Unit, str]:
    """The unit and its first API token (to be shown once), made by `auth.create_unit`."""
    policy.require(principal, Action.manage_units)
    return auth.create_unit(session, name=name, actor=principal.actor)


def rename_unit(session: Session, *, principal: Principal, unit_id: str, name: str) -> Unit:
    unit = get_unit(session, principal=principal, unit_id=unit_id)
    name = name.strip()
    if not name or len(name) > auth.MAX_UNIT_NAME:
        raise Invalid(f"a unit's name has 1 to {auth.MAX_UNIT_NAME} characters", code="bad_name")
    if name == unit.name:
        return unit
    if session.scalar(select(Unit.id).where(Unit.name == name)):
        raise Conflict(f"a unit named {name!r} exists", code="unit_exists")
    before, unit.name = unit.name, name
    session.flush()
    audit.record(session, actor=principal.actor, action="unit.renamed", object_type="unit",
                 object_id=unit.id, data={"from": before, "to": name})  # fmt: skip
    return unit


def deactivate_unit(session: Session, *, principal: Principal, unit_id: str, now: datetime) -> Unit:
    """Its tokens are revoked and its members' logins disabled at once; its claims, ledger
    and people stay on record."""
    unit = get_unit(session, principal=principal, unit_id=unit_id)
    actor = principal.actor
    if unit.disabled_at is not None:
        return unit
    unit.disabled_at = now
    revoked = auth.revoke_unit_tokens(session, unit_id=unit.id, actor=actor, now=now)
    members = list(
        session.scalars(
            select(StaffUser).where(
                StaffUser.unit_id == unit.id,
                policy.member_accounts(),
                StaffUser.disabled_at.is_(None),
            )
        )
    )
    for member in members:
        member.disabled_at = now
        ended = auth.end_credentials(session, user_id=member.id, now=now)
        _user_event(session, actor=actor, action="user.deactivated", user=member,
                    reason="unit_deactivated", credentials_ended=ended)  # fmt: skip
    session.flush()
    audit.record(session, actor=actor, action="unit.deactivated", object_type="unit",
                 object_id=unit.id,
                 data={"tokens_revoked": revoked, "members_disabled": len(members)})  # fmt: skip
    return unit


# A unit's API tokens


def unit_tokens(
    session: Session, *, principal: Principal, unit_id: str, now: datetime
) -> list[TokenRow]:
    policy.require(principal, Action.manage_units)
    rows = session.scalars(
        select(ApiToken).where(ApiToken.unit_id == unit_id).order_by(ApiToken.created_at.desc())
    )
    return [TokenRow(t, _state(t, now)) for t in rows]


def _state(token: ApiToken, now: datetime) -> str:
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is None:
        return "live"
    return "expiring" if token.expires_at > now else "expired"


def add_unit_token(session: Session, *, principal: Principal, unit_id: str) -> str:
    """One more token beside the live ones (a second device), shown once."""
    policy.require(principal, Action.manage_units)
    active_unit(session, unit_id=unit_id)
    token = auth.mint_token(session, prefix="mvqu", unit_id=unit_id)
    audit.record(session, actor=principal.actor, action="unit.token_created", object_type="unit",
                 object_id=unit_id)  # fmt: skip
    return token


def rotate_unit_token(
    session: Session, *, principal: Principal, unit_id: str, grace: timedelta, now: datetime
) -> str:
    """A new token; the old ones end after `grace` (0: at once). Not for a deactivated unit."""
    policy.require(principal, Action.manage_units)
    if not timedelta(0) <= grace <= MAX_GRACE:
        raise Invalid("the grace period is 0 to 7 days", code="bad_grace")
    active_unit(session, unit_id=unit_id)
    return auth.rotate_unit_token(session, unit_id=unit_id, grace=grace, actor=principal.actor,
                                  now=now)  # fmt: skip


def revoke_unit_tokens(session: Session, *, principal: Principal, unit_id: str,
                       now: datetime) -> int:  # fmt: skip
    """Every live token of the unit stops working at once; returns how many."""
    policy.require(principal, Action.manage_units)
    return auth.revoke_unit_tokens(session, unit_id=unit_id, actor=principal.actor, now=now)


# People


def staff(session: Session, *, principal: Principal) -> list[StaffUser]:
    """Everyone but units' members: active first, by role and e-mail."""
    policy.require(principal, Action.manage_staff)
    return list(
        session.scalars(
            select(StaffUser)
            .where(policy.staff_accounts())
            .order_by(StaffUser.disabled_at.is_not(None), StaffUser.role, StaffUser.email)
        )
    )


def members(session: Session, *, principal: Principal, unit_id: str) -> list[StaffUser]:
    policy.require(principal, Action.manage_units)
    return list(
        session.scalars(
            select(StaffUser)
            .where(policy.member_accounts(), StaffUser.unit_id == unit_id)
            .order_by(StaffUser.disabled_at.is_not(None), StaffUser.email)
        )
    )


def get_user(session: Session, *, principal: Principal, user_id: str) -> StaffUser:
    """An account, for those who manage staff, or one's own."""
    if not policy.may_see_account(principal, user_id=user_id):
        policy.require(principal, Action.manage_staff)
    return _user(session, user_id=user_id)


def _user(session: Session, *, user_id: str) -> StaffUser:
    user = session.get(StaffUser, user_id)
    if user is None:
        raise NotFound("no such account")
    return user


def create_staff(
    session: Session, *, principal: Principal, email: str, role: str, unit_id: str | None
) -> tuple[StaffUser, str]:
    """A member of staff or a service account, and a password (to be shown once). `unit_id`
    links them to a unit they must never review."""
    policy.require(principal, Action.manage_staff)
    if not policy.is_staff_role(role):
        raise Invalid("choose a staff role", code="bad_role")
    if unit_id is not None:
        auth.get_unit(session, unit_id=unit_id)
    return auth.create_user(session, email=email, role=Role(role), unit_id=unit_id,
                            actor=principal.actor)  # fmt: skip


def add_member(
    session: Session, *, principal: Principal, unit_id: str, email: str
) -> tuple[StaffUser, str]:
    """A login for a person who acts for the unit, and a password (to be shown once)."""
    policy.require(principal, Action.manage_staff)
    active_unit(session, unit_id=unit_id)
    return auth.create_user(session, email=email, role=Role.unit, unit_id=unit_id,
                            actor=principal.actor)  # fmt: skip


def _active_admins(session: Session) -> list[str]:
    # Locked on Postgres, so two admins demoting each other cannot both pass the count.
    return list(
        session.scalars(
            select(StaffUser.id)
            .where(policy.admin_accounts(), StaffUser.disabled_at.is_(None))
            .with_for_update()
        )
    )


def _keeps_an_admin(session: Session, user: StaffUser) -> None:
    alone = policy.is_admin(user.role) and user.disabled_at is None
    if alone and _active_admins(session) == [user.id]:
        raise Conflict("this is the last active admin: make another admin first",
                       code="last_admin")  # fmt: skip


def change_role(
    session: Session, *, principal: Principal, user_id: str, role: str, now: datetime
) -> StaffUser:
    """The new role; every session and token of the person ends, so none acts for the old
    role, nor for a new one that needs a second factor it was issued without."""
    policy.require(principal, Action.manage_staff)
    user = _user(session, user_id=user_id)
    if not policy.is_staff_role(role) or policy.is_member(user.role):
        raise Invalid("a staff role, for a member of staff", code="bad_role")
    if user.id == principal.user_id:
        raise Conflict("you cannot change your own role", code="own_account")
    if role == user.role:
        return user
    if not policy.is_admin(role):
        _keeps_an_admin(session, user)
    before, user.role = user.role, role
    session.flush()
    ended = auth.end_credentials(session, user_id=user.id, now=now)
    _user_event(session, actor=principal.actor, action="user.role_changed", user=user,
                **{"from": before}, to=role, credentials_ended=ended)  # fmt: skip
    return user


def link_unit(
    session: Session, *, principal: Principal, user_id: str, unit_id: str | None
) -> StaffUser:
    """Staff linked to a unit (a conflict of interest) never see that unit's claims; None
    unlinks. A member's unit is who they act for and does not change."""
    policy.require(principal, Action.manage_staff)
    user = _user(session, user_id=user_id)
    if policy.is_member(user.role):
        raise Invalid("a unit's member acts for their unit; add them to another unit instead",
                      code="member_unit")  # fmt: skip
    if unit_id is not None:
        auth.get_unit(session, unit_id=unit_id)
    if unit_id == user.unit_id:
        return user
    before, user.unit_id = user.unit_id, unit_id
    session.flush()
    action = "user.unit_linked" if unit_id else "user.unit_unlinked"
    _user_event(session, actor=principal.actor, action=action, user=user,
                unit_id=unit_id or before)  # fmt: skip
    return user


def deactivate_user(
    session: Session, *, principal: Principal, user_id: str, now: datetime
) -> StaffUser:
    """The login and every token stop working at once; the account stays on record."""
    policy.require(principal, Action.manage_staff)
    user = _user(session, user_id=user_id)
    if user.id == principal.user_id:
        raise Conflict("you cannot deactivate your own account", code="own_account")
    if user.disabled_at is not None:
        return user
    _keeps_an_admin(session, user)
    user.disabled_at = now
    ended = auth.end_credentials(session, user_id=user.id, now=now)
    _user_event(session, actor=principal.actor, action="user.deactivated", user=user,
                role=user.role, credentials_ended=ended)  # fmt: skip
    return user


def reset_password(session: Session, *, principal: Principal, user_id: str, now: datetime) -> str:
    """A new password (to be shown once); every web session and API token of the person
    ends, so whoever knew the old password keeps nothing it got them."""
    policy.require(principal, Action.manage_staff)
    user = _user(session, user_id=user_id)
    if user.disabled_at is not None:
        raise Conflict("the account is deactivated", code="user_disabled")
    password = auth.new_password()
    user.password_hash = _hasher.hash(password)
    ended = auth.end_credentials(session, user_id=user.id, now=now)
    _user_event(session, actor=principal.actor, action="user.password_reset", user=user,
                credentials_ended=ended)  # fmt: skip
    return password


def issue_service_token(
    session: Session, *, principal: Principal, user_id: str, now: datetime
) -> str:
    """The marketplace account's API token (shown once); its earlier tokens are revoked."""
    policy.require(principal, Action.manage_staff)
    user = _user(session, user_id=user_id)
    if not policy.is_service_account(user.role):
        raise Invalid("only a service account gets a standing token", code="not_service")
    if user.disabled_at is not None:
        raise Conflict("the account is deactivated", code="user_disabled")
    old = session.scalars(
        select(ApiToken).where(
            ApiToken.user_id == user.id, ApiToken.purpose == "api", ApiToken.revoked_at.is_(None)
        )
    ).all()
    for row in old:
        row.revoked_at = now
    # Issued by an admin, never by a password: it stands for the second factor the account's
    # role needs (the admin gave theirs to get here).
    token = auth.mint_token(session, prefix="mvqs", user_id=user.id, role=user.role,
                            second_factor=True)  # fmt: skip
    _user_event(session, actor=principal.actor, action="user.token_issued", user=user,
                tokens_revoked=len(old))  # fmt: skip
    return token


def set_preferences(
    session: Session,
    *,
    principal: Principal,
    language: str | None,
    time_zone: str | None,
    languages: tuple[str, ...],
) -> StaffUser:
    """A person's own reading settings: the pages' language and the zone times are told in.
    None for either: the default (the browser's language, the configured zone)."""
    if language is not None and language not in languages:
        raise Invalid(f"language must be one of {', '.join(languages)}", code="bad_language")
    if time_zone is not None and time_zone not in available_timezones():
        raise Invalid(f"no time zone named {time_zone!r}", code="bad_time_zone")
    if principal.user_id is None:
        raise Invalid("only a person has reading settings", code="not_a_person")
    person = _user(session, user_id=principal.user_id)
    person.language, person.time_zone = language, time_zone
    audit.record(session, actor=principal.actor, action="user.preferences_changed",
                 object_type="staff_user", object_id=person.id,
                 data={"language": language, "time_zone": time_zone})  # fmt: skip
    return person
