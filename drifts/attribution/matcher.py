"""Which CloudTrail event explains which drift: pure, shared by every source.

A drift's target is its resource (every spelling of it), the change (appeared, deleted, or the path that
changed) and the window in which the change happened. Among the write events that name the resource in
that window, one whose name makes exactly that change wins over any other (`exact` over `resource`); among
equals the most recent one before detection wins.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from . import catalogue
from .identity import actor_from_identity

EXACT, RESOURCE = "exact", "resource"
# Only these prefixes are read-only when a record does not say (LookupEvents' ReadOnly filter does).
_READ_PREFIXES = ("Get", "List", "Describe", "Head", "Lookup", "Search", "BatchGet")
_MAX_TEXT = 300


@dataclass(frozen=True)
class Event:
    """One CloudTrail record, with what matching needs read out of it once."""

    event_id: str
    event_name: str
    event_source: str
    event_time: datetime
    region: str | None
    ids: frozenset[str]
    loose_ids: frozenset[str]
    record: dict


@dataclass(frozen=True)
class Target:
    """What one drift needs explained."""

    key: Any  # the drift's id
    resource_type: str
    external_id: str
    identifiers: frozenset[str]
    region: str | None  # None: any region (global services, S3)
    path: str
    change: str  # catalogue.APPEARED, DELETED or CHANGED
    not_before: datetime
    not_after: datetime


@dataclass(frozen=True)
class Match:
    event: Event
    confidence: str  # EXACT or RESOURCE


def parse_time(value: Any) -> datetime | None:
    """CloudTrail's eventTime ("2026-11-29T14:02:11Z") as an aware datetime; None when unreadable."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def is_write(record: Mapping[str, Any]) -> bool:
    """A call that can change something: readOnly false, or, where the record does not say, not a read."""
    read_only = record.get("readOnly")
    if isinstance(read_only, bool):
        return not read_only
    if isinstance(read_only, str):
        return read_only.lower() == "false"
    return not str(record.get("eventName", "")).startswith(_READ_PREFIXES)


def parse_record(record: Any) -> Event | None:
    """An Event from a log-file record or LookupEvents' CloudTrailEvent; None for reads and malformed ones."""
    if isinstance(record, str):
        try:
            record = json.loads(record)
        except ValueError:
            return None
    if not isinstance(record, dict) or not is_write(record):
        return None
    when = parse_time(record.get("eventTime"))
    name = record.get("eventName")
    if when is None or not isinstance(name, str) or not name:
        return None
    ids, loose = catalogue.event_identifiers(record)
    return Event(
        event_id=str(record.get("eventID") or ""),
        event_name=name,
        event_source=str(record.get("eventSource") or ""),
        event_time=when,
        region=record.get("awsRegion") if isinstance(record.get("awsRegion"), str) else None,
        ids=frozenset(ids),
        loose_ids=frozenset(loose),
        record=record,
    )


def match(targets: Iterable[Target], events: Iterable[Event]) -> dict[Any, Match]:
    """The best event for each target that has one (targets without a match are absent)."""
    by_id: dict[str, list[Event]] = defaultdict(list)
    by_loose_id: dict[str, list[Event]] = defaultdict(list)
    for event in events:
        for ident in event.ids:
            by_id[ident].append(event)
        for ident in event.loose_ids:
            by_loose_id[ident].append(event)
    found = {}
    for target in targets:
        best = _best(target, by_id, by_loose_id)
        if best is not None:
            found[target.key] = best
    return found


def _best(target: Target, by_id, by_loose_id) -> Match | None:
    catalogued = target.resource_type in catalogue.CATALOGUE
    index = by_id if catalogued else by_loose_id
    source = catalogue.event_source(target.resource_type, target.external_id)
    exact_names = catalogue.event_names(target.resource_type, target.path, target.change)
    seen: set[int] = set()
    best: tuple | None = None
    for ident in target.identifiers:
        for event in index.get(ident, ()):
            if id(event) in seen:
                continue
            seen.add(id(event))
            if not target.not_before <= event.event_time <= target.not_after:
                continue
            if source and event.event_source and event.event_source != source:
                continue
            if target.region and event.region and event.region != target.region:
                continue
            exact = event.event_name in exact_names
            if not exact and target.change != catalogue.CHANGED and not catalogued:
                # An uncatalogued type appearing or vanishing: its Create*/Delete* call is still exact.
                prefix = "Create" if target.change == catalogue.APPEARED else "Delete"
                exact = event.event_name.startswith(prefix)
            rank = (exact, event.event_time, event.event_id)
            if best is None or rank > best[0]:
                best = (rank, event)
    if best is None:
        return None
    return Match(best[1], EXACT if best[0][0] else RESOURCE)


def _clip(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)[:_MAX_TEXT]


def changed_by(found: Match) -> dict:
    """The `changed_by` document of a drift: who, which call, when, from where, and how sure."""
    record = found.event.record
    actor = actor_from_identity(record.get("userIdentity"))
    return {
        "actor": actor.actor,
        "actor_arn": actor.actor_arn,
        "actor_type": actor.actor_type,
        "actor_parts": actor.parts(),
        "event_name": found.event.event_name,
        "event_id": found.event.event_id or None,
        "event_source": found.event.event_source or None,
        "event_time": found.event.event_time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "aws_region": _clip(found.event.region),
        "source_ip": _clip(record.get("sourceIPAddress")),
        "user_agent": _clip(record.get("userAgent")),
        "confidence": found.confidence,
    }
