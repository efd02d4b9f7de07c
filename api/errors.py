"""What every failure means to a client, and the API's rendering of it as JSON.

`problem` is the one translation from an exception to a status, code and message; the API
answers it as {"error": {"code", "message"}}, the web app (web.app) as an HTML page. Which of
the two answers is decided by routing: /api/ is always JSON and the pages always HTML; only the
few paths outside both (health, metrics, docs, unknown paths) look at Accept, so a person's
browser gets a page and a script gets JSON.
"""

import logging
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from redis.exceptions import RedisError
from sqlalchemy.exc import DataError, OperationalError
from starlette.exceptions import HTTPException

from mvq.errors import DomainError, RateLimited

log = logging.getLogger(__name__)

HANDLED = (
    DomainError,
    RequestValidationError,
    HTTPException,
    DataError,
    RedisError,
    BotoCoreError,
    OperationalError,
    ClientError,
    Exception,  # last resort: a stack trace never leaves the server
)


@dataclass(frozen=True)
class Problem:
    status: int
    code: str
    message: str
    details: list[dict[str, Any]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)


def problem(exc: Exception) -> Problem:
    match exc:
        case RateLimited():
            return Problem(exc.status, exc.code, exc.message,
                           headers={"Retry-After": str(exc.retry_after)})  # fmt: skip
        case DomainError():
            return Problem(exc.status, exc.code, exc.message)
        case RequestValidationError():
            details = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")}
                       for e in exc.errors()]  # fmt: skip
            # A well-formed field whose value is out of bounds (a date and time, say) is the
            # same answer as a value the database refuses.
            if exc.errors() and all(e.get("type") == "invalid_value" for e in exc.errors()):
                return Problem(422, "invalid_value", "a value in the request is out of bounds",
                               details=details)  # fmt: skip
            return Problem(422, "validation_error", "the request is not valid", details=details)
        case HTTPException():
            code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
            return Problem(exc.status_code, code, str(exc.detail), headers=dict(exc.headers or {}))
        case DataError():
            # The database refused a value the schema let through (a NUL byte in a string, say).
            log.info("value refused by the database: %s", type(exc.orig).__name__)
            return Problem(422, "invalid_value", "a value in the request cannot be stored")
        case RedisError() | BotoCoreError() | OperationalError():
            log.warning("backend unavailable: %s", type(exc).__name__)
            return Problem(503, "unavailable", "a backing service is unavailable; retry")
        case ClientError():
            log.error("storage error: %s", exc.response.get("Error", {}).get("Code"))
            return Problem(503, "storage_error", "storage refused the request; retry")
    log.exception("unhandled error", exc_info=exc)
    return Problem(500, "internal", "internal error")


class ErrorBody(BaseModel):
    code: str
    message: str
    details: list[dict[str, Any]] | None = None


class ErrorOut(BaseModel):
    error: ErrorBody


# Every JSON route may answer these, all in one shape; documented in OpenAPI so clients (and
# the Schemathesis check) know them. 422 replaces FastAPI's own validation schema, which this
# API never sends.
DOCUMENTED: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": text}
    for status, text in [
        (400, "the body cannot be parsed"),
        (401, "no valid token"),
        (403, "the caller may not do this"),
        (404, "no such object, or not the caller's to see"),
        (409, "conflicts with the object's state or an earlier request"),
        (413, "the request body is too large"),
        (422, "the request is not valid"),
        (429, "too many requests; see Retry-After"),
        (503, "a backing service is unavailable; retry"),
    ]
}


def error_response(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message, **extra}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": body}, status_code=status, headers=headers)


async def _json(_: Request, exc: Exception) -> JSONResponse:
    found = problem(exc)
    extra = {"details": found.details} if found.details else {}
    response = error_response(found.status, found.code, found.message, **extra)
    response.headers.update(found.headers)
    return response


def install(app: FastAPI) -> None:
    for kind in HANDLED:
        app.add_exception_handler(kind, _json)
