"""Encryption at rest (Fernet, key DRIFTWATCH_ENCRYPTION_KEY): the one helper every app uses for secrets.

Provider credentials and notification secrets (webhook signing secrets, Slack webhook URLs) are stored
through it; nothing stored with it is ever logged or echoed back by the API.
"""

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


class DecryptionError(Exception):
    """A stored secret cannot be decrypted (wrong or rotated DRIFTWATCH_ENCRYPTION_KEY)."""


def fernet() -> Fernet:
    return Fernet(settings.DRIFTWATCH_ENCRYPTION_KEY.encode())


def encrypt_text(value: str) -> str:
    """Encrypt a string into a Fernet token string."""
    return fernet().encrypt(value.encode()).decode()


def decrypt_text(token: str) -> str:
    """Decrypt a Fernet token string; DecryptionError when the key does not fit."""
    try:
        return fernet().decrypt(token.encode()).decode()
    except (InvalidToken, ValueError):
        raise DecryptionError("a stored secret cannot be decrypted with DRIFTWATCH_ENCRYPTION_KEY") from None
