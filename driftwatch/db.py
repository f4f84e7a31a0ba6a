"""Query building blocks any app may use."""

from django.db.models import Aggregate, Count, QuerySet, Subquery, TextField
from django.db.models.functions import Coalesce


def subquery_count(rows: QuerySet, group_by: str) -> Coalesce:
    """COUNT(*) of `rows` (correlated to the outer query by OuterRef) as an annotation, 0 when none match.

    One query per page, never one per row. `group_by` is the correlated column.
    """
    # order_by() drops the model's default ordering, which would otherwise join the GROUP BY.
    counted = rows.order_by().values(group_by).annotate(c=Count("*")).values("c")
    return Coalesce(Subquery(counted[:1]), 0)


class JoinedText(Aggregate):
    """The values of a text expression joined by commas: STRING_AGG on PostgreSQL, GROUP_CONCAT on SQLite."""

    function = "STRING_AGG"
    template = "%(function)s(%(expressions)s, ',')"
    output_field = TextField()

    def as_sqlite(self, compiler, connection, **extra_context):
        return super().as_sql(compiler, connection, function="GROUP_CONCAT", **extra_context)
