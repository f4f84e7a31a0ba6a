"""Where CloudTrail events come from: LookupEvents (the default) or a trail's S3 bucket (log files).

Each source answers one question, `events(region, start, end)`: the raw write-event records of that region
in that window, as CloudTrail writes them in its log files. A failure that retrying will not fix soon
raises AttributionUnavailable with a reason in our own words (an AWS error code at most, never the text
an endpoint answered). Nothing here knows Django.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from .ratelimit import RateLimiter

logger = logging.getLogger(__name__)

# LookupEvents answers at most 50 events a page and keeps 90 days of history.
PAGE_SIZE = 50
HISTORY = timedelta(days=90)
_THROTTLE_CODES = frozenset(
    {"ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded", "SlowDown"}
)
_SAFE_CODE = re.compile(r"^[A-Za-z0-9.]{1,64}$")


class AttributionUnavailable(Exception):
    """The look-up failed in a way a retry soon will not fix; `reason` is safe to show to API readers."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def client_config(max_attempts: int = 1) -> Config:
    """No botocore retry chain: a server error fails the attempt at once (moto answers LookupEvents 500)."""
    return Config(
        retries={"mode": "standard", "total_max_attempts": max_attempts},
        connect_timeout=5,
        read_timeout=20,
        user_agent_extra="driftwatch-attribution",
    )


def _code(exc: ClientError) -> str:
    code = str(exc.response.get("Error", {}).get("Code", ""))
    return code if _SAFE_CODE.match(code) else "error"


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)


def _explain(exc: Exception, what: str) -> str:
    """A reason for the drift and the job, from the error's code or type only."""
    if isinstance(exc, ClientError):
        code, status = _code(exc), _status(exc)
        if code in {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError"}:
            return f"access denied to {what}"
        if status >= 500 or code.isdigit():
            return f"{what} failed with a server error (HTTP {status or code}); not retried"
        return f"{what} failed: {code}"
    return f"could not reach AWS for {what} ({type(exc).__name__})"


def _is_throttle(exc: ClientError) -> bool:
    return _code(exc) in _THROTTLE_CODES or _status(exc) == 429


# --- Source 1: LookupEvents -----------------------------------------------------------------------------


class LookupEventsSource:
    """cloudtrail:LookupEvents, write events only, newest first, every request under the shared rate limit."""

    name = "lookup_events"

    def __init__(
        self,
        client_for: Callable[[str], Any],
        limiter: RateLimiter,
        limit_key: str,
        *,
        max_pages: int = 20,
        throttle_retries: int = 4,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.client_for = client_for
        self.limiter = limiter
        self.limit_key = limit_key
        self.max_pages = max_pages
        self.throttle_retries = throttle_retries
        self._sleep = sleep
        self._now = now or (lambda: datetime.now(UTC))
        self.requests = 0  # LookupEvents requests sent (throttled ones included)

    def events(self, region: str, start: datetime, end: datetime) -> tuple[list[dict], bool]:
        """(records, truncated): truncated when the window held more than max_pages pages of events."""
        start = max(start, self._now() - HISTORY + timedelta(minutes=1))
        if start >= end:
            return [], False
        client = self.client_for(region)
        params: dict[str, Any] = {
            "LookupAttributes": [{"AttributeKey": "ReadOnly", "AttributeValue": "false"}],
            "StartTime": start,
            "EndTime": end,
            "MaxResults": PAGE_SIZE,
        }
        records: list[dict] = []
        for _ in range(self.max_pages):
            page = self._call(client, region, params)
            records.extend(_record(event) for event in page.get("Events", []))
            token = page.get("NextToken")
            if not token:
                return records, False
            params["NextToken"] = token
        return records, True

    def _call(self, client: Any, region: str, params: dict) -> dict:
        what = f"cloudtrail:LookupEvents in {region}"
        for attempt in range(self.throttle_retries + 1):
            self.limiter.acquire(f"{self.limit_key}:{region}")
            self.requests += 1
            try:
                return client.lookup_events(**params)
            except ClientError as exc:
                if not _is_throttle(exc):
                    raise AttributionUnavailable(_explain(exc, what)) from None
                if attempt < self.throttle_retries:
                    self._sleep(min(0.5 * (attempt + 1), 2.0))  # on top of the rate limit: let the bucket refill
            except BotoCoreError as exc:
                raise AttributionUnavailable(_explain(exc, what)) from None
        raise AttributionUnavailable(f"throttled by {what} after {self.throttle_retries + 1} tries")


def _record(event: dict) -> dict:
    """The log-file record of one LookupEvents event (its CloudTrailEvent), with the listed resources."""
    record: dict = {}
    raw = event.get("CloudTrailEvent")
    if isinstance(raw, str):
        try:
            parsed = json.loads(raw)
            record = parsed if isinstance(parsed, dict) else {}
        except ValueError:
            record = {}
    if not record:  # nothing to parse: what the listing itself says
        when = event.get("EventTime")
        record = {
            "eventID": event.get("EventId"),
            "eventName": event.get("EventName"),
            "eventSource": event.get("EventSource"),
            "eventTime": when.isoformat() if isinstance(when, datetime) else when,
            "readOnly": event.get("ReadOnly"),
            "userIdentity": {"type": "Unknown", "userName": event.get("Username")},
        }
    if not record.get("resources") and event.get("Resources"):
        record["resources"] = [
            {"ARN": r.get("ResourceName"), "type": r.get("ResourceType")} for r in event["Resources"] if r
        ]
    return record


# --- Source 2: the trail's bucket ------------------------------------------------------------------------

# <account>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<unique>.json.gz: the time the file was delivered.
_FILE_TIME = re.compile(r"_CloudTrail_[a-z0-9-]+_(\d{8}T\d{4}Z)_")
# A file delivered this long before the window cannot hold an event inside it.
_DELIVERY_SLACK = timedelta(minutes=30)
# CloudTrail delivers within about 15 minutes; day folders are read up to this far past the window.
_LATE_DELIVERY = timedelta(hours=1)
_ORG_ID = re.compile(r"^o-[a-z0-9]{10,32}$")
MAX_OBJECT_BYTES = 64 * 1024 * 1024  # decompressed; CloudTrail's files are far smaller


class TrailBucketSource:
    """Log files under <prefix>/AWSLogs/<account>/CloudTrail/<region>/<yyyy>/<mm>/<dd>/ (a single-account
    trail) or <prefix>/AWSLogs/<organization id>/<account>/CloudTrail/... (an organization trail)."""

    name = "trail_bucket"

    def __init__(
        self, s3: Any, bucket: str, prefix: str, account_id: str, now: Callable[[], datetime] | None = None
    ) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.account_id = account_id
        self._now = now or (lambda: datetime.now(UTC))
        self._roots: list[str] | None = None
        self.objects_read = 0

    @property
    def _logs(self) -> str:
        return f"{self.prefix}/AWSLogs/" if self.prefix else "AWSLogs/"

    def _where(self) -> str:
        return f"s3://{self.bucket}/{self._logs}"

    def roots(self) -> list[str]:
        """The account's CloudTrail folders: its own, and one per organization trail that logs it."""
        if self._roots is None:
            found = []
            children = self._common_prefixes(self._logs)
            if f"{self._logs}{self.account_id}/" in children:
                found.append(f"{self._logs}{self.account_id}/CloudTrail/")
            for child in sorted(children):
                org = child[len(self._logs) :].strip("/")
                if _ORG_ID.match(org) and f"{child}{self.account_id}/" in self._common_prefixes(child):
                    found.append(f"{child}{self.account_id}/CloudTrail/")
            if not found:
                raise AttributionUnavailable(
                    f"no CloudTrail log files for account {self.account_id} under {self._where()}"
                )
            self._roots = found
        return self._roots

    def _common_prefixes(self, prefix: str) -> set[str]:
        out: set[str] = set()
        try:
            for page in self.s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix, Delimiter="/"
            ):
                out.update(p["Prefix"] for p in page.get("CommonPrefixes", []))
        except (ClientError, BotoCoreError) as exc:
            raise AttributionUnavailable(_explain(exc, f"s3:ListBucket on {self.bucket}")) from None
        return out

    def events(self, region: str, start: datetime, end: datetime) -> tuple[list[dict], bool]:
        """Every write record of the region's files that can hold events between start and end."""
        records: list[dict] = []
        seen: set[str] = set()
        for root in self.roots():
            for key in self._keys(root, region, start, end):
                for record in self._read(key):
                    event_id = str(record.get("eventID") or "")
                    if event_id and event_id in seen:
                        continue
                    seen.add(event_id)
                    records.append(record)
        return records, False

    def _keys(self, root: str, region: str, start: datetime, end: datetime) -> Iterator[str]:
        last_day = min(end + _LATE_DELIVERY, max(self._now(), end)).date()
        for day in _days(start.date(), last_day):
            folder = f"{root}{region}/{day:%Y/%m/%d}/"
            try:
                pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=folder)
                for page in pages:
                    for item in page.get("Contents", []):
                        if _may_hold(item["Key"], start):
                            yield item["Key"]
            except (ClientError, BotoCoreError) as exc:
                raise AttributionUnavailable(_explain(exc, f"s3:ListBucket on {self.bucket}")) from None

    def _read(self, key: str) -> list[dict]:
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"]
            raw = body.read(MAX_OBJECT_BYTES + 1)
        except (ClientError, BotoCoreError) as exc:
            raise AttributionUnavailable(_explain(exc, f"s3:GetObject on {self.bucket}")) from None
        self.objects_read += 1
        try:
            if raw[:2] == b"\x1f\x8b":
                raw = gzip.GzipFile(fileobj=io.BytesIO(raw)).read(MAX_OBJECT_BYTES + 1)
            if len(raw) > MAX_OBJECT_BYTES:
                logger.warning("skipping oversized CloudTrail log file %s", key)
                return []
            records = json.loads(raw).get("Records")
        except (OSError, EOFError, ValueError, AttributeError):
            logger.warning("skipping unreadable CloudTrail log file %s", key)
            return []
        return [r for r in records if isinstance(r, dict)] if isinstance(records, list) else []


def _days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def _may_hold(key: str, start: datetime) -> bool:
    """False for a file delivered well before the window (its name says when); unknown names are read."""
    found = _FILE_TIME.search(key.rsplit("/", 1)[-1])
    if not found:
        return True
    delivered = datetime.strptime(found.group(1), "%Y%m%dT%H%MZ").replace(tzinfo=UTC)
    return delivered >= start - _DELIVERY_SLACK


# --- LookupEvents, then the trails' buckets -------------------------------------------------------------------


class FallbackSource:
    """LookupEvents first; where it cannot answer (not implemented, access denied, ...), the buckets of the
    account's own trails, as the scan collected them. The first bucket that holds the account's logs is kept
    for the rest of the run."""

    name = "lookup_events_then_trail_bucket"

    def __init__(self, primary: Any, fallbacks: list[Callable[[], Any]]) -> None:
        self.primary = primary
        self.fallbacks = fallbacks
        self._chosen: Any = None
        self._primary_reason: str | None = None

    def events(self, region: str, start: datetime, end: datetime) -> tuple[list[dict], bool]:
        if self._chosen is not None:
            return self._chosen.events(region, start, end)
        if self._primary_reason is None:
            try:
                return self.primary.events(region, start, end)
            except AttributionUnavailable as exc:
                self._primary_reason = exc.reason
        reasons = [self._primary_reason]
        for make in self.fallbacks:
            try:
                source = make()
                found = source.events(region, start, end)
            except AttributionUnavailable as exc:
                reasons.append(exc.reason)
                continue
            self._chosen = source
            return found
        raise AttributionUnavailable("; then ".join(reasons))
