"""The note thread on an item's page: a reviewer or senior writes, colleagues named with
`@name` find it on their queue. Reading is the item page's (web.routes.review)."""

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from edge.errors import localised
from edge.i18n import gettext as _
from edge.unit_of_work import SessionDep, discard_so_far
from mvq.errors import Invalid
from mvq.review import notes
from web.deps import WebFormUserDep
from web.templating import redirect

router = APIRouter(include_in_schema=False)


@router.post("/review/{item_id}/notes", response_class=RedirectResponse)
def add_note(
    item_id: str,
    request: Request,
    user: WebFormUserDep,
    session: SessionDep,
    body: Annotated[str, Form(max_length=notes.MAX_BODY)],
) -> RedirectResponse:
    try:
        written = notes.add(session, author=user.principal, item_id=item_id, body=body)
    except Invalid as exc:
        discard_so_far(session)
        return redirect(request, "item_page", item_id=item_id, message=localised(exc))
    told = _("Note added.")
    if written.mentioned:
        told += " " + _("Told: %(people)s.", people=", ".join(written.mentioned))
    return redirect(request, "item_page", item_id=item_id, message=told)
