"""The written policy behind each decision reason: `/policies` (every reason's current text),
`/policies/{reason_code}` (one, with its history for admins), and the admins' editor at
`/admin/policies`, where saving a reason's texts appends a version (mvq.review.policy_texts).
The decision panel links each reason here (the `policy_url` template global)."""

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from edge import i18n
from edge.deps import NowDep
from edge.unit_of_work import SessionDep
from mvq.auth.policy import Action
from mvq.errors import DomainError
from mvq.review import policy_texts
from web.deps import WebFormUserDep, WebUser, WebUserDep
from web.routes.admin import attempt, redirect_done
from web.templating import render

router = APIRouter(include_in_schema=False)
Text = Annotated[str, Form(max_length=policy_texts.MAX_TEXT + 1000)]


@router.get("/policies", response_class=HTMLResponse)
def policies_page(request: Request, user: WebUserDep, session: SessionDep) -> HTMLResponse:
    return render(request, "policies.html", user=user, codes=policy_texts.CODES,
                  current=policy_texts.all_current(session, viewer=user.principal),
                  language=i18n.lang())  # fmt: skip


@router.get("/policies/{reason_code}", response_class=HTMLResponse)
def policy_page(
    reason_code: str, request: Request, user: WebUserDep, session: SessionDep
) -> HTMLResponse:
    found = policy_texts.current(session, viewer=user.principal, code=reason_code)
    versions = (policy_texts.history(session, editor=user.principal, code=reason_code)
                if user.can(Action.edit_policy) else [])  # fmt: skip
    return render(request, "policy.html", user=user, code=reason_code, policy=found,
                  versions=versions, authors=policy_texts.authors(session, versions),
                  language=i18n.lang())  # fmt: skip


def _editor(request: Request, session: SessionDep, user: WebUser, *,
            error: DomainError | None = None, done: str | None = None) -> HTMLResponse:  # fmt: skip
    return render(request, "admin_policies.html", user=user, codes=policy_texts.CODES,
                  current=policy_texts.for_editing(session, editor=user.principal),
                  max_text=policy_texts.MAX_TEXT, error=error, done=done,
                  status_code=error.status if error else 200)  # fmt: skip


@router.get("/admin/policies", response_class=HTMLResponse)
def admin_policies_page(
    request: Request, user: WebUserDep, session: SessionDep, done: str | None = None
) -> HTMLResponse:
    return _editor(request, session, user, done=done)


@router.post("/admin/policies", response_model=None)
def save_policy(
    request: Request,
    user: WebFormUserDep,
    session: SessionDep,
    now: NowDep,
    reason_code: Annotated[str, Form(max_length=40)],
    text_uk: Text,
    text_en: Text,
) -> HTMLResponse | RedirectResponse:
    saved, error = attempt(session, lambda: policy_texts.publish(
        session, editor=user.principal, code=reason_code, text_uk=text_uk, text_en=text_en,
        now=now))  # fmt: skip
    if error:
        return _editor(request, session, user, error=error)
    return redirect_done(request, "admin_policies_page",
                         "policy_saved" if saved else "policy_unchanged")  # fmt: skip
