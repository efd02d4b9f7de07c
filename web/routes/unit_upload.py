"""A unit member's upload page: pick footage, state the claim, watch each file go up.

The page's script (static/upload.js) talks to the documented JSON API with the session cookie
and the page's CSRF token, so a phone on a bad link resumes exactly as `mvq upload` does. The
server's part here is what the script cannot know: the rules in force (each choice shows its
points), the limits, and reading a position typed as decimal degrees or as MGRS.

MGRS is read here rather than in the browser: `mvq.geo` (the `mgrs` package, GeoTrans's C code)
already reads grids for the item page and from drone overlays, so one well-tried converter
serves all, and the page vendors no second one that could disagree with it. The request is a
few hundred bytes, made once, when the claim is sent."""

import gzip
import re
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse

from edge.deps import NowDep
from edge.i18n import gettext
from edge.unit_of_work import SessionDep
from mvq.errors import Forbidden
from mvq.geo import read_grid
from mvq.rules import service as rules
from mvq.settings import get_settings
from web.deps import WebUser, WebUserDep
from web.templating import render, url_for

router = APIRouter(include_in_schema=False)

# "48.51234, 35.01234", "48.51234 35.01234" or "48,51234; 35,01234" is not accepted: a decimal
# comma would make "48,5, 35,0" ambiguous, so the point is the only decimal mark.
_DECIMAL = re.compile(r"^\s*([+-]?\d{1,2}(?:\.\d+)?)\s*[,;\s]\s*([+-]?\d{1,3}(?:\.\d+)?)\s*$")


@dataclass(frozen=True)
class Choice:
    target_type: str
    outcome: str
    points: int


def _member(user: WebUser) -> WebUser:
    # Staff have no unit to claim for; their pages are elsewhere.
    if user.principal.kind != "unit" or user.principal.unit_id is None:
        raise Forbidden("only a unit's members upload footage")
    return user


@router.get("/unit/upload", response_class=HTMLResponse)
def unit_upload_page(
    request: Request, user: WebUserDep, session: SessionDep, now: NowDep
) -> HTMLResponse:
    member = _member(user)
    version = rules.version_in_force(session, at=now)
    in_force = rules.rules_of(session, version_id=version.id) if version is not None else []
    choices = [Choice(r.target_type, r.outcome, r.points) for r in in_force]
    settings = get_settings()
    principal = member.principal
    page = render(
        request,
        "unit_upload.html",
        user=member,
        choices=choices,
        max_upload_bytes=settings.max_upload_bytes,
        # Browser storage is kept per person, so a shared phone never offers one member's
        # half-sent claim to another.
        store_id=f"mvq-upload-{principal.member_id or principal.id}",
        position_url=url_for(request, "unit_upload_position"),
        # "My claims" (/unit) is the contract's path for a member's claims.
        claims_url=f"{request.scope.get('root_path', '')}/unit",
    )
    return _packed(request, page)


def _packed(request: Request, page: HTMLResponse) -> HTMLResponse:
    """The page gzipped for a browser that takes it: at 50 KB/s its ~10 KB are a fifth of a
    second, a third of that packed, and a warm visit is the page alone (every file it loads
    is cached for a year). Safe from BREACH: nothing in it echoes the request (no query
    text, no form input), so no one can probe the CSRF token through its compressed size.
    Static files are packed at install instead (web/static_build.py)."""
    if "gzip" not in request.headers.get("accept-encoding", "") or page.status_code != 200:
        return page
    packed = gzip.compress(bytes(page.body), compresslevel=6)
    headers = {k: v for k, v in page.headers.items() if k.lower() != "content-length"}
    headers |= {"Content-Encoding": "gzip", "Vary": "Accept-Encoding"}
    return HTMLResponse(packed, status_code=page.status_code, headers=headers)


@router.get("/unit/upload/position", name="unit_upload_position")
def read_position(
    user: WebUserDep, text: Annotated[str, Query(max_length=100)] = ""
) -> JSONResponse:
    """`{"lat", "lon"}` of decimal degrees or an MGRS grid; an error the page shows by the
    field otherwise, in the JSON API's shape."""
    _member(user)
    found = parse_position(text)
    if found is None:
        message = gettext(
            'Write the position as decimal degrees ("48.51234, 35.01234") or as an MGRS grid '
            '("36U XU 55126 74005").'
        )
        return JSONResponse({"error": {"code": "bad_position", "message": message}}, 422)
    return JSONResponse({"lat": found[0], "lon": found[1]})


def parse_position(text: str) -> tuple[float, float] | None:
    decimal = _DECIMAL.match(text)
    if decimal:
        lat, lon = float(decimal[1]), float(decimal[2])
        return (lat, lon) if -90 <= lat <= 90 and -180 <= lon <= 180 else None
    return read_grid(text)
