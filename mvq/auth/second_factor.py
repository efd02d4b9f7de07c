"""Staff's second factor: TOTP (RFC 6238, 30 s steps) and one-time recovery codes.

Seniors, admins, auditors and the marketplace's account must use one; reviewers when
`reviewer_totp_required` says so, or once they enrolled of their own accord; unit members never.
The secret is stored sealed (mvq.sealing), bound to its user; recovery codes only as SHA-256.
A code is accepted for the current step and one either side, and never twice: the last accepted
step is kept, and only a later one passes (a conditional UPDATE, so two requests racing with one
code cannot both win). Wrong codes are throttled like wrong passwords and audited, without the
code. Nothing here logs or audits a secret or a code.
"""

import hashlib
import hmac
import secrets
from datetime import datetime

import pyotp
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from mvq import ratelimit, sealing
from mvq.audit import service as audit
from mvq.auth import policy
from mvq.auth import service as auth
from mvq.auth.models import RecoveryCode, StaffUser
from mvq.auth.policy import Action
from mvq.auth.principal import Principal
from mvq.errors import NotFound, Unauthenticated
from mvq.settings import get_settings

ISSUER = "mvq"
STEP_SECONDS = 30
RECOVERY_CODES = 10
_INFO = b"mvq staff totp secrets v1"


def required(user: StaffUser) -> bool:
    """Must this person sign in with a second factor (enrolling first if need be)?"""
    return policy.needs_second_factor(
        user.role, reviewers_too=get_settings().reviewer_totp_required
    )


def enrolled(user: StaffUser) -> bool:
    return user.totp_enrolled_at is not None and user.totp_sealed_secret is not None


def in_use(user: StaffUser) -> bool:
    """Does signing in ask for a code (or for enrolment)? Unit members never have one."""
    return not policy.is_member(user.role) and (required(user) or enrolled(user))


def may_enrol(user: StaffUser) -> bool:
    return not policy.is_member(user.role) and user.disabled_at is None


def _seal(secret: str, user: StaffUser) -> str:
    return sealing.seal(secret, info=_INFO, bound_to=user.id)


def _secret(user: StaffUser) -> str:
    assert user.totp_sealed_secret is not None
    return sealing.unseal(user.totp_sealed_secret, info=_INFO, bound_to=user.id)


def provisioning_uri(secret: str, *, email: str) -> str:
    return pyotp.TOTP(secret, interval=STEP_SECONDS).provisioning_uri(
        name=email, issuer_name=ISSUER
    )


def pending_secret(session: Session, *, user: StaffUser) -> str:
    """The secret a person is about to enrol (made on first asking, kept across reloads so a
    scanned QR code stays good until enrolment succeeds)."""
    if enrolled(user):
        raise ValueError("already enrolled")
    if user.totp_sealed_secret is None:
        user.totp_sealed_secret = _seal(pyotp.random_base32(), user)
        session.flush()
    return _secret(user)


def enrol_now(session: Session, *, user: StaffUser, actor: str, now: datetime) -> str:
    """Enrol with a new secret at once (`mvq admin create-user`, a scripted account): the
    otpauth:// URI, to be shown once."""
    secret = pyotp.random_base32()
    user.totp_sealed_secret = _seal(secret, user)
    user.totp_enrolled_at = now
    user.totp_last_step = None
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    session.flush()
    _audit(session, user, actor=actor, action="user.second_factor_enrolled", via="cli")
    return provisioning_uri(secret, email=user.email)


def enrol(session: Session, *, user: StaffUser, code: str, client: str, now: datetime
          ) -> list[str]:  # fmt: skip
    """Finish enrolment with a code from the pending secret: the new recovery codes, to be
    shown once."""
    if enrolled(user) or user.totp_sealed_secret is None:
        raise Unauthenticated("nothing to enrol", code="bad_otp")
    counted = _throttle(user, client)
    step = _matching_step(_secret(user), _digits(code), now)
    if step is None:
        _failed(session, user, via="enrolment")
        raise Unauthenticated("wrong code", code="bad_otp")
    ratelimit.refund(counted)
    user.totp_enrolled_at = now
    user.totp_last_step = step
    codes = _new_recovery_codes(session, user=user, now=now)
    _audit(session, user, actor=f"staff:{user.id}", action="user.second_factor_enrolled",
           via="web")  # fmt: skip
    return codes


def verify(session: Session, *, user: StaffUser, code: str, client: str, now: datetime,
           via: str) -> None:  # fmt: skip
    """A TOTP code (current step +-1, not one already used) or an unused recovery code.
    Raises Unauthenticated (`bad_otp`) or RateLimited. On a failure the caller commits, so
    the audit of the failure stays."""
    if not enrolled(user):
        raise Unauthenticated("no second factor enrolled; sign in on the web to enrol",
                              code="otp_required")  # fmt: skip
    counted = _throttle(user, client)
    digits = _digits(code)
    step = _matching_step(_secret(user), digits, now) if len(digits) == 6 else None
    if step is not None:
        result = session.execute(
            update(StaffUser)
            .where(StaffUser.id == user.id)
            .where((StaffUser.totp_last_step.is_(None)) | (StaffUser.totp_last_step < step))
            .values(totp_last_step=step)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            session.refresh(user)
            ratelimit.refund(counted)
            return
        _failed(session, user, via=via, reason="replayed")
        raise Unauthenticated("that code was used already; wait for the next one",
                              code="bad_otp")  # fmt: skip
    if _use_recovery_code(session, user=user, code=code, now=now):
        ratelimit.refund(counted)
        left = session.scalar(
            select(func.count())
            .select_from(RecoveryCode)
            .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
        )
        _audit(session, user, actor=f"staff:{user.id}", action="user.recovery_code_used",
               via=via, left=left)  # fmt: skip
        return
    _failed(session, user, via=via)
    raise Unauthenticated("wrong code", code="bad_otp")


def reset_second_factor(
    session: Session, *, principal: Principal, user_id: str, now: datetime
) -> None:
    """An admin's reset (a lost phone): the secret and recovery codes go, and every session
    and token of the person ends (whoever holds the lost phone may hold those too); the person
    enrols again at the next web sign-in (and cannot get an API token before)."""
    policy.require(principal, Action.manage_staff)
    user = session.get(StaffUser, user_id)
    if user is None:
        raise NotFound("no such account")
    had = enrolled(user)
    user.totp_sealed_secret = None
    user.totp_enrolled_at = None
    user.totp_last_step = None
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    session.flush()
    ended = auth.end_credentials(session, user_id=user.id, now=now)
    _audit(session, user, actor=principal.actor, action="user.second_factor_reset",
           was_enrolled=had, credentials_ended=ended)  # fmt: skip


def recovery_codes_left(session: Session, *, user_id: str) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(RecoveryCode)
            .where(RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None))
        )
        or 0
    )


def _digits(code: str) -> str:
    return "".join(code.split())


def _matching_step(secret: str, digits: str, now: datetime) -> int | None:
    if len(digits) != 6 or not digits.isdigit():
        return None
    totp = pyotp.TOTP(secret, interval=STEP_SECONDS)
    current = int(now.timestamp()) // STEP_SECONDS
    found = None
    for step in (current - 1, current, current + 1):  # all compared: no early exit to time
        if hmac.compare_digest(totp.at(step * STEP_SECONDS), digits):
            found = step
    return found


def _hash_code(code: str) -> str:
    normal = "".join(ch for ch in code.lower() if ch.isalnum())
    return hashlib.sha256(b"mvq recovery code:" + normal.encode()).hexdigest()


def _new_recovery_codes(session: Session, *, user: StaffUser, now: datetime) -> list[str]:
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(alphabet) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    session.add_all(
        RecoveryCode(user_id=user.id, code_hash=_hash_code(c), created_at=now) for c in codes
    )
    session.flush()
    return codes


def _use_recovery_code(session: Session, *, user: StaffUser, code: str, now: datetime) -> bool:
    if not any(ch.isalpha() for ch in code):
        return False
    result = session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == _hash_code(code),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined,no-any-return]


def _throttle(user: StaffUser, client: str) -> list[str]:
    settings = get_settings()
    return ratelimit.attempt(
        bucket="otp",
        limits={
            f"user:{user.id}": settings.login_failures_allowed,
            f"client:{client}": settings.login_failures_allowed * 4,
        },
        window_seconds=settings.login_window_seconds,
    )


def _failed(session: Session, user: StaffUser, *, via: str, reason: str = "wrong") -> None:
    _audit(session, user, actor=f"staff:{user.id}", action="user.second_factor_failed",
           via=via, reason=reason)  # fmt: skip


def _audit(session: Session, user: StaffUser, *, actor: str, action: str, **data: object) -> None:
    audit.record(session, actor=actor, action=action, object_type="staff_user",
                 object_id=user.id, data=data)  # fmt: skip
