"""The session cookie and CSRF tokens: only what this server signed is accepted."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from api import web_session
from mvq.settings import get_settings


@pytest.fixture(autouse=True)
def _secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("MVQ_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MVQ_SECRET_KEY", "first-key")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def cookie_for(token: str) -> str:
    from fastapi import Response

    response = Response()
    web_session.set_cookie(response, token)
    header = response.headers["set-cookie"]
    assert "HttpOnly" in header and "SameSite=lax" in header
    return header.split(";", 1)[0].split("=", 1)[1]


def test_a_signed_cookie_gives_back_its_token_and_nothing_else_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    value = cookie_for("mvqw_abc")
    assert web_session.token_from_cookie(value) == "mvqw_abc"
    assert web_session.token_from_cookie(value[:-1] + ("A" if value[-1] != "A" else "B")) is None
    assert web_session.token_from_cookie("mvqw_abc") is None
    assert web_session.token_from_cookie(None) is None
    monkeypatch.setenv("MVQ_SECRET_KEY", "rotated-key")
    get_settings.cache_clear()
    assert web_session.token_from_cookie(value) is None  # a new key ends every session


def test_csrf_tokens_are_bound_to_their_session() -> None:
    mine, theirs = web_session.csrf_for("session-a"), web_session.csrf_for("session-b")
    assert mine != theirs
    assert web_session.csrf_ok("session-a", mine)
    assert not web_session.csrf_ok("session-a", theirs)
    assert not web_session.csrf_ok("session-a", "")
    assert not web_session.csrf_ok("session-a", None)
