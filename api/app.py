from pathlib import Path
from urllib.parse import urlsplit

from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from api import errors, observability
from api.limits import BodyLimit
from api.routes import (
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
    web_audit,
    web_auth,
    web_review,
    web_scoring,
)
from mvq import logs
from mvq.settings import get_settings


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
    api_routes = (health, auth, submissions, media, review, scoring, ledger, disputes, units, audit)
    for module in (*api_routes, observability, web_auth, web_review, web_scoring, web_audit):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    return app


app = create_app()
