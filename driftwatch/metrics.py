"""Prometheus metrics: what apps declare, series kept in the database, and the /metrics view.

Why the database and not prometheus_client's multiprocess mode: the numbers worth counting (scans, units,
AWS calls) happen in Celery workers, usually in other containers or on other hosts than the web process
Prometheus scrapes. Multiprocess mode only adds up processes that share one directory on one host; it
would show each web container its own zeros, and it needs its files wiped whenever a worker is recycled.
Instead every process adds to rows of `MetricSeries` (one upsert per batch of changes, in the same
transaction as the work it counts, so a rolled-back unit counts nothing), and /metrics reads those rows
plus the gauges apps compute from the tables they keep anyway (`register_collector`): the same answer
from any web process, surviving restarts. prometheus_client still builds the families and the text.

/metrics is off until DRIFTWATCH_METRICS_TOKEN (a bearer token of its own) and/or
DRIFTWATCH_METRICS_ALLOWED_IPS (client addresses or networks) is set; it is a plain Django view, outside
the API's authentication and throttling.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from driftwatch.api.errors import error_body
from driftwatch.api.throttling import client_address
from driftwatch.models import MetricSeries

logger = logging.getLogger(__name__)

COUNTER, HISTOGRAM = "counter", "histogram"


@dataclass(frozen=True)
class Change:
    """One addition to (or, with replace, a new value for) one stored series."""

    name: str
    labels: str
    amount: float
    replace: bool = False


def _labels(labelnames: tuple[str, ...], values: dict) -> str:
    if set(values) != set(labelnames):
        raise ValueError(f"labels {sorted(values)} do not match {sorted(labelnames)}")
    return _encoded(tuple(sorted((k, str(v)) for k, v in values.items())))


@lru_cache(maxsize=4096)
def _encoded(pairs: tuple[tuple[str, str], ...]) -> str:
    """A label set's canonical JSON (label sets are few and repeat: each is encoded once)."""
    return json.dumps(dict(pairs), separators=(",", ":"))


@dataclass(frozen=True)
class StoredMetric:
    """A counter or histogram whose series live in MetricSeries; declare with counter() or histogram()."""

    name: str
    kind: str
    documentation: str
    labelnames: tuple[str, ...]
    buckets: tuple[float, ...] = ()
    # Label sets exported as 0 before their first increment: increase() and rate() miss the first step of
    # a series that appears with a value, so an alert on "any failed scan" needs the series to exist first.
    initial: tuple[tuple[str, ...], ...] = ()

    def inc(self, amount: float = 1.0, **labels) -> list[Change]:
        """The change adding `amount` to the counter's series for these labels."""
        if self.kind != COUNTER or amount < 0:
            raise ValueError(f"{self.name}: inc() takes a counter and a non-negative amount")
        return [Change(self.name, _labels(self.labelnames, labels), float(amount))] if amount else []

    def observe(self, value: float, **labels) -> list[Change]:
        """The changes recording one observation: cumulative buckets, _sum and _count."""
        return self.observe_many([value], **labels)

    def observe_many(self, values: list[float], **labels) -> list[Change]:
        """The changes recording several observations with the same labels: one per bucket, _sum and _count,
        however many values (a batch of deliveries costs the same few rows as one)."""
        if self.kind != HISTOGRAM:
            raise ValueError(f"{self.name} is not a histogram")
        if not values:
            return []
        changes = []
        for bound in (*self.buckets, float("inf")):
            n = sum(1 for value in values if value <= bound)
            if n:
                le = _labels((*self.labelnames, "le"), {**labels, "le": _le(bound)})
                changes.append(Change(f"{self.name}_bucket", le, float(n)))
        key = _labels(self.labelnames, labels)
        total = float(sum(values))
        return [*changes, Change(f"{self.name}_sum", key, total), Change(f"{self.name}_count", key, float(len(values)))]


_DECLARED: dict[str, StoredMetric] = {}
_COLLECTORS: list[Callable[[], Iterable[Metric]]] = []


def counter(
    name: str, documentation: str, labelnames: tuple[str, ...] = (), initial: Iterable[tuple[str, ...]] = ()
) -> StoredMetric:
    """Declare a counter (its name ends in _total); `initial` label values are exported as 0 until counted."""
    if not name.endswith("_total"):
        raise ValueError(f"counter {name} must end in _total")
    metric = StoredMetric(name, COUNTER, documentation, tuple(labelnames), initial=tuple(map(tuple, initial)))
    return _DECLARED.setdefault(name, metric)


def histogram(name: str, documentation: str, labelnames: tuple[str, ...], buckets: tuple[float, ...]) -> StoredMetric:
    """Declare a histogram with these upper bounds (+Inf is added)."""
    return _DECLARED.setdefault(name, StoredMetric(name, HISTOGRAM, documentation, tuple(labelnames), buckets))


def register_collector(collect: Callable[[], Iterable[Metric]]) -> None:
    """Add a function yielding metric families computed at scrape time (gauges over the app's tables)."""
    if collect not in _COLLECTORS:
        _COLLECTORS.append(collect)


def _le(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(float(bound))


# --- writing ------------------------------------------------------------------------------------------


def write(changes: Iterable[Change]) -> None:
    """Apply changes: one upsert for the additions, one for the replacements, in sorted key order (two
    writers then lock rows in the same order and cannot deadlock). Never raises: a metric that cannot be
    written is logged and lost, it never fails the work it counts."""
    added: dict[tuple[str, str], float] = defaultdict(float)
    replaced: dict[tuple[str, str], float] = {}
    for change in changes:
        if change.replace:
            replaced[(change.name, change.labels)] = change.amount
        else:
            added[(change.name, change.labels)] += change.amount
    if not added and not replaced:
        return
    try:
        with transaction.atomic():
            for rows, replace in ((added, False), (replaced, True)):
                if rows:
                    _upsert(sorted(rows.items()), replace=replace)
    except DatabaseError as exc:
        logger.warning("metrics not recorded: %s", type(exc).__name__)


def set_values(name: str, values: dict[str, float]) -> None:
    """Store plain values under `name`, keyed by a label value (e.g. a provider's last successful scan)."""
    write(Change(name, key, value, replace=True) for key, value in values.items())


def _upsert(rows: list[tuple[tuple[str, str], float]], *, replace: bool) -> None:
    table = MetricSeries._meta.db_table
    now = timezone.now()
    update = "excluded.value" if replace else f"{table}.value + excluded.value"
    placeholders = ", ".join(["(%s, %s, %s, %s)"] * len(rows))
    params: list = []
    for (name, labels), value in rows:
        params += [name, labels, value, now]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (name, labels, value, updated_at) VALUES {placeholders} "
            f"ON CONFLICT (name, labels) DO UPDATE SET value = {update}, updated_at = excluded.updated_at",
            params,
        )


def stored_values(name: str) -> dict[str, float]:
    """What set_values() stored under `name`, by key."""
    return dict(MetricSeries.objects.filter(name=name).values_list("labels", "value"))


# --- exposition ---------------------------------------------------------------------------------------


def _stored_families() -> Iterator[Metric]:
    """Every declared counter and histogram, from one read of their rows."""
    names = [m.name for m in _DECLARED.values() if m.kind == COUNTER]
    for m in _DECLARED.values():
        if m.kind == HISTOGRAM:
            names += [f"{m.name}_bucket", f"{m.name}_sum", f"{m.name}_count"]
    rows: dict[str, list[tuple[dict, float]]] = defaultdict(list)
    for name, labels, value in MetricSeries.objects.filter(name__in=names).values_list("name", "labels", "value"):
        rows[name].append((json.loads(labels), value))
    for metric in sorted(_DECLARED.values(), key=lambda m: m.name):
        if metric.kind == COUNTER:
            family = CounterMetricFamily(metric.name, metric.documentation, labels=metric.labelnames)
            values = {_key(metric, labels): value for labels, value in rows[metric.name]}
            for key in metric.initial:
                values.setdefault(key, 0.0)
            for key, value in sorted(values.items()):
                family.add_metric(list(key), value)
            yield family
            continue
        family = HistogramMetricFamily(metric.name, metric.documentation, labels=metric.labelnames)
        sums = {_key(metric, labels): value for labels, value in rows[f"{metric.name}_sum"]}
        buckets: dict[tuple, dict[str, float]] = defaultdict(dict)
        for labels, value in rows[f"{metric.name}_bucket"]:
            buckets[_key(metric, labels)][labels.get("le", "+Inf")] = value
        for key, sum_value in sorted(sums.items()):
            # Stored cumulatively already (observe() adds to every bound at or above the value); a bound
            # with no row had no observation at or below it.
            seen = buckets[key]
            family.add_metric(
                list(key), [(_le(b), seen.get(_le(b), 0.0)) for b in (*metric.buckets, float("inf"))], sum_value
            )
        yield family


def _key(metric: StoredMetric, labels: dict) -> tuple[str, ...]:
    return tuple(labels.get(n, "") for n in metric.labelnames)


class _Collector:
    def collect(self) -> Iterator[Metric]:
        yield from _stored_families()
        for collect in _COLLECTORS:
            yield from collect()


def exposition() -> bytes:
    """The metrics in Prometheus' text format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector())
    return generate_latest(registry)


def _client_allowed(request: HttpRequest, networks: list) -> bool:
    try:
        address = ipaddress.ip_address(client_address(request))
    except ValueError:
        return False
    return any(address in network for network in networks)


def _token_ok(request: HttpRequest, token: str) -> bool:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """GET /metrics: 404 while disabled, 401 without the metrics token, 403 from an address not allowed."""
    token = settings.DRIFTWATCH_METRICS_TOKEN
    networks = settings.DRIFTWATCH_METRICS_ALLOWED_NETWORKS
    if not token and not networks:
        return JsonResponse(error_body("not_found", "Metrics are disabled."), status=404)
    if networks and not _client_allowed(request, networks):
        return JsonResponse(error_body("permission_denied", "This address may not read metrics."), status=403)
    if token and not _token_ok(request, token):
        response = JsonResponse(error_body("not_authenticated", "A valid metrics token is required."), status=401)
        response["WWW-Authenticate"] = 'Bearer realm="driftwatch-metrics"'
        return response
    # The classic 0.0.4 text format: what every Prometheus version parses (the names need no escaping).
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_PLAIN_0_0_4)
