"""Drift counts from the trigger-maintained DriftCount table, with COUNT(*) only as a fallback.

The triggers live in migration 0003 (PostgreSQL: statement-level with transition tables; SQLite: row
level). Filters on columns the table does not have (resource_id, detected_at) fall back to COUNT.
"""

import importlib

from django.db import connection, connections, router, transaction
from django.db.models import Q, Sum

from driftwatch.db import PreparedQuery

from .models import DriftCount

KEY = ("provider_id", "resource_type", "severity", "drift_type", "status")

# filter name in the API -> DriftCount column (lists mean "any of")
_COUNTABLE = {
    "provider_id": "provider_id",
    "resource_type": "resource_type",
    "severity": "severity",
    "type": "drift_type",
    "status": "status",
}


def counter_filter(cleaned: dict) -> Q | None:
    """The DriftCount filter equivalent to the API's cleaned filters, or None when it cannot answer."""
    shape = _shape(cleaned)
    if shape is None:
        return None
    q = Q()
    for column, value in shape:
        q &= Q(**{f"{column}__in": list(value)}) if isinstance(value, tuple) else Q(**{column: value})
    return q


def _shape(cleaned: dict) -> tuple | None:
    """(column, values) per given filter, lists without repeats; None when the counters cannot answer."""
    shape = []
    for name, value in cleaned.items():
        if value in (None, "", []):
            continue
        column = _COUNTABLE.get(name)
        if column is None:
            return None
        shape.append((column, tuple(dict.fromkeys(value)) if isinstance(value, list) else value))
    return tuple(shape)


# One compiled query per combination of filters (and list lengths): there are a few dozen at most.
_GROUPED: dict[tuple, PreparedQuery] = {}


def _grouped_query(key: tuple) -> PreparedQuery:
    """The (severity, status, n) query for filters of this shape: ((column, list length or type), ...)."""
    query = _GROUPED.get(key)
    if query is None:
        params: dict[str, type] = {}
        for i, (_column, kind) in enumerate(key):
            if isinstance(kind, int):
                params.update({f"p{i}_{j}": str for j in range(kind)})
            else:
                params[f"p{i}"] = kind

        def build(**values):
            q = Q()
            for i, (column, kind) in enumerate(key):
                if isinstance(kind, int):
                    q &= Q(**{f"{column}__in": [values[f"p{i}_{j}"] for j in range(kind)]})
                else:
                    q &= Q(**{column: values[f"p{i}"]})
            return DriftCount.objects.filter(q).values_list("severity", "status").annotate(total=Sum("n"))

        query = _GROUPED[key] = PreparedQuery(build, **params)
    return query


def grouped(cleaned: dict) -> list[tuple[str, str, int]] | None:
    """(severity, status, n) rows for the filters, or None when the counters cannot answer.

    At most one row per severity and status; the summary and meta.total both read it (compiled once per
    shape of filters, run on every request).
    """
    shape = _shape(cleaned)
    if shape is None:
        return None
    key = tuple((column, len(value) if isinstance(value, tuple) else type(value)) for column, value in shape)
    values = {}
    for i, (_column, value) in enumerate(shape):
        if isinstance(value, tuple):
            values.update({f"p{i}_{j}": v for j, v in enumerate(value)})
        else:
            values[f"p{i}"] = value
    return _grouped_query(key).run(router.db_for_read(DriftCount), **values)


def total(cleaned: dict) -> int | None:
    """Exact number of drifts matching the filters, or None when the counters cannot answer."""
    rows = grouped(cleaned)
    return None if rows is None else sum(n for _severity, _status, n in rows)


def rebuild_counts() -> None:
    """Recompute every counter from drifts_drift (after a bulk load that bypassed triggers, or to repair)."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # Writers wait while we recount, so no change slips between the delete and the insert.
                cursor.execute("LOCK TABLE drifts_drift IN SHARE MODE")
            _recount(cursor)


SQLITE_TRIGGERS = ("drifts_count_ins", "drifts_count_upd", "drifts_count_del")


def ensure_sqlite_triggers(using: str = "default", **kwargs) -> bool:
    """Put the counting triggers back on SQLite when a migration lost them; True when it repaired.

    SQLite cannot alter most columns in place, so Django's migrations rebuild drifts_drift (a new table,
    a copy, a rename), and a rebuilt table has none of the old one's triggers: every later drift went
    uncounted and the API showed none. Runs after every `migrate` (post_migrate); on PostgreSQL the
    statement-level triggers survive ALTER TABLE and there is nothing to do.
    """
    conn = connections[using]
    if conn.vendor != "sqlite" or "drifts_drift" not in conn.introspection.table_names():
        return False
    with conn.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'drifts_drift'")
        if {row[0] for row in cursor.fetchall()} >= set(SQLITE_TRIGGERS):
            return False
    statements = importlib.import_module("drifts.migrations.0003_driftcount")._SQLITE  # the triggers as created
    with transaction.atomic(using=using), conn.cursor() as cursor:
        for name in SQLITE_TRIGGERS:
            cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
        for statement in statements:
            cursor.execute(statement)
        _recount(cursor)
    return True


def _recount(cursor) -> None:
    cursor.execute("DELETE FROM drifts_driftcount")
    cursor.execute(
        f"INSERT INTO drifts_driftcount ({', '.join(KEY)}, n) "
        f"SELECT {', '.join(KEY)}, COUNT(*) FROM drifts_drift GROUP BY {', '.join(KEY)}"
    )
