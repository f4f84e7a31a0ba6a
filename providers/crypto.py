"""Encryption at rest for provider credentials (Fernet, key from settings)."""

import json

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


class CredentialsError(Exception):
    """Stored credentials cannot be decrypted (wrong or rotated DRIFTWATCH_ENCRYPTION_KEY)."""


def _fernet() -> Fernet:
    return Fernet(settings.DRIFTWATCH_ENCRYPTION_KEY.encode())


def encrypt_json(value: dict) -> str:
    """Encrypt a JSON-serialisable dict into a Fernet token string."""
    return _fernet().encrypt(json.dumps(value, sort_keys=True).encode()).decode()


def decrypt_json(token: str) -> dict:
    """Decrypt a Fernet token string back into a dict."""
    try:
        return json.loads(_fernet().decrypt(token.encode()))
    except (InvalidToken, ValueError):
        raise CredentialsError("provider credentials cannot be decrypted with DRIFTWATCH_ENCRYPTION_KEY") from None
