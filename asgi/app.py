"""The whole HTTP edge in one FastAPI app: middleware, error answers, the API's routers, and the
pages mounted beside them."""

from collections.abc import Awaitable, Callable, Sequence
from typing import cast
from urllib.parse import urlsplit

from fastapi import FastAPI, Request, Response
from starlette._utils import get_route_path
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.routing import BaseRoute, Match, Mount
from starlette.types import ASGIApp, Scope

from api import observability
from api.limits import BodyLimit
from api.routes import (
    appeals,
    audit,
    auth,
    disputes,
    docs,
    health,
    ledger,
    media,
    qa,
    receipts,
    review,
    scoring,
    submissions,
    units,
    webhooks,
)
from edge import errors, i18n
from edge.negotiation import prefers_html
from mvq import logs
from mvq.settings import get_settings
from web.app import create_app as create_web_app
from web.app import error_page


def _security_headers() -> dict[str, str]:
    # Footage and frames load straight from S3 by presigned URL; nothing else leaves the site.
    s3 = urlsplit(get_settings().s3_endpoint_url)
    storage = f"{s3.scheme}://{s3.netloc}"
    # The item page's map loads tiles from the configured source, and from nowhere else.
    tiles = urlsplit(get_settings().map_tile_url or "")
    images = f"{storage} {tiles.scheme}://{tiles.netloc}" if tiles.netloc else storage
    return {
        # connect-src: the upload page PUTs the parts straight to S3 by presigned URL.
        # 'wasm-unsafe-eval': its SHA-256 (vendored hash-wasm) compiles WebAssembly from the
        # site's own script; it allows compiling WebAssembly only, not eval() of JavaScript.
        "Content-Security-Policy": (
            f"default-src 'self'; img-src 'self' {images}; media-src {storage}; "
            f"connect-src 'self' {storage}; "
            "script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; object-src 'none'; "
            "base-uri 'none'; "
            "form-action 'self'; frame-ancestors 'none'"
        ),
        "X-Content-Type-Options": "nosniff",
        # Never to another origin (storage, tiles, links out); to this site only, so a form
        # posted after the session ended leads back to its page after the sign-in (web.app).
        "Referrer-Policy": "same-origin",
        "X-Frame-Options": "DENY",
    }


class SecurityHeaders(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        # Every answer, /docs too (Swagger UI is vendored: api/routes/docs.py).
        response.headers.update(_security_headers())
        return response


class WebMount(Mount):
    """The web app at "/", after every API route: it takes the paths the API leaves. The API
    keeps everything under /api/ (an unknown one is a JSON 404) and every path one of its
    routes has for another method (a 405: JSON, or the error page for a browser outside /api/,
    see _page_for_browsers), so its clients never get a page."""

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


def _is_api_path(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


Handler = Callable[[Request, Exception], Awaitable[Response]]


def _page_for_browsers(json_handler: Handler) -> Handler:
    """The few API routes outside /api/ (health, metrics, docs) and their wrong methods answer
    a browser with the error page. Everything under /api/ stays JSON whoever asks, so a client
    never has to parse a page."""

    async def handle(request: Request, exc: Exception) -> Response:
        path = get_route_path(request.scope)
        if _is_api_path(path) or not prefers_html(request.headers.get("accept")):
            response = await json_handler(request, exc)
        else:
            # Outside the web app's language middleware: choose the language as it would.
            language = i18n.choose(
                query=request.query_params.get(i18n.QUERY),
                cookie=request.cookies.get(i18n.COOKIE),
                accept_language=request.headers.get("accept-language"),
                default=i18n.default_language(),
            )
            with i18n.using(language):
                response = await error_page(request, exc)
            response.headers.append("Vary", "Accept-Language, Cookie")
        if not _is_api_path(path):
            response.headers.append("Vary", "Accept")  # the answer depends on it here
        return response

    return handle


def create_app() -> FastAPI:
    logs.configure()
    app = FastAPI(
        title="mvq",
        version="0.1.0",
        description="Media-verification queue: upload, process, review, score.",
        docs_url=None,  # api/routes/docs.py serves it under the site's CSP
        redoc_url=None,
    )
    errors.install(app)
    for kind in errors.HANDLED:  # each wraps the JSON handler errors.install just set
        app.add_exception_handler(
            kind, _page_for_browsers(cast(Handler, app.exception_handlers[kind]))
        )
    app.add_middleware(SecurityHeaders)
    app.add_middleware(BodyLimit, max_bytes=get_settings().max_request_body_bytes)
    app.add_middleware(observability.RequestContext)
    for module in (health, observability, docs):
        app.include_router(module.router)
    for module in (auth, submissions, appeals, media, review, qa, scoring, ledger, receipts,
                   disputes, units, audit, webhooks):  # fmt: skip
        app.include_router(module.router, responses=errors.DOCUMENTED)
    app.router.routes.append(WebMount(create_web_app(), api=tuple(app.routes)))
    return app


app = create_app()
