"""The pages' Content-Security-Policy: images from the site and storage, and map tiles only
from the source an operator configured."""

import pytest

from asgi.app import _security_headers
from mvq.settings import get_settings


@pytest.fixture(autouse=True)
def fresh_settings() -> object:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def image_sources() -> list[str]:
    policy = _security_headers()["Content-Security-Policy"]
    (images,) = [d for d in policy.split(";") if d.strip().startswith("img-src")]
    return images.split()[1:]


def test_no_tile_source_means_no_third_party_images(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MVQ_S3_ENDPOINT_URL", "http://127.0.0.1:8333")
    monkeypatch.delenv("MVQ_MAP_TILE_URL", raising=False)
    assert image_sources() == ["'self'", "http://127.0.0.1:8333"]


def test_a_configured_tile_source_is_the_one_other_image_host(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MVQ_S3_ENDPOINT_URL", "http://127.0.0.1:8333")
    monkeypatch.setenv("MVQ_MAP_TILE_URL", "https://tiles.example.org/{z}/{x}/{y}.png")
    assert image_sources() == ["'self'", "http://127.0.0.1:8333", "https://tiles.example.org"]


def test_the_offline_map_asks_nothing_of_another_origin(monkeypatch: pytest.MonkeyPatch) -> None:
    # Its outline is fetched from the site itself; only the upload's parts go to storage.
    monkeypatch.setenv("MVQ_S3_ENDPOINT_URL", "http://127.0.0.1:8333")
    monkeypatch.delenv("MVQ_MAP_TILE_URL", raising=False)
    policy = _security_headers()["Content-Security-Policy"]
    (connect,) = [d for d in policy.split(";") if d.strip().startswith("connect-src")]
    assert connect.split()[1:] == ["'self'", "http://127.0.0.1:8333"]
