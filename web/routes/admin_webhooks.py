"""The admins' webhook pages: register an endpoint (its secret shown once), an endpoint's
page with its delivery log, rotation (the new secret shown once) and disabling. Everything is
mvq.webhooks.service's, which checks the policy and writes the audit events."""

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session

from edge.deps import NowDep
from edge.unit_of_work import SessionDep
from mvq.auth import service as auth
from mvq.errors import DomainError, Invalid
from mvq.webhooks import service as webhooks
from mvq.webhooks.events import TYPES as EVENT_TYPES
from mvq.webhooks.service import Issued
from web.deps import WebUser
from web.routes.admin import (
    FORM_SIGNED_IN,
    SIGNED_IN,
    attempt,
    hub,
    redirect_done,
    shown_once,
)
from web.templating import render, url_for

router = APIRouter(include_in_schema=False)
LOG_ROWS = 50


@router.post("/admin/webhooks", response_model=None)
def register_webhook(request: Request, session: SessionDep, now: NowDep,
                     url: Annotated[str, Form(max_length=2000)] = "",
                     events: Annotated[list[str], Form(max_length=len(EVENT_TYPES))] = [],  # noqa: B006
                     unit_id: Annotated[str, Form(max_length=36)] = "",
                     allow_private_network: Annotated[str, Form(max_length=10)] = "",
                     user: WebUser = FORM_SIGNED_IN
                     ) -> HTMLResponse:  # fmt: skip
    def change() -> Issued:
        if not events or not set(events) <= set(EVENT_TYPES):
            raise Invalid("choose one or more events", code="bad_events")
        return webhooks.register(session, admin=user.principal, url=url.strip(), events=events,
                                 unit_id=unit_id or None,
                                 allow_private_network=allow_private_network == "yes",
                                 now=now)  # fmt: skip

    issued, error = attempt(session, change)
    if error:
        typed = {"url": url, "unit_id": unit_id, "events": " ".join(events)}
        return hub(request, session, user, now=now, error=error, typed=typed)
    return _secret(request, user, issued)


def _secret(request: Request, user: WebUser, issued: Issued) -> HTMLResponse:
    back = url_for(request, "admin_webhook_page", endpoint_id=issued.endpoint.id)
    return shown_once(request, user, kind="webhook_secret", secret=issued.secret,
                      subject=issued.endpoint.url, back=back)  # fmt: skip


def webhook_page(request: Request, session: Session, user: WebUser, *, endpoint_id: str,
                 error: DomainError | None = None,
                 done: str | None = None) -> HTMLResponse:  # fmt: skip
    endpoint = webhooks.managed(session, admin=user.principal, endpoint_id=endpoint_id)
    log = webhooks.delivery_log(session, viewer=user.principal, endpoint_id=endpoint_id,
                                limit=LOG_ROWS)  # fmt: skip
    unit = auth.unit_names(session, ids=[endpoint.unit_id]) if endpoint.unit_id else {}
    return render(request, "admin_webhook.html", user=user, endpoint=endpoint, log=log,
                  unit_name=unit.get(endpoint.unit_id or ""), log_rows=LOG_ROWS, error=error,
                  done=done, status_code=error.status if error else 200)  # fmt: skip


@router.get("/admin/webhooks/{endpoint_id}", response_class=HTMLResponse)
def admin_webhook_page(endpoint_id: str, request: Request, session: SessionDep,
                       done: str | None = None, user: WebUser = SIGNED_IN
                       ) -> HTMLResponse:  # fmt: skip
    return webhook_page(request, session, user, endpoint_id=endpoint_id, done=done)


@router.post("/admin/webhooks/{endpoint_id}/rotate", response_model=None)
def rotate_webhook(endpoint_id: str, request: Request, session: SessionDep, now: NowDep,
                   user: WebUser = FORM_SIGNED_IN
                   ) -> HTMLResponse:  # fmt: skip
    issued, error = attempt(session, lambda: webhooks.rotate(
        session, admin=user.principal, endpoint_id=endpoint_id, now=now))  # fmt: skip
    if error:
        return webhook_page(request, session, user, endpoint_id=endpoint_id, error=error)
    return _secret(request, user, issued)


@router.post("/admin/webhooks/{endpoint_id}/disable", response_model=None)
def disable_webhook(endpoint_id: str, request: Request, session: SessionDep, now: NowDep,
                    user: WebUser = FORM_SIGNED_IN
                    ) -> HTMLResponse | RedirectResponse:  # fmt: skip
    _, error = attempt(session, lambda: webhooks.disable(
        session, admin=user.principal, endpoint_id=endpoint_id, now=now))  # fmt: skip
    if error:
        return webhook_page(request, session, user, endpoint_id=endpoint_id, error=error)
    return redirect_done(request, "admin_webhook_page", "disabled", endpoint_id=endpoint_id)
