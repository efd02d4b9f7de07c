"""Every error leaves as {"error": {"code", "message"}}, never as a stack trace."""

import logging
from typing import Any
from urllib.parse import urlencode

from botocore.exceptions import BotoCoreError, ClientError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from redis.exceptions import RedisError
from sqlalchemy.exc import DataError, OperationalError
from starlette.exceptions import HTTPException

from mvq.errors import DomainError, RateLimited

log = logging.getLogger(__name__)


def error_response(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message, **extra}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def _is_page(request: Request) -> bool:
    """A browser's page or form request, answered in HTML rather than JSON."""
    path = request.url.path
    return not path.startswith(("/api/", "/healthz", "/readyz", "/metrics", "/static/")) and (
        "text/html" in request.headers.get("accept", "")
        or request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded")
    )


def _page_error(request: Request, exc: DomainError) -> Response:
    from api.deps import LoginRequired
    from api.templating import render

    if isinstance(exc, LoginRequired):
        target = request.url.path if request.method == "GET" else "/review"
        return RedirectResponse(f"/login?{urlencode({'next': target})}", status_code=303)
    return render(request, "error.html", user=None, status=exc.status, code=exc.code,
                  error=exc.message, status_code=exc.status)  # fmt: skip


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> Response:
        if _is_page(request):
            return _page_error(request, exc)
        response = error_response(exc.status, exc.code, exc.message)
        if isinstance(exc, RateLimited):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
        return error_response(422, "validation_error", "the request is not valid", details=details)

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error_response(exc.status_code, code, str(exc.detail))

    @app.exception_handler(DataError)
    async def _bad_value(_: Request, exc: DataError) -> JSONResponse:
        # The database refused a value the schema let through (a NUL byte in a string, say).
        log.info("value refused by the database: %s", type(exc.orig).__name__)
        return error_response(422, "invalid_value", "a value in the request cannot be stored")

    @app.exception_handler(RedisError)
    @app.exception_handler(BotoCoreError)
    @app.exception_handler(OperationalError)
    async def _backend_down(_: Request, exc: Exception) -> JSONResponse:
        log.warning("backend unavailable: %s", type(exc).__name__)
        return error_response(503, "unavailable", "a backing service is unavailable; retry")

    @app.exception_handler(ClientError)
    async def _s3_error(_: Request, exc: ClientError) -> JSONResponse:
        log.error("storage error: %s", exc.response.get("Error", {}).get("Code"))
        return error_response(503, "storage_error", "storage refused the request; retry")

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return error_response(500, "internal", "internal error")
