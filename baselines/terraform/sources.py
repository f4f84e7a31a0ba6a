"""Reading a state source's files: S3 with the provider's own AWS session, HTTPS through the outbound guard.

Each reader returns the state files whose content may have changed (an unchanged ETag skips the download),
with at most DRIFTWATCH_TF_STATE_MAX_BYTES read into memory. Errors are StateSourceError with a message
safe to show: it names the bucket, key or HTTP status, never what a server answered.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings

from driftwatch import outbound
from providers import services as provider_services
from providers.collectors.base import error_code
from providers.crypto import CredentialsError

from ..models import StateSource, StateSourceKind

logger = logging.getLogger(__name__)

# How many redirects (or HCP Terraform's "download URL" indirections) one HTTP read may follow.
MAX_HOPS = 3
# A JSON:API document opens with its "data" member; a state opens with "version".
_JSON_API_HEAD = re.compile(rb'^\s*\{\s*"data"\s*:')
# S3 ListObjectsV2 page size (the API's maximum).
PAGE_SIZE = 1000


class StateSourceError(Exception):
    """A state source could not be read; `code` names the reason and the message is safe to show."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class StateFile:
    """One state file of a source: its key ("" for a single-file source), its ETag, and its bytes."""

    key: str
    etag: str
    data: bytes | None  # None: the ETag matches the one last applied, so nothing was downloaded


def max_bytes() -> int:
    return settings.DRIFTWATCH_TF_STATE_MAX_BYTES


def too_large(size: int) -> StateSourceError:
    return StateSourceError(
        "too_large",
        f"The state file is {size} bytes; the limit is {max_bytes()} bytes (DRIFTWATCH_TF_STATE_MAX_BYTES).",
    )


def read(source: StateSource) -> list[StateFile]:
    """The source's state files (S3 or HTTP); uploads are applied when they are posted, never read here."""
    if source.kind == StateSourceKind.S3:
        return read_s3(source)
    if source.kind == StateSourceKind.HTTP:
        return [read_http(source)]
    raise StateSourceError("not_readable", "An upload source is applied when a state is posted to it.")


# --- S3 -----------------------------------------------------------------------------------------------


def _aws_message(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code = err.get("Code") or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "Error")
        return f"{code}: {err.get('Message', '')}".strip().rstrip(":")[:300]
    return f"{type(exc).__name__}: {exc}"[:300]


def read_s3(source: StateSource) -> list[StateFile]:
    """Read the source's object (or every object its glob matches) with the provider's AWS session."""
    try:
        s3 = provider_services.aws_clients(source.provider).client("s3")
        if not source.is_glob:
            return [_get_object(s3, source, source.key, "", None)]
        files = []
        paginator = s3.get_paginator("list_objects_v2")
        pages = paginator.paginate(
            Bucket=source.bucket, Prefix=source.key_prefix(), PaginationConfig={"PageSize": PAGE_SIZE}
        )
        for page in pages:
            for obj in page.get("Contents", []):
                if source.matches(obj["Key"]):
                    files.append(_get_object(s3, source, obj["Key"], obj["Key"], obj))
        if not files:
            raise StateSourceError(
                "not_found", f"No object in s3://{source.bucket}/{source.key_prefix()} matches {source.key!r}."
            )
        return files
    except StateSourceError:
        raise
    except ClientError as exc:
        code = error_code(exc)
        if code in ("NoSuchKey", "NoSuchBucket", "404"):
            raise StateSourceError("not_found", f"s3://{source.bucket}/{source.key}: {_aws_message(exc)}") from None
        raise StateSourceError("s3_error", f"s3://{source.bucket}/{source.key}: {_aws_message(exc)}") from None
    except (BotoCoreError, provider_services.EndpointNotAllowed, CredentialsError, ValueError) as exc:
        raise StateSourceError("s3_error", f"s3://{source.bucket}: {_aws_message(exc)}") from None


def _get_object(s3, source: StateSource, key: str, head_key: str, listed: dict | None) -> StateFile:
    known = (source.heads or {}).get(head_key, {}).get("etag")
    if listed is not None:
        etag = listed.get("ETag", "")
        if known and etag == known:
            return StateFile(head_key, etag, None)
        if listed.get("Size", 0) > max_bytes():
            raise too_large(listed["Size"])
    params = {"Bucket": source.bucket, "Key": key}
    if known:
        params["IfNoneMatch"] = known
    try:
        response = s3.get_object(**params)
    except ClientError as exc:
        if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 304 or error_code(exc) == "304":
            return StateFile(head_key, known, None)
        raise
    size = response.get("ContentLength") or 0
    body = response["Body"]
    try:
        if size > max_bytes():
            raise too_large(size)
        data = body.read(max_bytes() + 1)
    finally:
        body.close()
    if len(data) > max_bytes():
        raise too_large(len(data))
    return StateFile(head_key, response.get("ETag", ""), data)


# --- HTTP(S) -----------------------------------------------------------------------------------------


def read_http(source: StateSource) -> StateFile:
    """GET the state: a Terraform http backend answers the state; HCP Terraform's state-version API
    answers a JSON:API document whose `hosted-state-download-url` is fetched next. The token is only ever
    sent to the configured URL's host, and every hop goes through the outbound guard."""
    url = source.url
    home = urlsplit(url).netloc
    known = (source.heads or {}).get("", {}).get("etag")
    for _hop in range(MAX_HOPS):
        headers = {"Accept": "application/json"}
        token = source.get_token() if urlsplit(url).netloc == home else None
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if known and url == source.url:
            headers["If-None-Match"] = known
        try:
            response = outbound.request("GET", url, headers=headers, max_bytes=max_bytes())
        except outbound.ResponseTooLarge:
            raise StateSourceError(
                "too_large", f"The state file is larger than {max_bytes()} bytes (DRIFTWATCH_TF_STATE_MAX_BYTES)."
            ) from None
        except outbound.OutboundError as exc:
            raise StateSourceError("http_error", f"GET {_shown(url)}: {exc}") from None
        status = response.status
        if status == 304:
            return StateFile("", known, None)
        if status in (301, 302, 303, 307, 308) and response.headers.get("Location"):
            url = urljoin(url, response.headers["Location"])
            continue
        if status != 200:
            raise StateSourceError("http_error", f"GET {_shown(url)} answered HTTP {status}.")
        next_url = _hosted_download_url(response.body)
        if next_url is not None:
            url = urljoin(url, next_url)
            continue
        return StateFile("", response.headers.get("ETag", "") if url == source.url else "", response.body)
    raise StateSourceError("http_error", f"GET {_shown(source.url)}: more than {MAX_HOPS} redirects.")


def _shown(url: str) -> str:
    """A URL as error messages show it: scheme, host and path (never a query, which may hold a signature)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _hosted_download_url(body: bytes) -> str | None:
    """HCP Terraform / Terraform Enterprise state-version documents point at the state; a state does not."""
    if not _JSON_API_HEAD.match(body[:256]):
        return None
    try:
        document = json.loads(body)
    except ValueError:
        return None
    data = document.get("data") if isinstance(document, dict) else None
    attributes = data.get("attributes") if isinstance(data, dict) else None
    if not isinstance(attributes, dict):
        return None
    url = attributes.get("hosted-state-download-url")
    return url if isinstance(url, str) and url else None
