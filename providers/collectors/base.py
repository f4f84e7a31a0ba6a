"""Shared pieces of the AWS collectors: result types, the client pool and normalization helpers."""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    HTTPClientError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ReadTimeoutError,
)
from botocore.parsers import ResponseParserError

T = TypeVar("T")
R = TypeVar("R")

GLOBAL_REGION = "global"

# Error codes (and HTTP 429) by which AWS says "slow down"; botocore retries them with backoff.
THROTTLING_ERROR_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "RequestThrottled",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)


@dataclass
class CollectedResource:
    """One cloud resource as seen by a collector, with its normalized configuration document."""

    external_id: str
    name: str
    region: str
    config: dict


@dataclass
class CollectResult:
    """Everything one collector run saw: readable resources plus the ones whose details failed."""

    resources: list[CollectedResource] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


class PolicyParseError(ValueError):
    """A policy document AWS returned could not be parsed as JSON."""


def client_config(*, max_workers: int = 8, max_attempts: int = 10) -> Config:
    """Botocore config shared by every client: standard retries, a pool as wide as the thread pool."""
    return Config(
        retries={"mode": "standard", "max_attempts": max_attempts},
        # Each worker thread holds one connection; fewer would make threads queue inside urllib3.
        max_pool_connections=max(max_workers, 10),
        connect_timeout=5,
        read_timeout=30,
        user_agent_extra="driftwatch",
    )


class AwsClients:
    """One boto3 Session per task; clients created once (under a lock) and shared by a bounded thread pool.

    `max_attempts` goes to botocore's retries config as is, where it counts retries: a request is tried
    at most max_attempts + 1 times. `calls` counts API operations, `attempts` HTTP requests incl. retries;
    the `*_by_operation` counters hold the same per "service.Operation", and `throttles_by_operation` the
    answers that were throttling errors (each one retried by botocore, or the call's final error).
    """

    def __init__(
        self,
        session: boto3.Session,
        *,
        endpoint_url: str | None = None,
        max_workers: int = 8,
        max_attempts: int = 10,
        default_region: str = "us-east-1",
    ) -> None:
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        self.session = session
        self.endpoint_url = endpoint_url
        self.max_workers = max_workers
        self.max_attempts = max_attempts
        self.default_region = default_region
        self._config = client_config(max_workers=max_workers, max_attempts=max_attempts)
        self._clients: dict[tuple[str, str], Any] = {}
        # boto3 sessions are not thread-safe, so client creation is serialized; calls on clients are.
        self._lock = threading.Lock()
        self._count_lock = threading.Lock()
        self.calls = 0
        self.attempts = 0
        self.calls_by_operation: Counter[str] = Counter()
        self._account_id: str | None = None
        self.attempts_by_operation: Counter[str] = Counter()
        self.throttles_by_operation: Counter[str] = Counter()

    def client(self, service: str, region: str | None = None) -> Any:
        """Return the shared client for (service, region), creating it on first use."""
        region = region or self.default_region
        if region == GLOBAL_REGION:
            region = self.default_region
        key = (service, region)
        with self._lock:
            existing = self._clients.get(key)
            if existing is not None:
                return existing
            from driftwatch.outbound import guard_boto_client  # here: the collectors import without Django

            client = guard_boto_client(
                self.session.client(service, region_name=region, endpoint_url=self.endpoint_url, config=self._config)
            )
            # 'before-parameter-build' fires once per API call, ahead of any handler that could
            # short-circuit 'before-call'; 'request-created' fires once per HTTP attempt (retries too).
            client.meta.events.register("before-parse", _refuse_non_json_success)
            client.meta.events.register("before-parameter-build", self._count_call)
            client.meta.events.register("request-created", self._count_attempt)
            client.meta.events.register("response-received", self._count_throttle)
            self._clients[key] = client
            return client

    def account_id(self) -> str:
        """The account the credentials belong to (STS GetCallerIdentity, asked once per AwsClients)."""
        if self._account_id is None:
            self._account_id = str(self.client("sts").get_caller_identity()["Account"])
        return self._account_id

    def _count_call(self, event_name: str = "", **kwargs: Any) -> None:
        operation = event_name.split(".", 1)[1] if "." in event_name else event_name
        with self._count_lock:
            self.calls += 1
            self.calls_by_operation[operation] += 1

    def _count_attempt(self, event_name: str = "", **kwargs: Any) -> None:
        operation = event_name.split(".", 1)[1] if "." in event_name else event_name
        with self._count_lock:
            self.attempts += 1
            self.attempts_by_operation[operation] += 1

    def _count_throttle(
        self, event_name: str = "", parsed_response: Any = None, response_dict: Any = None, **kwargs: Any
    ) -> None:
        status = (response_dict or {}).get("status_code")
        code = ((parsed_response or {}).get("Error") or {}).get("Code")
        if status == 429 or code in THROTTLING_ERROR_CODES:
            operation = event_name.split(".", 1)[1] if "." in event_name else event_name
            with self._count_lock:
                self.throttles_by_operation[operation] += 1

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """Run fn over items in a bounded thread pool; results keep item order, the first error is raised."""
        items = list(items)
        if len(items) <= 1 or self.max_workers == 1:
            return [fn(item) for item in items]
        workers = min(self.max_workers, len(items))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="driftwatch-aws") as pool:
            futures = [pool.submit(fn, item) for item in items]
            try:
                return [future.result() for future in futures]
            except BaseException:
                # Do not keep hammering AWS for a unit that has already failed.
                for future in futures:
                    future.cancel()
                raise


def _refuse_non_json_success(operation_model=None, response_dict=None, **kwargs: Any) -> None:
    """A JSON-protocol success whose body is not JSON is an error, not an empty answer.

    botocore reads such a body as {"message": ...}, so a list call would "succeed" with no items, and a
    scan would take every resource of the type for deleted. XML protocols fail to parse on their own.
    """
    if operation_model is None or response_dict is None:
        return
    if operation_model.service_model.resolved_protocol not in {"json", "rest-json"}:
        return
    body = response_dict.get("body")
    if response_dict.get("status_code", 500) >= 300 or not isinstance(body, bytes) or not body.strip():
        return
    try:
        json.loads(body)
    except ValueError:
        raise ResponseParserError("the endpoint answered a JSON call with something that is not JSON") from None


# --- per-resource failure handling -------------------------------------------------------------


def error_code(exc: BaseException) -> str:
    """The AWS error code of a ClientError, else ''."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def describe_error(exc: BaseException) -> str:
    """What went wrong calling AWS, in DriftWatch's own words: the error's type, AWS error code, HTTP
    status and operation. Never the message or body the endpoint sent: an endpoint that is not AWS (or
    one that is) could answer anything, and job errors are readable with a read token."""
    from driftwatch.outbound import URLNotAllowed  # here: the collectors import without Django

    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        meta = exc.response.get("ResponseMetadata", {})
        code = _safe_token(str(err.get("Code", "") or "Unknown"))
        status = meta.get("HTTPStatusCode")
        where = f" in {exc.operation_name}" if getattr(exc, "operation_name", None) else ""
        meaning = _KNOWN_CODES.get(code)
        return f"AWS error {code}{f' (HTTP {status})' if status else ''}{where}{f': {meaning}' if meaning else ''}"
    if isinstance(exc, HTTPClientError) and isinstance(exc.kwargs.get("error"), URLNotAllowed):
        return f"Refused by the outbound-URL guard: {exc.kwargs['error']}"
    if isinstance(exc, URLNotAllowed | PolicyParseError):
        return f"{type(exc).__name__}: {exc}"
    if isinstance(exc, ResponseParserError):
        return "The endpoint's answer is not an AWS response (ResponseParserError)."
    if isinstance(exc, EndpointConnectionError | ConnectTimeoutError):
        return f"Could not connect to the endpoint ({type(exc).__name__})."
    if isinstance(exc, ReadTimeoutError):
        return "The endpoint did not answer in time (ReadTimeoutError)."
    if isinstance(exc, NoCredentialsError | PartialCredentialsError | NoRegionError):
        return f"{type(exc).__name__}: {exc}"
    if type(exc).__module__.split(".")[0] in {"botocore", "boto3", "urllib3", "s3transfer"}:
        return f"{type(exc).__name__} while calling AWS."  # its message may quote what the endpoint sent
    return f"{type(exc).__name__}: {exc}"  # DriftWatch's own error (a bug): its message is ours


# What the common codes mean, in our words (the endpoint's own message is never repeated).
_KNOWN_CODES = {
    "InvalidClientTokenId": "the access key id is not valid",
    "UnrecognizedClientException": "the access key id is not valid",
    "SignatureDoesNotMatch": "the secret access key does not match the access key id",
    "ExpiredToken": "the session token has expired",
    "ExpiredTokenException": "the session token has expired",
    "AccessDenied": "the credentials are not allowed this call",
    "AccessDeniedException": "the credentials are not allowed this call",
    "UnauthorizedOperation": "the credentials are not allowed this call",
    "OptInRequired": "the account is not subscribed to this service",
    "AuthFailure": "AWS could not validate the credentials",
    "Throttling": "AWS is throttling the calls",
    "ThrottlingException": "AWS is throttling the calls",
    "RequestLimitExceeded": "AWS is throttling the calls",
}


def _safe_token(text: str) -> str:
    """An AWS error code is a word; anything else an endpoint put there is cut to its word characters."""
    return "".join(ch for ch in text[:64] if ch.isascii() and (ch.isalnum() or ch in "._-")) or "Unknown"


def collect_each(
    clients: AwsClients,
    items: Iterable[T],
    external_id: Callable[[T], str],
    read: Callable[[T], CollectedResource | None],
) -> CollectResult:
    """Read each listed item's details in the pool; an AWS error on one item lands in `failed`.

    `read` returns None to skip an item that turns out not to belong to the resource type (e.g. an
    AWS-managed KMS key). Only errors AWS answered about this item (ClientError) or a policy that does
    not parse are per-item; connection errors and bugs propagate so the whole unit fails.
    """

    def attempt(item: T) -> tuple[str, CollectedResource | None, str | None]:
        ident = external_id(item)
        try:
            return ident, read(item), None
        except (ClientError, PolicyParseError) as exc:
            return ident, None, describe_error(exc)

    result = CollectResult()
    for ident, resource, error in clients.map(attempt, items):
        if error is not None:
            result.failed[ident] = error
        elif resource is not None:
            result.resources.append(resource)
    result.resources.sort(key=lambda r: r.external_id)
    return result


# --- normalization ------------------------------------------------------------------------------


def canonical_json(value: Any) -> str:
    """Deterministic JSON text used to order set-like lists and to compare documents."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def sort_set(items: Iterable[Any]) -> list[Any]:
    """Sort a set-like list by canonical JSON so order returned by AWS never shows up as drift."""
    return sorted(items, key=canonical_json)


# Scalars JSON documents are made of: sorted_dict returns them at once (an ABC isinstance check costs more).
_SCALAR_TYPES = frozenset({str, int, float, bool, type(None)})


def sorted_dict(value: Any) -> Any:
    """Recursively rebuild dicts with sorted keys (the canonical key order); lists keep their order."""
    if type(value) in _SCALAR_TYPES:
        return value
    if isinstance(value, Mapping):
        return {key: sorted_dict(value[key]) for key in sorted(value)}
    if isinstance(value, list | tuple):
        return [sorted_dict(item) for item in value]
    return value


def tags_to_dict(tags: Iterable[Mapping[str, Any]] | None, key: str = "Key", value: str = "Value") -> dict:
    """Turn AWS's [{Key, Value}] tag lists into a sorted {Key: Value} dict."""
    return {tag[key]: tag.get(value, "") for tag in sorted(tags or (), key=lambda t: t[key])}


def partition(region: str) -> str:
    """The ARN partition of a region."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def resource_name(tags: Mapping[str, str], *fallbacks: str | None) -> str:
    """A resource's display name: the Name tag if present, else the first non-empty fallback."""
    if tags.get("Name"):
        return tags["Name"]
    for candidate in fallbacks:
        if candidate:
            return candidate
    return ""


_POLICY_LIST_KEYS = ("Action", "NotAction", "Resource", "NotResource")
_PRINCIPAL_KEYS = ("Principal", "NotPrincipal")


def _string_set(value: Any) -> list[str]:
    values = value if isinstance(value, list | tuple) else [value]
    return sorted({str(item) for item in values})


def _normalize_principal(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {kind: _string_set(ids) for kind, ids in sorted(value.items())}
    return value  # "*" (anyone) stays a plain string: it is not the same text as {"AWS": "*"}


def _value_set(value: Any) -> list[Any]:
    values = value if isinstance(value, list) else [value]
    unique = {canonical_json(item): item for item in values}  # keeps "true" and true apart
    return sort_set(unique.values())


def _normalize_condition(value: Any) -> Any:
    if not isinstance(value, Mapping):
        return value
    out: dict[str, Any] = {}
    for operator, clauses in value.items():
        if isinstance(clauses, Mapping):
            # A condition value list is an OR of its members, so order and a lone scalar are noise.
            out[operator] = {key: _value_set(values) for key, values in clauses.items()}
        else:
            out[operator] = clauses
    return out


def _normalize_statement(statement: Any) -> Any:
    if not isinstance(statement, Mapping):
        return statement
    out = dict(statement)
    for key in _POLICY_LIST_KEYS:
        if key in out:
            out[key] = _string_set(out[key])
    for key in _PRINCIPAL_KEYS:
        if key in out:
            out[key] = _normalize_principal(out[key])
    if "Condition" in out:
        out["Condition"] = _normalize_condition(out["Condition"])
    return sorted_dict(out)


def _parse_policy_text(text: str | bytes) -> Any:
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    # IAM's raw API returns URL-encoded documents; botocore decodes them, other paths may not.
    try:
        return json.loads(urllib.parse.unquote(text))
    except json.JSONDecodeError as exc:
        raise PolicyParseError(f"policy document is not valid JSON: {exc}") from exc


def normalize_policy(doc: str | bytes | Mapping[str, Any] | None) -> dict | None:
    """Parse and canonicalize an IAM-style policy so equivalent documents compare equal.

    Statement is always a list sorted by canonical JSON; Action/NotAction/Resource/NotResource and
    principal id lists are sorted, de-duplicated lists of strings; condition values are sorted lists.
    Version and Id are kept (Version changes how variables are evaluated). None/"" means no policy.
    """
    if doc is None or doc == "" or doc == b"":
        return None
    parsed = _parse_policy_text(doc) if isinstance(doc, str | bytes) else doc
    if not isinstance(parsed, Mapping):
        raise PolicyParseError(f"policy document is a {type(parsed).__name__}, not an object")
    out = {key: value for key, value in parsed.items() if key != "Statement"}
    statements = parsed.get("Statement", [])
    if isinstance(statements, Mapping):
        statements = [statements]
    out["Statement"] = sort_set(_normalize_statement(statement) for statement in statements)
    return sorted_dict(out)


def paginate(client: Any, operation: str, result_key: str, page_size: int | None = None, **params: Any) -> list:
    """Collect every item of a paginated listing; page_size only where the API honours one."""
    config = {"PageSize": page_size} if page_size else {}
    paginator = client.get_paginator(operation)
    items: list = []
    for page in paginator.paginate(**params, PaginationConfig=config):
        items.extend(page.get(result_key, []))
    return items


def call_or_none(call: Callable[..., dict], missing_codes: Iterable[str], **params: Any) -> dict | None:
    """Call a Get*/Describe* API, turning the error codes that mean "not configured" into None."""
    try:
        return call(**params)
    except ClientError as exc:
        if error_code(exc) in set(missing_codes):
            return None
        raise


def to_bool(value: Any) -> bool | None:
    """AWS string flags ("true"/"false", any case) as booleans; None stays None."""
    if value is None or isinstance(value, bool):
        return value
    return str(value).strip().lower() == "true"


def to_int(value: Any) -> int | None:
    """AWS numbers sent as strings (SQS, SNS attributes) as ints; None stays None."""
    return None if value is None or value == "" else int(value)
