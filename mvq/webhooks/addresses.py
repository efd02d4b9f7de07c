"""Where deliveries may go: not into our own network (SSRF) unless an admin said so.

A URL's host is resolved and every address it resolves to must be public; the same check runs
again before each delivery, since DNS may have changed since registration. A delivery then
connects to one of the addresses that check saw (`deliverable`), never to what the name
answers a moment later: a name that answers a public address to the check and 127.0.0.1 to
the connect (DNS rebinding) gets nowhere. IPv4 addresses
hidden inside IPv6 ones (IPv4-mapped, NAT64, 6to4, Teredo) are judged as the IPv4 they carry.
"""

import ipaddress
import socket
from urllib.parse import SplitResult, urlsplit

from mvq.errors import Invalid

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
NAT64 = ipaddress.ip_network("64:ff9b::/96")
MAX_URL = 2000


class NotAllowed(Invalid):
    code = "endpoint_not_allowed"


def _tunnelled_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]  # the client's address
    return None


def is_forbidden(ip: IPAddress) -> bool:
    """Loopback, link-local, private, shared (CGNAT), reserved, multicast, unspecified."""
    if isinstance(ip, ipaddress.IPv6Address):
        # An IPv4-mapped or NAT64 address is that IPv4 address, nothing else.
        if ip.ipv4_mapped is not None:
            return is_forbidden(ip.ipv4_mapped)
        if ip in NAT64:
            return is_forbidden(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        tunnelled = _tunnelled_ipv4(ip)
        if ip.is_site_local or (tunnelled is not None and is_forbidden(tunnelled)):
            return True
    return (
        ip.is_loopback
        or ip.is_link_local
        or ip.is_private
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
        or not ip.is_global
    )


def parse(url: str, *, https_only: bool) -> SplitResult:
    """The URL's parts, or Invalid: http(s) with a host, no credentials, no fragment."""
    if len(url) > MAX_URL:
        raise NotAllowed(f"the URL is longer than {MAX_URL} characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError as exc:
        raise NotAllowed(f"not a URL: {exc}") from None
    allowed = {"https"} if https_only else {"https", "http"}
    if parts.scheme not in allowed:
        raise NotAllowed(f"the URL must use {' or '.join(sorted(allowed))}")
    if not parts.hostname:
        raise NotAllowed("the URL has no host")
    # Credentials in a URL end up in logs and in the audit log; a receiver checks signatures.
    if parts.username or parts.password:
        raise NotAllowed("the URL may not carry a user name or password")
    if parts.fragment:
        raise NotAllowed("the URL may not carry a fragment")
    return parts


def resolve(parts: SplitResult) -> list[IPAddress]:
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise NotAllowed(f"the host {host} does not resolve: {exc}") from None
    # getaddrinfo gives "fe80::1%eth0" for scoped addresses: the scope is not part of the IP.
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in found]


def _refuse_internal(parts: SplitResult, ips: list[IPAddress]) -> None:
    for ip in ips:
        if is_forbidden(ip):
            raise NotAllowed(
                f"{parts.hostname} resolves to {ip}, which is not a public address; an admin "
                "may allow private networks for this endpoint"
            )


def check(url: str, *, allow_private_network: bool, https_only: bool) -> None:
    """Raises NotAllowed unless deliveries to `url` may be sent now."""
    parts = parse(url, https_only=https_only)
    if allow_private_network:
        return
    _refuse_internal(parts, resolve(parts))


def deliverable(url: str, *, allow_private_network: bool, https_only: bool) -> list[IPAddress]:
    """The addresses a delivery to `url` may connect to now, resolved once: every one of them
    public unless an admin allowed private networks, else NotAllowed. Connect to these, not to
    the name, so what was checked is what is reached."""
    parts = parse(url, https_only=https_only)
    ips = resolve(parts)
    if not allow_private_network:
        _refuse_internal(parts, ips)
    if not ips:
        raise NotAllowed(f"the host {parts.hostname} has no address")
    return list(dict.fromkeys(ips))  # in the resolver's order, each once
