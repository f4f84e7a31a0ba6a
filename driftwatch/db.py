"""Query building blocks any app may use."""

from collections.abc import Callable

from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Aggregate, Count, QuerySet, Subquery, TextField
from django.db.models.functions import Coalesce
from django.db.models.query import (
    FlatValuesListIterable,
    ModelIterable,
    ValuesIterable,
    ValuesListIterable,
    get_related_populators,
)


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


class PreparedQuery:
    """A queryset compiled to SQL once per database; each run binds fresh values and skips the ORM compiler.

    `build(**values)` returns the queryset. It is called once per database with a stand-in for each name
    in `params` (its type: str or int), and the SQL Django compiles is kept with the positions the
    stand-ins took. `run(**values)` sends that SQL with the caller's values in those positions: the
    statement still reaches the database every time, so nothing read is ever cached. Only parameters
    passed to the database as given work (equality, `in` with a fixed count); a lookup that rewrites its
    value (`icontains`) or a value Django inlines into the SQL (slices) is refused when compiling.

    Rows come back as the queryset would give them: model instances (with select_related), dicts from
    `.values()`, tuples or flat values from `.values_list()`. Annotations are set on instances;
    prefetches are not supported.
    """

    # Stand-ins no caller passes: a NUL byte never reaches PostgreSQL text, and ints well inside int32
    # (Django drops a lookup whose value is out of its field's range).
    _STR = "\x00prepared:{}\x00"
    _INT = -1_987_654_300

    def __init__(self, build: Callable[..., QuerySet], **params: type) -> None:
        self._build = build
        self._params = params
        self._compiled: dict[str, _Compiled] = {}

    def _compile(self, connection) -> "_Compiled":
        standins = {
            name: self._STR.format(name) if kind is str else self._INT - i
            for i, (name, kind) in enumerate(self._params.items())
        }
        queryset = self._build(**standins)
        if queryset._prefetch_related_lookups or queryset._known_related_objects:
            raise ImproperlyConfigured("PreparedQuery does not run prefetches")
        compiler = queryset.query.get_compiler(connection=connection)
        sql, params = compiler.as_sql()
        params = list(params)
        slots = {}
        for name, standin in standins.items():
            # The backend may wrap a value (psycopg's Int8 for a bigint column): runs wrap theirs alike.
            slots[name] = [(i, type(p)) for i, p in enumerate(params) if isinstance(p, type(standin)) and p == standin]
            if not slots[name]:
                raise ImproperlyConfigured(f"PreparedQuery: parameter {name!r} is not passed to the database as given")
        fields = [s[0] for s in compiler.select[: compiler.col_count]]
        compiled = _Compiled(sql, params, slots, list(compiler.get_converters(fields).items()), connection.alias)
        iterable = queryset._iterable_class
        if iterable is ModelIterable:
            klass_info, select = compiler.klass_info, compiler.select
            start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
            compiled.model = (
                klass_info["model"],
                start,
                end,
                [f[0].target.attname for f in select[start:end]],
                get_related_populators(klass_info, select, connection.alias),
                list(compiler.annotation_col_map.items()),  # set on each instance, as Django's ModelIterable does
            )
        elif iterable is ValuesIterable:
            query = queryset.query
            compiled.names = [*query.extra_select, *query.values_select, *query.annotation_select]
        elif iterable is FlatValuesListIterable:
            compiled.flat = True
        elif iterable is not ValuesListIterable:
            raise ImproperlyConfigured(f"PreparedQuery does not support {iterable.__name__}")
        return compiled

    def run(self, using: str = DEFAULT_DB_ALIAS, **values) -> list:
        """Execute with `values` (one per declared parameter); rows as the queryset would return them."""
        connection = connections[using]
        compiled = self._compiled.get(using)
        if compiled is None:
            compiled = self._compiled[using] = self._compile(connection)
        params = list(compiled.params)
        for name, positions in compiled.slots.items():
            value = values[name]
            if type(value) is not self._params[name]:
                raise TypeError(f"{name} must be {self._params[name].__name__}, got {type(value).__name__}")
            for position, wrap in positions:
                params[position] = value if wrap is type(value) else wrap(value)
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            rows = cursor.fetchall()
        if compiled.converters:
            rows = [list(row) for row in rows]
            for row in rows:
                for position, (convs, expression) in compiled.converters:
                    value = row[position]
                    for convert in convs:
                        value = convert(value, expression, connection)
                    row[position] = value
        return compiled.shape(rows)


class _Compiled:
    """One PreparedQuery's SQL for one database, and how to turn its rows into results."""

    def __init__(self, sql: str, params: list, slots: dict, converters: list, alias: str) -> None:
        self.sql, self.params, self.slots, self.converters, self.alias = sql, params, slots, converters, alias
        self.model = None
        self.names: list[str] | None = None
        self.flat = False

    def shape(self, rows: list) -> list:
        if self.model is not None:
            model, start, end, attnames, populators, annotations = self.model
            out = []
            for row in rows:
                obj = model.from_db(self.alias, attnames, row[start:end])
                for populator in populators:
                    populator.populate(row, obj)
                for name, position in annotations:
                    setattr(obj, name, row[position])
                out.append(obj)
            return out
        if self.names is not None:
            return [dict(zip(self.names, row, strict=True)) for row in rows]
        if self.flat:
            return [row[0] for row in rows]
        return [tuple(row) for row in rows]
