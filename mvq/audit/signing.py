"""Ed25519 signatures over export manifests. The key comes from MVQ_SIGNING_KEY; its public
half is published at GET /api/v1/audit/public-key so auditors need no secret to check."""

import base64
import hashlib
import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from mvq.settings import get_settings


def _private_key() -> Ed25519PrivateKey:
    secret = get_settings().secret("signing_key")
    try:
        seed = bytes.fromhex(secret)
    except ValueError:
        seed = b""
    if len(seed) != 32:  # any other secret string: a seed derived from it
        seed = hashlib.sha256(secret.encode()).digest()
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_key_hex() -> str:
    raw = _private_key().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return raw.hex()


def _signed_bytes(manifest: dict[str, Any]) -> bytes:
    body = {k: v for k, v in manifest.items() if k != "signature"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sign_manifest(manifest: dict[str, Any]) -> dict[str, Any]:
    body = {**manifest, "public_key": public_key_hex()}
    return {**body, "signature": _private_key().sign(_signed_bytes(body)).hex()}


def manifest_signed_by(manifest: dict[str, Any], public_key: str) -> bool:
    try:
        key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key))
        key.verify(bytes.fromhex(str(manifest.get("signature", ""))), _signed_bytes(manifest))
    except (ValueError, InvalidSignature):
        return False
    return manifest.get("public_key") == public_key


# Signed notes (C2SP signed-note), the envelope of a transparency log's checkpoint: the text,
# a blank line, then "— <key name> <base64(key id || signature)>". The key id is the first four
# bytes of SHA-256(key name || "\n" || 0x01 || public key), 0x01 marking Ed25519.
_NOTE_DASH = "\u2014 "


def _key_id(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n\x01" + public_key).digest()[:4]


def sign_note(text: str, *, name: str) -> str:
    """The note `text` (ending in a newline) with one Ed25519 signature line."""
    key = _private_key()
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    signature = _key_id(name, raw) + key.sign(text.encode())
    return f"{text}\n{_NOTE_DASH}{name} {base64.b64encode(signature).decode()}\n"


def open_note(note: str, *, name: str, public_key: str) -> str | None:
    """The note's text if one of its signatures is `name`'s by `public_key`, else None."""
    text, sep, signatures = note.rpartition("\n\n")
    if not sep:
        return None
    text += "\n"
    try:
        raw = bytes.fromhex(public_key)
        key = Ed25519PublicKey.from_public_bytes(raw)
    except ValueError:
        return None
    for line in signatures.splitlines():
        if not line.startswith(f"{_NOTE_DASH}{name} "):
            continue
        try:
            blob = base64.b64decode(line.rsplit(" ", 1)[1], validate=True)
        except ValueError:
            continue
        if blob[:4] != _key_id(name, raw):
            continue
        try:
            key.verify(blob[4:], text.encode())
        except InvalidSignature:
            continue
        return text
    return None
