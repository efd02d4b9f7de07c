"""Who is asking for a page: the session cookie's staff user, and the CSRF check for forms."""

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from edge import i18n, web_session
from edge.deps import NowDep
from edge.unit_of_work import SessionDep, discard_so_far, keep_so_far
from mvq.auth import policy
from mvq.auth import service as auth
from mvq.auth.models import StaffUser
from mvq.auth.principal import Principal
from mvq.db import session_factory
from mvq.errors import Forbidden, Unauthenticated


@dataclass(frozen=True)
class WebUser:
    principal: Principal
    email: str
    session_token: str

    @property
    def csrf(self) -> str:
        return web_session.csrf_for(self.session_token)

    def can(self, action: str) -> bool:
        """For templates: `user.can("overturn")` asks the one policy."""
        return policy.allows(self.principal, policy.Action(action))


def _read_labels(session: Session) -> None:
    """The admins' labels for target types and reject reasons in the page's language, read
    once here, in the request's own session, for the templates (web.templating.labels)."""
    cache = i18n.cached()
    if cache is None:
        return
    try:
        from mvq.rules.labels import KINDS, labels_of
    except ImportError:
        return
    language = i18n.lang()
    for kind in KINDS:
        cache[f"labels:{kind}"] = labels_of(session, kind=kind, language=language)


def get_web_user(request: Request, session: SessionDep, now: NowDep) -> WebUser:
    # Unauthenticated on a page is answered with a redirect to the login (web.app).
    token = web_session.token_from_cookie(request.cookies.get(web_session.COOKIE))
    if token is None:
        raise Unauthenticated("log in first", code="login_required")
    try:
        principal = auth.resolve_token(session, token=token, now=now, purpose="session")
    except Unauthenticated as exc:
        # Told apart from "log in first": the login page then says the session ended.
        raise Unauthenticated("your session has ended; log in again", code="session_ended"
                              ) from exc  # fmt: skip
    assert principal.user_id is not None  # a session is always a person's
    person = session.get_one(StaffUser, principal.user_id)
    email = person.email
    # The page speaks the person's stored language and tells times in their zone; a `?lang=`
    # choice replaces the stored one (edge.i18n), so it follows them to any browser.
    replace = i18n.adopt(language=person.language, time_zone=person.time_zone)
    _read_labels(session)
    if replace is not None:
        person.language = replace
        keep_so_far(session)  # the reader's choice stays, whatever the page then answers
    else:
        discard_so_far(session)  # only read: the handler's own transaction starts clean
    found = WebUser(principal=principal, email=email, session_token=token)
    # The error page, if this request ends in one, leads the person somewhere they may go.
    request.state.web_user = found
    return found


WebUserDep = Annotated[WebUser, Depends(get_web_user)]


def signed_in_or_none(request: Request, *, now: datetime) -> WebUser | None:
    """The person an error page is for, when no handler found them (an address no route
    answers): read from the session cookie in a session of its own, nothing written. None
    when nobody valid is signed in."""
    found = getattr(request.state, "web_user", None)
    token = web_session.token_from_cookie(request.cookies.get(web_session.COOKIE))
    if found is not None or token is None:
        return found
    with session_factory()() as session:
        try:
            principal = auth.resolve_token(session, token=token, now=now, purpose="session")
        except Unauthenticated:
            return None
        finally:
            session.rollback()
        person = session.get(StaffUser, principal.user_id)
        if person is None:
            return None
        return WebUser(principal=principal, email=person.email, session_token=token)


async def csrf_checked(request: Request, user: WebUserDep) -> WebUser:
    """For every state-changing web request: the form field or the header must carry the
    session's CSRF token."""
    submitted = request.headers.get(web_session.CSRF_HEADER)
    if submitted is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get(web_session.CSRF_FIELD)
        submitted = value if isinstance(value, str) else None
    if not web_session.csrf_ok(user.session_token, submitted):
        raise Forbidden("the form's CSRF token is missing or wrong; reload the page", code="csrf")
    return user


WebFormUserDep = Annotated[WebUser, Depends(csrf_checked)]
