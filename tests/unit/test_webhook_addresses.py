"""The SSRF check of webhook endpoints: which addresses are refused, and how URLs are judged
(resolution is monkeypatched, so no DNS is asked)."""

import ipaddress
import socket

import pytest

from mvq.webhooks import addresses
from mvq.webhooks.addresses import NotAllowed

REFUSED = [
    "127.0.0.1", "127.8.9.10", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
    "100.64.0.1", "0.0.0.0",  # noqa: S104
    "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255",
    "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "fec0::1", "ff02::1",
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "64:ff9b::a9fe:a9fe",
    "2002:7f00:1::1", "2001:db8::1",
]  # fmt: skip
ALLOWED = ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"]


@pytest.mark.parametrize("address", REFUSED)
def test_internal_addresses_are_refused(address: str) -> None:
    assert addresses.is_forbidden(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_are_allowed(address: str) -> None:
    assert not addresses.is_forbidden(ipaddress.ip_address(address))


def resolving_to(monkeypatch: pytest.MonkeyPatch, *ips: str) -> list[str]:
    asked: list[str] = []

    def fake(host: str, port: int, **_: object) -> list[tuple[object, ...]]:
        asked.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port)) for ip in ips]

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return asked


def test_a_name_with_any_internal_address_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    resolving_to(monkeypatch, "8.8.8.8", "10.0.0.7")
    with pytest.raises(NotAllowed, match=r"10\.0\.0\.7") as refused:
        addresses.check("https://hooks.example/in", allow_private_network=False, https_only=True)
    assert refused.value.code == "endpoint_not_allowed" and refused.value.status == 422


def test_a_public_name_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    asked = resolving_to(monkeypatch, "8.8.8.8")
    addresses.check("https://hooks.example/in", allow_private_network=False, https_only=True)
    assert asked == ["hooks.example"]


def test_the_admins_allowance_skips_the_address_check(monkeypatch: pytest.MonkeyPatch) -> None:
    asked = resolving_to(monkeypatch, "127.0.0.1")
    addresses.check("http://127.0.0.1:9000/in", allow_private_network=True, https_only=False)
    assert asked == []
    with pytest.raises(NotAllowed, match="not a public address"):
        addresses.check("http://127.0.0.1:9000/in", allow_private_network=False, https_only=False)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://hooks.example/in", "must use https"),
        ("ftp://hooks.example/in", "must use https"),
        ("https:///in", "no host"),
        ("https://user:pw@hooks.example/in", "user name or password"),
        ("https://hooks.example/in#x", "fragment"),
        ("https://hooks.example:99999/in", "not a URL"),
    ],
)
def test_malformed_or_plain_http_urls_are_refused_in_production(url: str, why: str) -> None:
    with pytest.raises(NotAllowed, match=why):
        addresses.check(url, allow_private_network=True, https_only=True)


def test_plain_http_is_allowed_outside_production(monkeypatch: pytest.MonkeyPatch) -> None:
    resolving_to(monkeypatch, "8.8.8.8")
    addresses.check("http://hooks.example/in", allow_private_network=False, https_only=False)
