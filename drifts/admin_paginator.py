"""A changelist paginator that does not COUNT(*) millions of rows on every page view."""

import json

from django.core.paginator import Paginator
from django.db import DatabaseError, connections
from django.utils.functional import cached_property


class EstimatedCountPaginator(Paginator):
    """Exact count for small or filtered lists; PostgreSQL's planner estimate when that is large.

    COUNT(*) over a big table is a full (index) scan on PostgreSQL. The admin needs the count for
    page links only, so past `threshold` rows an estimate is good enough: pg_class.reltuples for
    the whole table, the planner's row estimate (EXPLAIN) for a filtered list. Other databases,
    and anything under the threshold, get the exact count.
    """

    threshold = 100_000

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if connections[queryset.db].vendor == "postgresql":
            estimate = self._estimate(queryset)
            if estimate is not None and estimate > self.threshold:
                return estimate
        return queryset.count()

    def _estimate(self, queryset) -> int | None:
        connection = connections[queryset.db]
        try:
            with connection.cursor() as cursor:
                if not queryset.query.where:
                    cursor.execute(
                        "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                        [connection.ops.quote_name(queryset.model._meta.db_table)],
                    )
                    row = cursor.fetchone()
                    # reltuples is -1 (PostgreSQL 14+) or 0 until the table was first analyzed.
                    return int(row[0]) if row and row[0] > 0 else None
                sql, params = queryset.order_by().values("pk").query.sql_with_params()
                cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
                plan = cursor.fetchone()[0]
                if isinstance(plan, str):
                    plan = json.loads(plan)
                return int(plan[0]["Plan"]["Plan Rows"])
        except (DatabaseError, KeyError, IndexError, TypeError, ValueError):
            return None
