"""Endpoint secrets: made in the Standard Webhooks form, stored sealed with AES-GCM.

The sealing key is derived (HKDF) from the app's `secret_key`, so the database alone (a backup,
a dump) never yields a secret that signs deliveries. The endpoint's id is the associated data:
a sealed secret copied onto another endpoint's row does not open.
"""

import base64
import os
import secrets

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from mvq.settings import get_settings

PREFIX = "whsec_"
SECRET_BYTES = 32  # the spec asks for 24 to 64
_VERSION = "v1:"
_NONCE_BYTES = 12


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _key() -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=b"mvq webhook endpoint secrets v1")  # fmt: skip
    return hkdf.derive(get_settings().secret("secret_key").encode())


def seal(secret: str, *, endpoint_id: str) -> str:
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(_key()).encrypt(nonce, secret.encode(), endpoint_id.encode())
    return _VERSION + base64.b64encode(nonce + sealed).decode()


def unseal(sealed: str, *, endpoint_id: str) -> str:
    raw = base64.b64decode(sealed.removeprefix(_VERSION))
    nonce, body = raw[:_NONCE_BYTES], raw[_NONCE_BYTES:]
    return AESGCM(_key()).decrypt(nonce, body, endpoint_id.encode()).decode()
