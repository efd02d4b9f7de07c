"""The admins' pages for people: staff and service accounts (create, role, link to a unit,
deactivate, new password, second factor, a service account's token) and a unit's members
(add, then the same person's page). Passwords and tokens are shown once, on the answer."""

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session

from edge.deps import NowDep
from edge.unit_of_work import SessionDep
from mvq.auth import accounts, policy, second_factor
from mvq.auth import service as auth
from mvq.errors import DomainError
from web.deps import WebUser
from web.routes.admin import (
    FORM_SIGNED_IN,
    SIGNED_IN,
    attempt,
    confirmed,
    hub,
    redirect_done,
    shown_once,
)
from web.routes.admin import unit_page as render_unit_page
from web.templating import render, url_for

router = APIRouter(include_in_schema=False)
Email = Annotated[str, Form(max_length=320)]
UnitChoice = Annotated[str, Form(max_length=36)]


@router.post("/admin/users", response_model=None)
def create_staff(request: Request, session: SessionDep, now: NowDep, email: Email = "",
                 role: Annotated[str, Form(max_length=20)] = "", unit_id: UnitChoice = "",
                 user: WebUser = FORM_SIGNED_IN) -> HTMLResponse:  # fmt: skip
    made, error = attempt(session, lambda: accounts.create_staff(
        session, principal=user.principal, email=email, role=role,
        unit_id=unit_id or None))  # fmt: skip
    if error:
        typed = {"email": email, "role": role, "unit_id": unit_id}
        return hub(request, session, user, now=now, error=error, typed=typed)
    person, password = made
    return _password(request, user, person_id=person.id, email=person.email, password=password)


def _password(request: Request, user: WebUser, *, person_id: str, email: str,
              password: str) -> HTMLResponse:  # fmt: skip
    back = url_for(request, "admin_user_page", user_id=person_id)
    return shown_once(request, user, kind="password", secret=password, subject=email, back=back)


@router.post("/admin/units/{unit_id}/members", response_model=None)
def add_member(unit_id: str, request: Request, session: SessionDep, now: NowDep,
               email: Email = "",
               user: WebUser = FORM_SIGNED_IN) -> HTMLResponse:  # fmt: skip
    made, error = attempt(session, lambda: accounts.add_member(
        session, principal=user.principal, unit_id=unit_id, email=email))  # fmt: skip
    if error:
        return render_unit_page(request, session, user, unit_id=unit_id, now=now, error=error,
                                typed={"email": email})  # fmt: skip
    person, password = made
    return _password(request, user, person_id=person.id, email=person.email, password=password)


def user_page(request: Request, session: Session, user: WebUser, *, user_id: str,
              error: DomainError | None = None,
              done: str | None = None) -> HTMLResponse:  # fmt: skip
    person = accounts.get_user(session, principal=user.principal, user_id=user_id)
    return render(
        request, "admin_user.html", user=user, person=person,
        unit_names=auth.unit_names(session),
        roles=[r.value for r in policy.STAFF_ROLES],
        second_factor_enrolled=second_factor.enrolled(person),
        second_factor_in_use=second_factor.in_use(person),
        is_self=person.id == user.principal.user_id,
        error=error, done=done, status_code=error.status if error else 200,
    )  # fmt: skip


@router.get("/admin/users/{user_id}", response_class=HTMLResponse)
def admin_user_page(user_id: str, request: Request, session: SessionDep,
                    done: str | None = None,
                    user: WebUser = SIGNED_IN) -> HTMLResponse:  # fmt: skip
    return user_page(request, session, user, user_id=user_id, done=done)


def _after(request: Request, session: Session, user: WebUser, user_id: str, code: str,
           error: DomainError | None) -> HTMLResponse | RedirectResponse:  # fmt: skip
    if error:
        return user_page(request, session, user, user_id=user_id, error=error)
    return redirect_done(request, "admin_user_page", code, user_id=user_id)


@router.post("/admin/users/{user_id}/role", response_model=None)
def change_role(user_id: str, request: Request, session: SessionDep, now: NowDep,
                role: Annotated[str, Form(max_length=20)] = "",
                user: WebUser = FORM_SIGNED_IN
                ) -> HTMLResponse | RedirectResponse:  # fmt: skip
    _, error = attempt(session, lambda: accounts.change_role(
        session, principal=user.principal, user_id=user_id, role=role, now=now))  # fmt: skip
    return _after(request, session, user, user_id, "role_changed", error)


@router.post("/admin/users/{user_id}/unit", response_model=None)
def link_unit(user_id: str, request: Request, session: SessionDep, unit_id: UnitChoice = "",
              user: WebUser = FORM_SIGNED_IN
              ) -> HTMLResponse | RedirectResponse:  # fmt: skip
    _, error = attempt(session, lambda: accounts.link_unit(
        session, principal=user.principal, user_id=user_id,
        unit_id=unit_id or None))  # fmt: skip
    return _after(request, session, user, user_id, "linked" if unit_id else "unlinked", error)


@router.post("/admin/users/{user_id}/deactivate", response_model=None)
def deactivate_user(user_id: str, request: Request, session: SessionDep, now: NowDep,
                    confirm: Annotated[str, Form(max_length=10)] = "",
                    user: WebUser = FORM_SIGNED_IN
                    ) -> HTMLResponse | RedirectResponse:  # fmt: skip
    def change() -> Any:
        confirmed(confirm)
        return accounts.deactivate_user(session, principal=user.principal, user_id=user_id,
                                        now=now)  # fmt: skip

    _, error = attempt(session, change)
    return _after(request, session, user, user_id, "user_deactivated", error)


@router.post("/admin/users/{user_id}/password", response_model=None)
def reset_password(user_id: str, request: Request, session: SessionDep, now: NowDep,
                   user: WebUser = FORM_SIGNED_IN
                   ) -> HTMLResponse | RedirectResponse:  # fmt: skip
    password, error = attempt(session, lambda: accounts.reset_password(
        session, principal=user.principal, user_id=user_id, now=now))  # fmt: skip
    if error:
        return user_page(request, session, user, user_id=user_id, error=error)
    person = accounts.get_user(session, principal=user.principal, user_id=user_id)
    return _password(request, user, person_id=person.id, email=person.email, password=password)


@router.post("/admin/users/{user_id}/second-factor", response_model=None)
def reset_second_factor(user_id: str, request: Request, session: SessionDep, now: NowDep,
                        user: WebUser = FORM_SIGNED_IN
                        ) -> HTMLResponse | RedirectResponse:  # fmt: skip
    def change() -> None:
        second_factor.reset_second_factor(session, principal=user.principal, user_id=user_id,
                                          now=now)  # fmt: skip

    _, error = attempt(session, change)
    return _after(request, session, user, user_id, "second_factor_reset", error)


@router.post("/admin/users/{user_id}/token", response_model=None)
def issue_service_token(user_id: str, request: Request, session: SessionDep, now: NowDep,
                        user: WebUser = FORM_SIGNED_IN
                        ) -> HTMLResponse | RedirectResponse:  # fmt: skip
    token, error = attempt(session, lambda: accounts.issue_service_token(
        session, principal=user.principal, user_id=user_id, now=now))  # fmt: skip
    if error:
        return user_page(request, session, user, user_id=user_id, error=error)
    person = accounts.get_user(session, principal=user.principal, user_id=user_id)
    back = url_for(request, "admin_user_page", user_id=user_id)
    return shown_once(request, user, kind="service_token", secret=token, subject=person.email,
                      back=back)  # fmt: skip
