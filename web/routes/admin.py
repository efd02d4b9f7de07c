"""The admins' pages: `/admin` (units, staff, service accounts, webhooks), a unit's page (its
name, members and API tokens) and the labels of stored codes. Each form calls one domain
function (mvq.auth.accounts, mvq.rules.labels, mvq.webhooks.service); a refusal re-renders the
page with the reason and its status. A new token, password or secret is shown on the page the
form answers with, once, and never stored in clear or logged. The people's and the webhooks'
pages are in admin_people.py and admin_webhooks.py; the words are in the templates."""

from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session

from edge import i18n, outcome_words
from edge.deps import NowDep
from edge.unit_of_work import SessionDep, discard_so_far
from mvq.auth import accounts, policy
from mvq.auth import service as auth
from mvq.auth.principal import Principal
from mvq.errors import DomainError, Forbidden, Invalid
from mvq.review.decisions import REJECT_REASONS
from mvq.rules import labels
from mvq.rules import service as rules
from mvq.webhooks import service as webhooks
from mvq.webhooks.events import TYPES as EVENT_TYPES
from web.deps import WebUser, csrf_checked, get_web_user
from web.templating import render, url_for

router = APIRouter(include_in_schema=False)
Name = Annotated[str, Form(max_length=300)]
# Who is asking, as a default so it may follow the form's fields; what they may do is the
# business of the service they call (mvq.auth.accounts asks the policy itself).
SIGNED_IN: Any = Depends(get_web_user)
FORM_SIGNED_IN: Any = Depends(csrf_checked)


def shown_once(request: Request, user: WebUser, *, kind: str, secret: str, subject: str,
               back: str, extra: str | None = None) -> HTMLResponse:  # fmt: skip
    """The answer to a form that made a secret: the one time anyone sees it."""
    page = render(request, "admin_secret.html", user=user, kind=kind, secret=secret,
                  subject=subject, back=back, extra=extra, status_code=201)  # fmt: skip
    page.headers["Cache-Control"] = "no-store"
    return page


def redirect_done(request: Request, name: str, code: str, **params: str) -> RedirectResponse:
    # The notice is named, not written out, so the page says it in the reader's language.
    return RedirectResponse(f"{url_for(request, name, **params)}?{urlencode({'done': code})}",
                            status_code=303)  # fmt: skip


def attempt(session: Session, change: Callable[[], Any]) -> tuple[Any, DomainError | None]:
    """Run one domain change: kept for the request's commit, or discarded with the refusal to
    show (edge.unit_of_work)."""
    try:
        result = change()
    except Forbidden:
        raise  # the policy's refusal is the answer, not a form error
    except DomainError as exc:
        discard_so_far(session)
        return None, exc
    return result, None


# The hub


def hub(request: Request, session: Session, user: WebUser, *, now: Any,
        error: DomainError | None = None, typed: dict[str, str] | None = None,
        done: str | None = None) -> HTMLResponse:  # fmt: skip
    units = accounts.units(session, principal=user.principal, now=now)
    people = accounts.staff(session, principal=user.principal)
    return render(
        request, "admin.html", user=user,
        units=units,
        unit_names=auth.unit_names(session),
        staff=[p for p in people if not policy.is_service_account(p.role)],
        service_accounts=[p for p in people if policy.is_service_account(p.role)],
        roles=[r.value for r in policy.STAFF_ROLES if not policy.is_service_account(r)],
        endpoints=webhooks.visible(session, viewer=user.principal),
        event_types=EVENT_TYPES,
        error=error, typed=typed or {}, done=done,
        status_code=error.status if error else 200,
    )  # fmt: skip


@router.get("/admin", response_class=HTMLResponse)
def admin_page(request: Request, session: SessionDep, now: NowDep, done: str | None = None,
               user: WebUser = SIGNED_IN) -> HTMLResponse:  # fmt: skip
    return hub(request, session, user, now=now, done=done)


# Units


@router.post("/admin/units", response_model=None)
def create_unit(request: Request, session: SessionDep, now: NowDep, name: Name = "",
                user: WebUser = FORM_SIGNED_IN) -> HTMLResponse:  # fmt: skip
    made, error = attempt(session, lambda: accounts.create_unit(
        session, principal=user.principal, name=name))  # fmt: skip
    if error:
        return hub(request, session, user, now=now, error=error, typed={"unit_name": name})
    unit, token = made
    back = url_for(request, "admin_unit_page", unit_id=unit.id)
    return shown_once(request, user, kind="unit_token", secret=token, subject=unit.name,
                      back=back, extra=unit.id)  # fmt: skip


def unit_page(request: Request, session: Session, user: WebUser, *, unit_id: str, now: Any,
              error: DomainError | None = None, typed: dict[str, str] | None = None,
              done: str | None = None) -> HTMLResponse:  # fmt: skip
    unit = accounts.get_unit(session, principal=user.principal, unit_id=unit_id)
    return render(
        request, "admin_unit.html", user=user, unit=unit,
        members=accounts.members(session, principal=user.principal, unit_id=unit.id),
        tokens=accounts.unit_tokens(session, principal=user.principal, unit_id=unit.id, now=now),
        max_grace_minutes=int(accounts.MAX_GRACE.total_seconds() // 60),
        error=error, typed=typed or {}, done=done,
        status_code=error.status if error else 200,
    )  # fmt: skip


@router.get("/admin/units/{unit_id}", response_class=HTMLResponse)
def admin_unit_page(unit_id: str, request: Request, session: SessionDep, now: NowDep,
                    done: str | None = None,
                    user: WebUser = SIGNED_IN) -> HTMLResponse:  # fmt: skip
    return unit_page(request, session, user, unit_id=unit_id, now=now, done=done)


@router.post("/admin/units/{unit_id}/rename", response_model=None)
def rename_unit(unit_id: str, request: Request, session: SessionDep, now: NowDep,
                name: Name = "", user: WebUser = FORM_SIGNED_IN
                ) -> HTMLResponse | RedirectResponse:  # fmt: skip
    _, error = attempt(session, lambda: accounts.rename_unit(
        session, principal=user.principal, unit_id=unit_id, name=name))  # fmt: skip
    if error:
        return unit_page(request, session, user, unit_id=unit_id, now=now, error=error,
                         typed={"name": name})  # fmt: skip
    return redirect_done(request, "admin_unit_page", "renamed", unit_id=unit_id)


@router.post("/admin/units/{unit_id}/deactivate", response_model=None)
def deactivate_unit(unit_id: str, request: Request, session: SessionDep, now: NowDep,
                    confirm: Annotated[str, Form(max_length=10)] = "",
                    user: WebUser = FORM_SIGNED_IN
                    ) -> HTMLResponse | RedirectResponse:  # fmt: skip
    def change() -> object:
        confirmed(confirm)
        return accounts.deactivate_unit(session, principal=user.principal, unit_id=unit_id,
                                        now=now)  # fmt: skip

    _, error = attempt(session, change)
    if error:
        return unit_page(request, session, user, unit_id=unit_id, now=now, error=error)
    return redirect_done(request, "admin_unit_page", "unit_deactivated", unit_id=unit_id)


def confirmed(confirm: str) -> None:
    if confirm != "yes":
        raise Invalid("tick the box to confirm", code="confirm")


@router.post("/admin/units/{unit_id}/tokens", response_model=None)
def add_unit_token(unit_id: str, request: Request, session: SessionDep, now: NowDep,
                   user: WebUser = FORM_SIGNED_IN) -> HTMLResponse:  # fmt: skip
    token, error = attempt(session, lambda: accounts.add_unit_token(
        session, principal=user.principal, unit_id=unit_id))  # fmt: skip
    if error:
        return unit_page(request, session, user, unit_id=unit_id, now=now, error=error)
    return _unit_secret(request, session, user, unit_id=unit_id, token=token)


def _unit_secret(request: Request, session: Session, user: WebUser, *, unit_id: str,
                 token: str) -> HTMLResponse:  # fmt: skip
    unit = accounts.get_unit(session, principal=user.principal, unit_id=unit_id)
    back = url_for(request, "admin_unit_page", unit_id=unit_id)
    return shown_once(request, user, kind="unit_token", secret=token, subject=unit.name,
                      back=back, extra=unit.id)  # fmt: skip


@router.post("/admin/units/{unit_id}/tokens/rotate", response_model=None)
def rotate_unit_token(unit_id: str, request: Request, session: SessionDep, now: NowDep,
                      grace_minutes: Annotated[int, Form(ge=0, le=7 * 24 * 60)] = 0,
                      user: WebUser = FORM_SIGNED_IN
                      ) -> HTMLResponse:  # fmt: skip
    token, error = attempt(session, lambda: accounts.rotate_unit_token(
        session, principal=user.principal, unit_id=unit_id,
        grace=timedelta(minutes=grace_minutes), now=now))  # fmt: skip
    if error:
        return unit_page(request, session, user, unit_id=unit_id, now=now, error=error)
    return _unit_secret(request, session, user, unit_id=unit_id, token=token)


@router.post("/admin/units/{unit_id}/tokens/revoke", response_model=None)
def revoke_unit_tokens(unit_id: str, request: Request, session: SessionDep, now: NowDep,
                       user: WebUser = FORM_SIGNED_IN
                       ) -> HTMLResponse | RedirectResponse:  # fmt: skip
    _, error = attempt(session, lambda: accounts.revoke_unit_tokens(
        session, principal=user.principal, unit_id=unit_id, now=now))  # fmt: skip
    if error:
        return unit_page(request, session, user, unit_id=unit_id, now=now, error=error)
    return redirect_done(request, "admin_unit_page", "tokens_revoked", unit_id=unit_id)


# Labels


def _codes(session: Session, now: Any, *, editor: Principal) -> dict[str, list[str]]:
    targets = rules.known_target_types(session, at=now)
    targets |= {code for (kind, code, _) in labels.all_labels(session, editor=editor)
                if kind == "target_type"}  # fmt: skip
    return {"target_type": sorted(targets), "reject_reason": list(REJECT_REASONS)}


def _built_in() -> dict[tuple[str, str, str], str]:
    """The words mvq ships for its own codes, in each language: what a field left empty shows
    (its placeholder), so an admin sees which codes already read well in Ukrainian."""
    found: dict[tuple[str, str, str], str] = {}
    for language in labels.LANGUAGES:
        with i18n.using(language):
            for kind, words in outcome_words.DEFAULT_LABELS.items():
                found |= {(kind, code, language): i18n.gettext(text)
                          for code, text in words.items()}  # fmt: skip
    return found


def labels_page(request: Request, session: Session, user: WebUser, *, now: Any,
                error: DomainError | None = None,
                done: str | None = None) -> HTMLResponse:  # fmt: skip
    return render(
        request, "admin_labels.html", user=user, codes=_codes(session, now, editor=user.principal),
        texts=labels.all_labels(session, editor=user.principal),
        label_languages=labels.LANGUAGES, built_in=_built_in(), max_text=labels.MAX_TEXT,
        error=error, done=done, status_code=error.status if error else 200,
    )  # fmt: skip


@router.get("/admin/labels", response_class=HTMLResponse)
def admin_labels_page(request: Request, session: SessionDep, now: NowDep,
                      done: str | None = None,
                      user: WebUser = SIGNED_IN) -> HTMLResponse:  # fmt: skip
    return labels_page(request, session, user, now=now, done=done)


Texts = Annotated[list[str], Form(max_length=len(REJECT_REASONS) + 200)]


@router.post("/admin/labels", response_model=None)
def save_labels(request: Request, session: SessionDep, now: NowDep,
                kind: Annotated[str, Form(max_length=20)] = "",
                code: Texts = [], uk: Texts = [], en: Texts = [],  # noqa: B006
                user: WebUser = FORM_SIGNED_IN
                ) -> HTMLResponse | RedirectResponse:  # fmt: skip
    def change() -> int:
        if not len(code) == len(uk) == len(en):
            raise Invalid("every row needs both languages", code="bad_label")
        texts = {(c, "uk"): t for c, t in zip(code, uk, strict=True)}
        texts |= {(c, "en"): t for c, t in zip(code, en, strict=True)}
        known = _codes(session, now, editor=user.principal).get(kind, [])
        return labels.set_labels(session, kind=kind, known_codes=known, texts=texts,
                                 editor=user.principal, now=now)  # fmt: skip

    _, error = attempt(session, change)
    if error:
        return labels_page(request, session, user, now=now, error=error)
    return redirect_done(request, "admin_labels_page", "labels_saved")
