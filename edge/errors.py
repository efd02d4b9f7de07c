"""What every failure means to a client, and the API's rendering of it as JSON.

`problem` is the one translation from an exception to a status, code and message; the API
answers it as {"error": {"code", "message"}}, the web app (web.app) as an HTML page. Which of
the two answers is decided by routing: /api/ is always JSON and the pages always HTML; only the
few paths outside both (health, metrics, docs, unknown paths) look at Accept, so a person's
browser gets a page and a script gets JSON.

The `code` is the contract and never changes with the language; the `message` is for people.
It follows the request's Accept-Language (`uk` or `en`; English for a client that sends none,
whatever the pages' default), and a web page's message follows the page's language. English
is the domain's own message, which may name specifics (a limit, a value); another language
has MESSAGES' text for the code, with named placeholders filled from the failure, or the
English message when the code has none there.
"""

import logging
from dataclasses import dataclass, field
from typing import Any

from babel.numbers import format_decimal
from botocore.exceptions import BotoCoreError, ClientError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from redis.exceptions import RedisError
from sqlalchemy.exc import DataError, OperationalError
from starlette.exceptions import HTTPException

from edge import i18n
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
    # What a translated message may name: {"seconds": 30} for a rate limit.
    params: dict[str, Any] = field(default_factory=dict)


def N_(message: str) -> str:
    """Marks a string for the catalogue (`make messages`) without translating it yet."""
    return message


# The messages people meet, by code, for languages other than English (see the module's
# docstring). The msgids are English, like every string in the catalogue.
MESSAGES: dict[str, str] = {
    # Signing in
    "missing_token": N_("Sign in first: the request carries no token."),
    "bad_token": N_("The token is unknown, revoked or its account is disabled."),
    "token_expired": N_("The token has expired: get a new one."),
    "unauthenticated": N_("Sign in first."),
    "login_required": N_("Your session has ended: sign in again."),
    "session_ended": N_("Your session has ended: sign in again."),
    "bad_credentials": N_("Wrong e-mail or password."),
    "otp_required": N_("This account needs a second factor: enter the code from your app."),
    "bad_otp": N_("Wrong or already used code: wait for the next one and try again."),
    "forbidden": N_("You may not do this."),
    "csrf": N_("The form has expired: reload the page and try again."),
    # Not found, wrong method, bad input
    "not_found": N_("Nothing here: the address is wrong, or it is not yours to see."),
    "method_not_allowed": N_("This address does not take this kind of request."),
    "validation_error": N_("The request is not valid: check the fields named below."),
    "invalid_value": N_("A value in the request is out of bounds or cannot be stored."),
    "invalid": N_("The request is not valid."),
    "bad_request": N_("The request cannot be read."),
    "http_error": N_("The request cannot be served."),
    "body_too_large": N_("The request is too large."),
    # Limits and outages
    "rate_limited": N_("Too many attempts: try again in %(seconds)s s."),
    "unavailable": N_("A service we depend on is unavailable: try again in a minute."),
    "storage_error": N_("The file store refused the request: try again in a minute."),
    "internal": N_("Something went wrong on our side. It has been logged."),
    # Receipts
    "receipt_not_ready": N_(
        "This entry is not in a witnessed checkpoint yet: ask again after the next sweep."
    ),
    # Claims
    "unknown_target_type": N_("No points rule knows this target type."),
    "bad_outcome": N_("The outcome must be destroyed or damaged."),
    "occurred_in_future": N_("The time of the hit is in the future."),
    "occurred_too_old": N_("The hit is more than a year old: it can no longer be claimed."),
    "bad_position": N_("Give both latitude and longitude, or neither."),
    "idempotency_mismatch": N_("This Idempotency-Key was used for a different request."),
    "claim_moved": N_("The claim changed meanwhile: try again."),
    # Uploads
    "unsupported_content_type": N_("Only video and photo files are accepted."),
    "bad_size": N_("The file is empty or larger than allowed."),
    "bad_sha256": N_("The file's SHA-256 must be 64 hexadecimal digits."),
    "size_conflict": N_("This file was registered with another size."),
    "too_many_files": N_("This claim has as many files as a claim may have."),
    "claim_too_large": N_("This claim's files together would be larger than allowed."),
    "bad_state": N_("Files can be added only before checking starts, or to an appeal."),
    "parts_missing": N_("Some parts of the file have not arrived yet: send them, then finish."),
    "etag_mismatch": N_("A part of the file differs from what was stored: send it again."),
    "not_uploaded": N_("Nothing has been uploaded for this file yet."),
    "media_moved": N_("The file changed meanwhile: try again."),
    "illegal_transition": N_("The file is in a state that does not allow this."),
    "media_altered": N_("The stored file no longer matches its hash from the upload."),
    # Review
    "not_claimable": N_(
        "This item can't be taken: someone else holds it, it has been decided, "
        "or it is not yours to judge."
    ),
    "stale_lease": N_(
        "You no longer hold this item (your time ran out or it was released), "
        "so nothing was saved. Take it again to continue."
    ),
    "bad_decision": N_("The decision must be approve, reject or escalate."),
    "bad_reason_code": N_("A rejection needs a reason from the list."),
    "undo_expired": N_("Too late to undo: that decision is final now."),
    "undo_moved": N_("That decision can't be undone: someone else has taken the item up."),
    "undo_disputed": N_(
        "A claim in a dispute can't be undone: ask a senior reviewer to overturn it."
    ),
    "not_decided": N_("Only a final decision can be overturned."),
    "nothing_to_overturn": N_("The claim already has that outcome."),
    # Quality checks
    "golden_not_decided": N_("Only a decided claim can be a golden item."),
    "not_disputed": N_("This re-review has no disagreement to rule on."),
    "own_rereview": N_("The ruling is for a senior who judged neither look."),
    # Appeals
    "appeal_exists": N_("This claim has been appealed already."),
    "not_rejected": N_("Only a rejected claim can be appealed."),
    "appeal_window_closed": N_("The time to appeal this claim has passed."),
    "bad_reason": N_("Write why the decision is wrong (up to 4000 characters)."),
    "appeal_decided": N_("This appeal has been decided already."),
    "not_eligible": N_("You may not decide this appeal: you took part in the claim's review."),
    # Points, rules and disputes
    "no_rules": N_("No rules version covers the time of the hit."),
    "no_rule": N_("No points rule prices this target and outcome."),
    "insufficient_points": N_("The unit does not have that many points."),
    "bad_points": N_("The number of points must be positive."),
    "bad_page": N_("There is no such page of claims: start again from the newest."),
    "dispute_settled": N_("This dispute has been settled already."),
    "reason_required": N_("Write the reason in the note when taking points back."),
    "bad_reversal": N_("Only a claim that was paid can have its points taken back."),
    "bad_shares": N_("A share can go only to an approved claim that has not been paid yet."),
    "nothing_approved": N_("Settle once at least one claim is approved."),
    "over_worth": N_("The shares add up to more than the target is worth."),
    "rules_in_past": N_("A rules version cannot start in the past."),
    "rules_exist": N_("A version already starts at this moment: choose another."),
    "rules_withdrawn": N_("This version has been withdrawn already."),
    "rules_in_force": N_(
        "This version is in force, or takes effect within minutes: save a new version instead."
    ),
}


# Pydantic's own words for a field it refuses are English: its error `type` is stable (it is
# the contract, https://docs.pydantic.dev/latest/errors/validation_errors/) and its `ctx`
# names the bound, so another language gets these, filled from the ctx. A type not listed
# keeps Pydantic's English, which still names the field by its `loc`.
DETAIL_MESSAGES = {
    "missing": N_("This field is required."),
    "extra_forbidden": N_("This field is not known here."),
    "string_type": N_("Write text here."),
    "string_too_short": N_("Write at least %(min_length)s characters."),
    "string_too_long": N_("Write at most %(max_length)s characters."),
    "string_pattern_mismatch": N_("This value is not in the expected form."),
    "too_short": N_("Give at least %(min_length)s items."),
    "too_long": N_("Give at most %(max_length)s items."),
    "int_parsing": N_("Write a whole number."),
    "int_type": N_("Write a whole number."),
    "int_from_float": N_("Write a whole number."),
    "float_parsing": N_("Write a number."),
    "float_type": N_("Write a number."),
    "bool_parsing": N_("Write true or false."),
    "bool_type": N_("Write true or false."),
    "greater_than": N_("Give a number greater than %(gt)s."),
    "greater_than_equal": N_("Give a number of at least %(ge)s."),
    "less_than": N_("Give a number less than %(lt)s."),
    "less_than_equal": N_("Give a number of at most %(le)s."),
    "finite_number": N_("Give a finite number."),
    "literal_error": N_("Choose one of: %(expected)s."),
    "enum": N_("Choose one of: %(expected)s."),
    "uuid_parsing": N_("This is not a valid id."),
    "uuid_type": N_("This is not a valid id."),
    "datetime_parsing": N_("Write a date and time (ISO 8601, with its time zone)."),
    "datetime_from_date_parsing": N_("Write a date and time (ISO 8601, with its time zone)."),
    "datetime_type": N_("Write a date and time (ISO 8601, with its time zone)."),
    "timezone_aware": N_("Give the time zone with the time (for example +02:00 or Z)."),
    "date_parsing": N_("Write a date (YYYY-MM-DD)."),
    "date_from_datetime_parsing": N_("Write a date (YYYY-MM-DD)."),
    "url_parsing": N_("Write a full address (https://...)."),
    "url_scheme": N_("Write an address that starts with %(expected_schemes)s."),
    "json_invalid": N_("The body is not valid JSON."),
    "model_type": N_("Send an object here."),
    "model_attributes_type": N_("Send an object here."),
    "dict_type": N_("Send an object here."),
    "list_type": N_("Send a list here."),
    "invalid_value": N_("This value is out of bounds."),
}


def detail_in(detail: dict[str, Any], language: str) -> dict[str, Any]:
    """One refused field's entry for a reader of `language`: `loc` and `type` as they are,
    `msg` in the reader's words where DETAIL_MESSAGES has them."""
    template = DETAIL_MESSAGES.get(detail.get("type", ""))
    if language == i18n.SOURCE or template is None:
        return detail
    with i18n.using(language):
        text = i18n.gettext(template)
    # A bound in the reader's way of writing numbers (90, not 90.0; 0,5, not 0.5).
    ctx = {k: format_decimal(v, locale=language) if isinstance(v, int | float) else v
           for k, v in detail.get("ctx", {}).items()}  # fmt: skip
    try:
        return {**detail, "msg": text % ctx if "%(" in text else text}
    except (KeyError, TypeError, ValueError):  # a bound the ctx lacks: Pydantic's words
        return detail


def message_in(found: Problem, language: str) -> str:
    """`found`'s message for a reader of `language` (see the module's docstring)."""
    template = MESSAGES.get(found.code)
    if language == i18n.SOURCE or template is None:
        return found.message
    with i18n.using(language):
        text = i18n.gettext(template)
    try:
        return text % found.params if found.params else text
    except (KeyError, TypeError, ValueError):  # a translation naming what this failure lacks
        return found.message


def localised(exc: Exception) -> str:
    """A failure's message in the current page's language: for route code that shows a
    refusal on its page (a login, a dispute that will not settle)."""
    return message_in(problem(exc), i18n.lang())


def api_language(request: Request) -> str:
    """The language of a JSON error: the client's Accept-Language, else English (a script
    that asks for nothing gets what it always got)."""
    return i18n.from_accept_language(request.headers.get("accept-language")) or i18n.SOURCE


def problem(exc: Exception) -> Problem:
    match exc:
        case RateLimited():
            return Problem(exc.status, exc.code, exc.message,
                           headers={"Retry-After": str(exc.retry_after)},
                           params={"seconds": exc.retry_after})  # fmt: skip
        case DomainError():
            return Problem(exc.status, exc.code, exc.message)
        case RequestValidationError():
            details = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""),
                        "type": e.get("type", ""), **_bounds(e)} for e in exc.errors()]  # fmt: skip
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


def _bounds(error: Any) -> dict[str, Any]:
    """The bounds a refused field was held to (`max_length`, `ge`, `expected`...), as plain
    text or numbers; never the value sent, which may be large or somebody's secret."""
    ctx = {k: v for k, v in (error.get("ctx") or {}).items()
           if isinstance(v, int | float | str) and k != "error"}  # fmt: skip
    return {"ctx": ctx} if ctx else {}


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


async def _json(request: Request, exc: Exception) -> JSONResponse:
    found = problem(exc)
    language = api_language(request)
    details = [detail_in(d, language) for d in found.details]
    extra = {"details": details} if details else {}
    message = message_in(found, language)
    response = error_response(found.status, found.code, message, **extra)
    response.headers.update(found.headers)
    response.headers.add_vary_header("Accept-Language")
    return response


def install(app: FastAPI) -> None:
    for kind in HANDLED:
        app.add_exception_handler(kind, _json)
