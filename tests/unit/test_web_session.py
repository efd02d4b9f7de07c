"""The session cookie and CSRF tokens: only what this server signed is accepted."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from edge import web_session
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


def flip_middle(text: str) -> str:
    """`text` with its middle character swapped for another base64url character."""
    middle = len(text) // 2
    return text[:middle] + ("A" if text[middle] != "A" else "Q") + text[middle + 1 :]


def test_a_signed_cookie_gives_back_its_token_and_nothing_else_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    value = cookie_for("mvqw_abc")
    assert web_session.token_from_cookie(value) == "mvqw_abc"
    payload, timestamp, signature = value.split(".")
    # Tamper in the middle: a base64url string's LAST character may carry unused bits (a
    # 20-byte signature is 27 characters, 162 bits), so changing it can leave the decoded bytes,
    # and the signature, intact; a middle character's six bits all count.
    forged_signature = f"{payload}.{timestamp}.{flip_middle(signature)}"
    forged_payload = f"{flip_middle(payload)}.{timestamp}.{signature}"
    assert web_session.token_from_cookie(forged_signature) is None
    assert web_session.token_from_cookie(forged_payload) is None
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
