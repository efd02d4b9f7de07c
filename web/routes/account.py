"""A person's own settings page: the language of the pages and the time zone their times are
told in, for staff and units' members alike. The page's words live in account.html."""

from typing import Annotated
from zoneinfo import available_timezones

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from edge import i18n
from edge.unit_of_work import SessionDep, discard_so_far
from mvq.auth import accounts
from mvq.errors import DomainError
from web.deps import WebFormUserDep, WebUser, WebUserDep
from web.templating import render, url_for

router = APIRouter(include_in_schema=False)
# The zones people pick from: every IANA area/city name, not the legacy aliases.
ZONES = sorted(
    z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/"))
)


def _page(request: Request, session: SessionDep, user: WebUser, *, saved: bool = False,
          error: DomainError | None = None) -> HTMLResponse:  # fmt: skip
    assert user.principal.user_id is not None
    person = accounts.get_user(session, principal=user.principal, user_id=user.principal.user_id)
    return render(request, "account.html", user=user, person=person, zones=ZONES,
                  language_names=i18n.NAMES, default_zone=i18n.default_time_zone().key,
                  saved=saved, error=error, status_code=error.status if error else 200)  # fmt: skip


@router.get("/account", response_class=HTMLResponse)
def account_page(
    request: Request, user: WebUserDep, session: SessionDep, saved: bool = False
) -> HTMLResponse:
    return _page(request, session, user, saved=saved)


@router.post("/account", response_model=None)
def save_account(
    request: Request,
    user: WebFormUserDep,
    session: SessionDep,
    language: Annotated[str, Form(max_length=8)] = "",
    time_zone: Annotated[str, Form(max_length=64)] = "",
) -> HTMLResponse | RedirectResponse:
    assert user.principal.user_id is not None
    try:
        accounts.set_preferences(
            session, principal=user.principal, language=language or None,
            time_zone=time_zone or None, languages=i18n.SUPPORTED,
        )  # fmt: skip
    except DomainError as exc:
        discard_so_far(session)
        return _page(request, session, user, error=exc)
    # The next page is read in the new settings: the language through the stored choice.
    response = RedirectResponse(url_for(request, "account_page") + "?saved=1", status_code=303)
    # The cookie speaks for this browser before sign-in (the login page); it follows the choice.
    if language:
        response.set_cookie(i18n.COOKIE, language, max_age=i18n.COOKIE_MAX_AGE, samesite="lax")
    else:
        response.delete_cookie(i18n.COOKIE)
    return response
