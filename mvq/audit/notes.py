"""C2SP signed notes and tlog-cosignatures, for any Ed25519 key: the log's and a witness's.

A note is its text (ending in a newline), a blank line, then one line per signature:
"— <key name> base64(key id || signature)". The key id is the first four bytes of
SHA-256(key name || "\\n" || type || public key): type 0x01 for an Ed25519 note signature (the
log's), 0x04 for a cosignature/v1 (a witness's), whose signature blob carries an 8-byte
big-endian timestamp before the signature and signs
"cosignature/v1\\ntime <seconds>\\n" followed by the whole checkpoint text.

Key names are derived from the public key (a prefix and the first 16 hex digits of its
SHA-256), so a verifier needs nothing but the public key, and a log keeps its name when its
database moves.
"""

import base64
import hashlib
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

DASH = "\u2014 "
ED25519 = 0x01
COSIGNATURE_V1 = 0x04


def public_hex(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def key_name(prefix: str, public_key: str) -> str:
    return prefix + hashlib.sha256(bytes.fromhex(public_key)).hexdigest()[:16]


def key_id(name: str, kind: int, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([kind]) + public_key).digest()[:4]


def split(note: str) -> tuple[str, list[str]]:
    """(text, signature lines); ValueError when it is not a note."""
    text, sep, signatures = note.rpartition("\n\n")
    if not sep:
        raise ValueError("not a signed note")
    return text + "\n", [s for s in signatures.splitlines() if s]


def join(text: str, lines: list[str]) -> str:
    return text + "\n" + "".join(line + "\n" for line in lines)


def sign(key: Ed25519PrivateKey, *, name: str, text: str) -> str:
    """The signature line of `name` over `text`."""
    raw = bytes.fromhex(public_hex(key))
    blob = key_id(name, ED25519, raw) + key.sign(text.encode())
    return f"{DASH}{name} {base64.b64encode(blob).decode()}"


def _blobs(lines: list[str], name: str, kid: bytes) -> list[bytes]:
    found = []
    for line in lines:
        if not line.startswith(f"{DASH}{name} "):
            continue
        try:
            blob = base64.b64decode(line.rsplit(" ", 1)[1], validate=True)
        except ValueError:
            continue
        if blob[:4] == kid:
            found.append(blob[4:])
    return found


def _public(public_key: str) -> tuple[bytes, Ed25519PublicKey] | None:
    try:
        raw = bytes.fromhex(public_key)
        return raw, Ed25519PublicKey.from_public_bytes(raw)
    except ValueError:
        return None


def signed_by(text: str, lines: list[str], *, name: str, public_key: str) -> bool:
    found = _public(public_key)
    if found is None:
        return False
    raw, key = found
    for blob in _blobs(lines, name, key_id(name, ED25519, raw)):
        try:
            key.verify(blob, text.encode())
            return True
        except InvalidSignature:
            continue
    return False


def _cosigned_message(text: str, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n{text}".encode()


def cosign(key: Ed25519PrivateKey, *, name: str, text: str, timestamp: int) -> str:
    """A tlog-cosignature line over the checkpoint `text`."""
    raw = bytes.fromhex(public_hex(key))
    signature = key.sign(_cosigned_message(text, timestamp))
    blob = key_id(name, COSIGNATURE_V1, raw) + struct.pack(">Q", timestamp) + signature
    return f"{DASH}{name} {base64.b64encode(blob).decode()}"


@dataclass(frozen=True)
class Cosignature:
    name: str
    timestamp: int


def cosigned_by(text: str, lines: list[str], *, name: str, public_key: str) -> Cosignature | None:
    found = _public(public_key)
    if found is None:
        return None
    raw, key = found
    for blob in _blobs(lines, name, key_id(name, COSIGNATURE_V1, raw)):
        if len(blob) != 8 + 64:
            continue
        (timestamp,) = struct.unpack(">Q", blob[:8])
        try:
            key.verify(blob[8:], _cosigned_message(text, timestamp))
        except InvalidSignature:
            continue
        return Cosignature(name, timestamp)
    return None
