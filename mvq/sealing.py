"""Secrets stored sealed with AES-GCM, under a key derived (HKDF) from the app's `secret_key`.

The database alone (a backup, a dump) never yields a sealed secret. Each kind of secret has a
key of its own (the HKDF `info`), and each sealed value is bound to its row by the associated
data (an id): a sealed value copied onto another row, or into another column kind, does not
open.
"""

import base64
import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from mvq.settings import get_settings

_VERSION = "v1:"
_NONCE_BYTES = 12


def _key(info: bytes) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info)
    return hkdf.derive(get_settings().secret("secret_key").encode())


def seal(secret: str, *, info: bytes, bound_to: str) -> str:
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(_key(info)).encrypt(nonce, secret.encode(), bound_to.encode())
    return _VERSION + base64.b64encode(nonce + sealed).decode()


def unseal(sealed: str, *, info: bytes, bound_to: str) -> str:
    raw = base64.b64decode(sealed.removeprefix(_VERSION))
    nonce, body = raw[:_NONCE_BYTES], raw[_NONCE_BYTES:]
    return AESGCM(_key(info)).decrypt(nonce, body, bound_to.encode()).decode()
