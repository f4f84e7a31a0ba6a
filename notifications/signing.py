"""Standard Webhooks signatures: webhook-id, webhook-timestamp and webhook-signature (v1,<base64 HMAC-SHA256>).

The signed content is "<webhook-id>.<webhook-timestamp>.<body>", keyed with the base64-decoded part of the
whsec_ secret; several space-separated signatures let receivers switch secrets during a rotation.
"""

import base64
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"


def generate_secret() -> str:
    """A new signing secret: whsec_ and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """One "v1,<signature>" entry."""
    content = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(_key(secret), content, hashlib.sha256).digest()).decode()


def signed_headers(signing_secrets: list[str], message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers, signed with every secret given (current first)."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(sign(s, message_id, timestamp, body) for s in signing_secrets),
    }


def verify(secret: str, headers: dict[str, str], body: bytes, *, now: int, tolerance: int = 300) -> bool:
    """Receiver side, for the docs and the demo receiver: a matching signature and a fresh timestamp."""
    headers = {k.lower(): v for k, v in headers.items()}
    try:
        timestamp = int(headers["webhook-timestamp"])
        message_id = headers["webhook-id"]
        offered = headers["webhook-signature"].split()
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = sign(secret, message_id, timestamp, body)
    return any(hmac.compare_digest(expected, entry) for entry in offered)
