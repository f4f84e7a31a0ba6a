"""Encryption at rest for provider credentials: JSON over the kit's Fernet helper (driftwatch.crypto)."""

import json

from cryptography.fernet import InvalidToken

from driftwatch.crypto import fernet


class CredentialsError(Exception):
    """Stored credentials cannot be decrypted (wrong or rotated DRIFTWATCH_ENCRYPTION_KEY)."""


def encrypt_json(value: dict) -> str:
    """Encrypt a JSON-serialisable dict into a Fernet token string."""
    return fernet().encrypt(json.dumps(value, sort_keys=True).encode()).decode()


def decrypt_json(token: str) -> dict:
    """Decrypt a Fernet token string back into a dict."""
    try:
        return json.loads(fernet().decrypt(token.encode()))
    except (InvalidToken, ValueError):
        raise CredentialsError("provider credentials cannot be decrypted with DRIFTWATCH_ENCRYPTION_KEY") from None
