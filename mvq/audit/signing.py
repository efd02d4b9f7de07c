"""Ed25519 signatures over export manifests and the log's checkpoints (mvq.audit.notes). The key
comes from MVQ_SIGNING_KEY; its public half is published at GET /api/v1/audit/public-key so
auditors need no secret to check."""

import hashlib
import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from mvq.settings import get_settings


def private_key() -> Ed25519PrivateKey:
    secret = get_settings().secret("signing_key")
    try:
        seed = bytes.fromhex(secret)
    except ValueError:
        seed = b""
    if len(seed) != 32:  # any other secret string: a seed derived from it
        seed = hashlib.sha256(secret.encode()).digest()
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_key_hex() -> str:
    raw = private_key().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return raw.hex()


def _signed_bytes(manifest: dict[str, Any]) -> bytes:
    body = {k: v for k, v in manifest.items() if k != "signature"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sign_manifest(manifest: dict[str, Any]) -> dict[str, Any]:
    body = {**manifest, "public_key": public_key_hex()}
    return {**body, "signature": private_key().sign(_signed_bytes(body)).hex()}


def manifest_signed_by(manifest: dict[str, Any], public_key: str) -> bool:
    try:
        key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key))
        key.verify(bytes.fromhex(str(manifest.get("signature", ""))), _signed_bytes(manifest))
    except (ValueError, InvalidSignature):
        return False
    return manifest.get("public_key") == public_key
