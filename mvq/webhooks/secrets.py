"""Endpoint secrets: made in the Standard Webhooks form, stored sealed (mvq.sealing).

The sealing key is derived from the app's `secret_key`, so the database alone (a backup, a
dump) never yields a secret that signs deliveries. The endpoint's id is the associated data:
a sealed secret copied onto another endpoint's row does not open.
"""

import base64
import secrets

from mvq import sealing

PREFIX = "whsec_"
SECRET_BYTES = 32  # the spec asks for 24 to 64
_INFO = b"mvq webhook endpoint secrets v1"


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def seal(secret: str, *, endpoint_id: str) -> str:
    return sealing.seal(secret, info=_INFO, bound_to=endpoint_id)


def unseal(sealed: str, *, endpoint_id: str) -> str:
    return sealing.unseal(sealed, info=_INFO, bound_to=endpoint_id)
