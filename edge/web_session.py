"""The web login's cookie and CSRF tokens.

The cookie carries a random session token, signed (itsdangerous) so a forged or stale cookie is
turned away before any database work; the token itself is stored only as SHA-256 and can be
revoked at logout. The CSRF token is an HMAC of the session token: every form and every
script request must send it back, which a page on another origin cannot do.
"""

import hashlib
import hmac

from fastapi import Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from mvq.settings import get_settings

COOKIE = "mvq_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(get_settings().secret("secret_key"), salt="mvq-web-session")


def max_age_seconds() -> int:
    return int(get_settings().session_hours * 3600)


def set_cookie(response: Response, token: str) -> None:
    response.set_cookie(
        COOKIE,
        _serializer().dumps(token),
        max_age=max_age_seconds(),
        httponly=True,
        samesite="lax",
        secure=get_settings().env == "production",
        path="/",
    )


def clear_cookie(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/")


def token_from_cookie(value: str | None) -> str | None:
    if not value:
        return None
    try:
        token = _serializer().loads(value, max_age=max_age_seconds())
    except BadSignature:  # also covers SignatureExpired
        return None
    return token if isinstance(token, str) else None


def csrf_for(session_token: str) -> str:
    key = get_settings().secret("secret_key").encode()
    return hmac.new(key, b"csrf:" + session_token.encode(), hashlib.sha256).hexdigest()


def csrf_ok(session_token: str, submitted: str | None) -> bool:
    return bool(submitted) and hmac.compare_digest(csrf_for(session_token), str(submitted))
