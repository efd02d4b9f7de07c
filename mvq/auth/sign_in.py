"""Signing in, one sequence for every door: the password, then the second factor where the
role needs one (enrolling it first if the person has none yet), then a token. The API walks it
in one request (`api_token`); the pages walk it a step a page, holding the person between
steps in a signed cookie, and call the same steps."""

import enum
from datetime import datetime

from sqlalchemy.orm import Session

from mvq.auth import second_factor
from mvq.auth import service as auth
from mvq.auth.models import StaffUser
from mvq.errors import Unauthenticated


class Next(enum.StrEnum):
    """What is asked after the password."""

    signed_in = "signed_in"  # nothing: the token is issued
    code = "code"  # a TOTP code or a recovery code
    enrol = "enrol"  # a second factor, enrolled first (on the web)


def check_password(
    session: Session, *, email: str, password: str, client: str
) -> tuple[StaffUser, Next]:
    """The first step, throttled (auth.service.login): the person, and what is asked next."""
    user = auth.login(session, email=email, password=password, client=client)
    if not second_factor.in_use(user):
        return user, Next.signed_in
    return user, Next.code if second_factor.enrolled(user) else Next.enrol


def check_code(
    session: Session, *, user: StaffUser, code: str, client: str, now: datetime, via: str
) -> None:
    """The second step. On a refusal the caller commits, so the failure's audit stays."""
    second_factor.verify(session, user=user, code=code, client=client, now=now, via=via)


def enrol(session: Session, *, user: StaffUser, code: str, client: str, now: datetime
          ) -> list[str]:  # fmt: skip
    """The second step for a person with no factor yet: the new recovery codes (shown once).
    On a refusal the caller commits, so the failure's audit stays."""
    return second_factor.enrol(session, user=user, code=code, client=client, now=now)


def issue_token(
    session: Session, *, user: StaffUser, now: datetime, purpose: str, second_factor: bool
) -> str:
    """The last step: a bearer token ("api") or the pages' session token ("session");
    `second_factor`: was a code given (or a factor enrolled) on the way?"""
    return auth.issue_staff_token(
        session, user=user, now=now, purpose=purpose, second_factor=second_factor
    )


def api_token(
    session: Session, *, email: str, password: str, otp: str | None, client: str, now: datetime
) -> str:
    """Every step in one request. A person with a second factor sends its code as `otp`; one
    who must enrol first does so on the web (the code check says so)."""
    user, then = check_password(session, email=email, password=password, client=client)
    if then is not Next.signed_in:
        if not otp or not otp.strip():
            raise Unauthenticated("this account needs a second factor: send otp (a TOTP code "
                                  "or a recovery code)", code="otp_required")  # fmt: skip
        check_code(session, user=user, code=otp, client=client, now=now, via="api_token")
    return issue_token(session, user=user, now=now, purpose="api",
                       second_factor=then is not Next.signed_in)  # fmt: skip
