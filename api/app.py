from collections.abc import Sequence
from urllib.parse import urlsplit

from fastapi import FastAPI, Request, Response
from starlette._utils import get_route_path
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.routing import BaseRoute, Match, Mount
from starlette.types import ASGIApp, Scope

from api import errors, observability
from api.limits import BodyLimit
from api.routes import (
    appeals,
    audit,
    auth,
    disputes,
    health,
    ledger,
    media,
    review,
    scoring,
    submissions,
    units,
)
from mvq import logs
from mvq.settings import get_settings
from web.app import create_app as create_web_app


def _security_headers() -> dict[str, str]:
    # Footage and frames load straight from S3 by presigned URL; nothing else leaves the site.
    s3 = urlsplit(get_settings().s3_endpoint_url)
    storage = f"{s3.scheme}://{s3.netloc}"
    return {
        "Content-Security-Policy": (
            f"default-src 'self'; img-src 'self' {storage}; media-src {storage}; "
            "script-src 'self'; style-src 'self'; object-src 'none'; base-uri 'none'; "
            "form-action 'self'; frame-ancestors 'none'"
        ),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
    }


class SecurityHeaders(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        if not request.url.path.startswith("/docs"):  # Swagger UI loads from a CDN
            response.headers.update(_security_headers())
        return response


class WebMount(Mount):
    """The web app at "/", after every API route: it takes the paths the API leaves. The API
    keeps everything under /api/ (an unknown one is a JSON 404) and every path one of its
    routes has for another method (a JSON 405), so its clients never get a page."""

    def __init__(self, app: ASGIApp, *, api: Sequence[BaseRoute]) -> None:
        super().__init__("/", app=app)
        self.api = api

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        path = get_route_path(scope)
        if (
            path == "/api"
            or path.startswith("/api/")
            or any(route.matches(scope)[0] is not Match.NONE for route in self.api)
        ):
            return Match.NONE, {}
        return super().matches(scope)


def create_app() -> FastAPI:
    logs.configure()
    app = FastAPI(
        title="mvq",
        version="0.1.0",
        description="Media-verification queue: upload, process, review, score.",
    )
    errors.install(app)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(BodyLimit, max_bytes=get_settings().max_request_body_bytes)
    app.add_middleware(observability.RequestContext)
    for module in (health, observability):
        app.include_router(module.router)
    for module in (auth, submissions, appeals, media, review, scoring, ledger, disputes, units,
                   audit):  # fmt: skip
        app.include_router(module.router, responses=errors.DOCUMENTED)
    app.router.routes.append(WebMount(create_web_app(), api=tuple(app.routes)))
    return app


app = create_app()
