"""Log formatting: one line per event, optionally JSON, with secrets redacted."""

import json
import logging
import re

# Values that must never reach a log line: AWS secret keys, session tokens, our API tokens, Fernet blobs.
_SECRET_PATTERNS = [
    (re.compile(r"dw_[A-Za-z0-9_\-]{20,}"), "dw_***"),
    (
        re.compile(
            r"(?i)(secret_access_key|aws_secret_access_key|session_token|password|authorization)"
            r"(['\"]?\s*[:=]\s*['\"]?)([^'\"\s,}]+)"
        ),
        r"\1\2***",
    ),
    (re.compile(r"gAAAAA[A-Za-z0-9_\-=]{20,}"), "***"),
]


def redact(text: str) -> str:
    """Mask anything that looks like a secret in a log message."""
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecretsFilter(logging.Filter):
    """Render the message once, redacted, so no handler ever sees the raw secret."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not lose the log line
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line; extra fields such as job_id and provider_id are kept."""

    _STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in self._STANDARD and not key.startswith("_"):
                payload[key] = value
        if record.exc_info:
            payload["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(payload, default=str)
