"""One delivery try, without a database: it connects to the very address whose check passed
(a name that answers a public address to the check and loopback afterwards gets nowhere), sends
the endpoint's own Host and, over TLS, its SNI and certificate check; and a receiver that
dribbles its answer is cut off at the try's deadline. Names are resolved by a fake resolver."""

import datetime
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from datetime import UTC
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mvq.webhooks import delivery, secrets, service
from mvq.webhooks.delivery import Claimed

PUBLIC = "93.184.215.14"
NOW = datetime.datetime(2025, 1, 1, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _plain_http_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "https_only", lambda: False)


def claimed(url: str, *, allow_private_network: bool = False) -> Claimed:
    return Claimed(delivery_id="d1", endpoint_id="e1", version=1, failures=0, url=url,
                   allow_private_network=allow_private_network, event_id="msg_1",
                   body='{"type":"x"}', secrets=[secrets.new_secret()])  # fmt: skip


class Resolver:
    """Answers for the names it knows, each call taking the next answer (the last repeats);
    addresses go to the real resolver, which does not ask DNS for them."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, answers: dict[str, list[list[str]]]):
        self.answers = answers
        self.asked: list[str] = []
        self._real = socket.getaddrinfo
        monkeypatch.setattr(socket, "getaddrinfo", self)

    def __call__(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        name = host.decode() if isinstance(host, bytes) else host
        if name not in self.answers:
            return self._real(host, port, *args, **kwargs)
        self.asked.append(name)
        turns = self.answers[name]
        ips = turns[0] if len(turns) == 1 else turns.pop(0)
        return [
            (socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_STREAM, 6, "",
             (ip, int(port or 0)))
            for ip in ips
        ]  # fmt: skip


def test_the_connection_goes_to_the_address_that_was_checked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """DNS rebinding: public to the check, loopback to whoever asks next. The socket is asked
    for as httpcore asks for it, resolving its host as the real one would."""
    resolver = Resolver(monkeypatch, {"hooks.example": [[PUBLIC], ["127.0.0.1"]]})
    connected: list[str] = []

    def create_connection(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        host, port = address
        connected.append(str(socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0][4][0]))
        raise ConnectionRefusedError("no network in unit tests")

    monkeypatch.setattr(socket, "create_connection", create_connection)
    outcome = delivery.send(claimed("http://hooks.example/in"), now=NOW)
    assert connected == [PUBLIC]
    assert resolver.asked == ["hooks.example"]
    assert not outcome.delivered and outcome.error and outcome.error.startswith("ConnectError")


def recording(monkeypatch: pytest.MonkeyPatch, answer: Any = 204) -> list[httpx.Request]:
    """Requests go to an httpx MockTransport that records them and answers `answer` (a status,
    or a function of the request)."""
    made: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        made.append(request)
        return answer(request) if callable(answer) else httpx.Response(answer)

    monkeypatch.setattr(delivery, "transport", lambda deadline: httpx.MockTransport(handle))
    return made


@pytest.mark.parametrize(
    ("url", "ip", "sent_to", "host", "sni"),
    [
        ("https://hooks.example/in?x=1", PUBLIC, f"https://{PUBLIC}/in?x=1", "hooks.example",
         "hooks.example"),
        ("https://hooks.example:8443/in", "2606:4700:4700::1111",
         "https://[2606:4700:4700::1111]:8443/in", "hooks.example:8443", "hooks.example"),
        ("http://hooks.example/in", PUBLIC, f"http://{PUBLIC}/in", "hooks.example", None),
        (f"https://{PUBLIC}/in", PUBLIC, f"https://{PUBLIC}/in", PUBLIC, None),
    ],
)  # fmt: skip
def test_the_request_names_the_endpoints_host(
    monkeypatch: pytest.MonkeyPatch, url: str, ip: str, sent_to: str, host: str, sni: str | None
) -> None:
    Resolver(monkeypatch, {"hooks.example": [[ip], ["127.0.0.1"]]})
    made = recording(monkeypatch)
    assert delivery.send(claimed(url), now=NOW).delivered
    (request,) = made
    assert str(request.url) == sent_to
    assert request.headers["host"] == host
    assert request.extensions.get("sni_hostname") == sni
    assert request.headers["webhook-id"] == "msg_1"


@pytest.mark.parametrize("ips", [[PUBLIC, "10.0.0.7"], ["127.0.0.1"], ["::ffff:169.254.169.254"]])
def test_a_name_with_any_private_address_is_refused_unconnected(
    monkeypatch: pytest.MonkeyPatch, ips: list[str]
) -> None:
    Resolver(monkeypatch, {"hooks.example": [ips]})
    made = recording(monkeypatch)
    outcome = delivery.send(claimed("https://hooks.example/in"), now=NOW)
    assert made == []
    assert outcome.status_code is None
    assert outcome.error and outcome.error.startswith("endpoint_not_allowed:")
    assert "not a public address" in outcome.error


def test_an_admins_allowance_reaches_a_private_address(monkeypatch: pytest.MonkeyPatch) -> None:
    Resolver(monkeypatch, {"hooks.internal": [["10.0.0.7"]]})
    made = recording(monkeypatch)
    url = "http://hooks.internal:8080/in"
    assert delivery.send(claimed(url, allow_private_network=True), now=NOW).delivered
    assert [str(r.url) for r in made] == ["http://10.0.0.7:8080/in"]


def test_the_next_checked_address_is_tried_when_one_refuses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    Resolver(monkeypatch, {"hooks.example": [[PUBLIC, "8.8.8.8"], ["127.0.0.1"]]})

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.host == PUBLIC:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(204)

    made = recording(monkeypatch, answer)
    assert delivery.send(claimed("https://hooks.example/in"), now=NOW).delivered
    assert [r.url.host for r in made] == [PUBLIC, "8.8.8.8"]


# TLS: a receiver on loopback with a certificate for hooks.test only, from a CA of the test's.


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the CA's certificate, the receiver's certificate and key) as PEM files."""
    now = datetime.datetime.now(UTC)
    start, end = now - datetime.timedelta(hours=1), now + datetime.timedelta(hours=1)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder(subject_name=_name("test ca"), issuer_name=_name("test ca"),
                                public_key=ca_key.public_key(), serial_number=1,
                                not_valid_before=start, not_valid_after=end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder(subject_name=_name("hooks.test"), issuer_name=_name("test ca"),
                                public_key=key.public_key(), serial_number=2,
                                not_valid_before=start, not_valid_after=end)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("hooks.test")]),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    folder = tmp_path_factory.mktemp("pki")
    (folder / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (folder / "leaf.pem").write_bytes(
        leaf.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    )  # fmt: skip
    return folder / "ca.pem", folder / "leaf.pem"


class TLSReceiver:
    def __init__(self, leaf: Path) -> None:
        self.hosts: list[str] = []
        self.snis: list[str | None] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["content-length"]))
                receiver.hosts.append(self.headers["host"])
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        class Server(HTTPServer):
            def handle_error(self, *args: object) -> None:
                pass  # the client refusing our certificate, on purpose

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(leaf)
        context.sni_callback = lambda _sock, name, _ctx: self.snis.append(name)
        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def tls_receiver(pki: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> Iterator[TLSReceiver]:
    trusting = ssl.create_default_context(cafile=str(pki[0]))
    monkeypatch.setattr(delivery, "ssl_context", lambda: trusting)
    receiver = TLSReceiver(pki[1])
    yield receiver
    receiver.stop()


def test_tls_goes_to_the_checked_address_and_verifies_the_host_name(
    monkeypatch: pytest.MonkeyPatch, tls_receiver: TLSReceiver
) -> None:
    """The URL carries 127.0.0.1, yet the receiver is asked for hooks.test by SNI and Host,
    and its certificate (valid for hooks.test only) is accepted for that name."""
    Resolver(monkeypatch, {"hooks.test": [["127.0.0.1"], ["192.0.2.1"]]})
    url = f"https://hooks.test:{tls_receiver.port}/in"
    outcome = delivery.send(claimed(url, allow_private_network=True), now=NOW)
    assert outcome.delivered, outcome.error
    assert tls_receiver.snis == ["hooks.test"]
    assert tls_receiver.hosts == [f"hooks.test:{tls_receiver.port}"]


def test_tls_refuses_a_certificate_for_another_name(
    monkeypatch: pytest.MonkeyPatch, tls_receiver: TLSReceiver
) -> None:
    Resolver(monkeypatch, {"other.test": [["127.0.0.1"]]})
    url = f"https://other.test:{tls_receiver.port}/in"
    outcome = delivery.send(claimed(url, allow_private_network=True), now=NOW)
    assert outcome.status_code is None
    assert outcome.error and "CERTIFICATE_VERIFY_FAILED" in outcome.error
    assert "other.test" in outcome.error
    assert tls_receiver.hosts == []


# The deadline: a receiver that answers one header line every 50 ms never trips a per-read
# timeout; the try ends at the deadline all the same.


@pytest.fixture
def dribbler() -> Iterator[int]:
    stop = threading.Event()
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 204 No Content\r\n")
            for n in range(100):  # 5 s at most, then it would finish its answer
                if stop.wait(0.05):
                    return
                try:
                    conn.sendall(f"x-slow-{n}: 1\r\n".encode())
                except OSError:
                    return  # the client hung up
            conn.sendall(b"\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join(timeout=5)
    listener.close()


def test_a_dribbling_receiver_is_cut_off_at_the_deadline(
    monkeypatch: pytest.MonkeyPatch, dribbler: int
) -> None:
    monkeypatch.setattr(delivery, "DEADLINE_SECONDS", 0.5)
    started = time.monotonic()
    outcome = delivery.send(
        claimed(f"http://127.0.0.1:{dribbler}/in", allow_private_network=True), now=NOW
    )
    assert time.monotonic() - started < 1.5
    assert outcome.status_code is None
    assert outcome.error == "ReadTimeout: no answer within 0.5 s"
