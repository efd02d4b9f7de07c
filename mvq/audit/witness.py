"""A C2SP tlog-witness: `mvq witness --store DIR --port N`.

It runs as its own process with its own Ed25519 key and its own directory (in production on
another host, kept by another organisation), and knows the logs it witnesses by their public
keys. For each log it keeps the last checkpoint it cosigned; `POST /add-checkpoint` cosigns a
new one only after checking the log's signature and an RFC 9162 consistency proof from that
last one, so it never cosigns a rollback or a fork. The status codes are the spec's: 400 for a
malformed request or an old size above the new one, 403 for a signature it cannot verify, 404
for a log it does not witness, 409 (body: its size, text/x.tlog.size) when the old size is not
the one it holds or the same size comes with another root, 422 for a proof that fails.

`GET /latest?origin=...` (not in the spec: how `mvq audit verify` asks what a witness holds)
answers the newest checkpoint it cosigned, with its cosignature.

The standard library's HTTP server is enough for a few requests a minute; one lock serialises
the check-and-store of each request, and the store is replaced atomically (os.replace), so a
crash leaves the old checkpoint or the new one, never neither.
"""

import base64
import binascii
import hashlib
import os
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mvq.audit import checkpoint, merkle, notes

NAME_PREFIX = "mvq-witness/"
SIZE_TYPE = "text/x.tlog.size"


def witness_name(public_key: str) -> str:
    return notes.key_name(NAME_PREFIX, public_key)


@dataclass(frozen=True)
class Answer:
    status: int
    body: str
    content_type: str = "text/plain; charset=utf-8"


def _owner_only_write(path: Path, data: str) -> None:
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _load_key(store: Path) -> Ed25519PrivateKey:
    """The witness's key, made on first use, owner-only in its own directory."""
    store.mkdir(parents=True, exist_ok=True, mode=0o700)
    key_file = store / "witness.key"
    if not key_file.exists():
        _owner_only_write(key_file, os.urandom(32).hex())
    return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(key_file.read_text()))


def public_key(store: Path) -> str:
    """The public key of the witness keeping `store` (made now if it has none yet)."""
    return notes.public_hex(_load_key(store))


class Witness:
    def __init__(self, store: Path, log_keys: list[str]) -> None:
        self._key = _load_key(store)
        self.public_key = notes.public_hex(self._key)
        self.name = witness_name(self.public_key)
        self._state = store / "state"
        self._state.mkdir(exist_ok=True, mode=0o700)
        self.logs = {checkpoint.origin(k): k for k in log_keys}
        self._lock = threading.Lock()

    def _path(self, origin: str) -> Path:
        return self._state / (hashlib.sha256(origin.encode()).hexdigest() + ".note")

    def latest(self, origin: str) -> str | None:
        path = self._path(origin)
        return path.read_text() if path.exists() else None

    def add_checkpoint(self, body: str) -> Answer:
        head, sep, note = body.partition("\n\n")
        lines = head.split("\n")
        if not sep or not lines[0].startswith("old "):
            return Answer(400, "expected 'old N', the proof, a blank line and a checkpoint\n")
        try:
            old = int(lines[0].removeprefix("old "))
            proof = [base64.b64decode(line, validate=True) for line in lines[1:]]
            text, signatures = notes.split(note)
            new = checkpoint.parse_text(text)
        except (ValueError, binascii.Error, checkpoint.CheckpointInvalid) as exc:
            return Answer(400, f"malformed request: {exc}\n")
        log_key = self.logs.get(new.origin)
        if log_key is None:
            return Answer(404, "unknown log\n")
        if not notes.signed_by(text, signatures, name=new.origin, public_key=log_key):
            return Answer(403, "the log's signature does not verify\n")
        if old > new.size:
            return Answer(400, "old size is above the checkpoint's size\n")
        with self._lock:
            held = self.latest(new.origin)
            last = checkpoint.parse_text(notes.split(held)[0]) if held else None
            last_size = last.size if last else 0
            last_root = last.root if last else merkle.EMPTY_ROOT
            if old != last_size:
                return Answer(409, f"{last_size}\n", SIZE_TYPE)
            try:
                merkle.verify_consistency(first=old, second=new.size, first_root=last_root,
                                          second_root=new.root, proof=proof)  # fmt: skip
            except merkle.ProofError as exc:
                if old == new.size:  # the spec's fork: same size, another root
                    return Answer(409, f"{last_size}\n", SIZE_TYPE)
                return Answer(422, f"consistency proof: {exc}\n")
            line = notes.cosign(self._key, name=self.name, text=text, timestamp=int(time.time()))
            log_lines = [s for s in signatures if s.startswith(f"{notes.DASH}{new.origin} ")]
            _owner_only_write(self._path(new.origin), notes.join(text, [*log_lines, line]))
        return Answer(200, line + "\n")


def serve(witness: Witness, *, host: str, port: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self, answer: Answer) -> None:
            data = answer.body.encode()
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            if urlsplit(self.path).path != "/add-checkpoint":
                self._answer(Answer(404, "not found\n"))
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length > 64 * 1024:
                self._answer(Answer(400, "request too large\n"))
                return
            try:
                body = self.rfile.read(length).decode()
            except UnicodeDecodeError:
                self._answer(Answer(400, "not UTF-8\n"))
                return
            self._answer(witness.add_checkpoint(body))

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path != "/latest":
                self._answer(Answer(404, "not found\n"))
                return
            origin = parse_qs(url.query).get("origin", [""])[0]
            note = witness.latest(origin)
            self._answer(Answer(200, note) if note else Answer(404, "no checkpoint\n"))

        def log_message(self, format: str, *args: object) -> None:
            pass  # the operator's requests are no secret, but a line per request is noise

    return ThreadingHTTPServer((host, port), Handler)
