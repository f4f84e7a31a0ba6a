"""Filter building blocks shared by the API's filtersets: strict ids and booleans, comma-separated choices."""

from collections.abc import Callable
from datetime import UTC

from django import forms
from django.core.exceptions import ImproperlyConfigured
from django.db import router
from django.db.models import QuerySet
from django.forms.utils import ErrorDict, ErrorList
from django_filters import rest_framework as filters
from django_filters.fields import IsoDateTimeField
from django_filters.utils import translate_validation
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from driftwatch.db import PreparedQuery

MAX_ID = 2**63 - 1
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


class IdFilter(filters.NumberFilter):
    """A positive integer id (bigint range), so no value reaches the database out of range."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


class StrictBooleanField(forms.Field):
    """true/false (also 1/0, yes/no); anything else is an error, not a silently ignored filter."""

    def clean(self, value):
        if value in (None, ""):
            return None
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        # The value goes in params: django-filter %-formats messages, so a "%" in user input must not be in it.
        raise forms.ValidationError("Expected true or false, got %(value)s.", params={"value": repr(str(value)[:40])})


@extend_schema_field(OpenApiTypes.BOOL)
class StrictBooleanFilter(filters.Filter):
    field_class = StrictBooleanField


class CsvChoiceField(forms.Field):
    """One value or a comma-separated list, each one of `choices`; errors name the allowed values."""

    def __init__(self, *args, choices=(), **kwargs):
        self.allowed = [c[0] if isinstance(c, tuple | list) else c for c in choices]
        super().__init__(*args, **kwargs)

    def clean(self, value):
        if value in (None, ""):
            return None
        # Exactly the documented pattern: no blanks around values, no empty items.
        values = str(value).split(",")
        unknown = [v for v in values if v not in self.allowed]
        if unknown:
            # User input goes in params: django-filter %-formats messages, so a "%" in it must not be in the text.
            raise forms.ValidationError(
                "Unknown value %(unknown)s; allowed values: %(allowed)s.",
                params={"unknown": ", ".join(repr(v) for v in unknown), "allowed": ", ".join(self.allowed)},
            )
        return values


class CsvChoiceFilter(filters.Filter):
    """Filter on one or several allowed values: ?severity=critical,high."""

    field_class = CsvChoiceField

    def __init__(self, *args, choices=(), **kwargs):
        self.allowed_choices = choices
        super().__init__(*args, choices=choices, **kwargs)

    def filter(self, qs, value):
        if not value:
            return qs
        if len(value) == 1:
            return qs.filter(**{self.field_name: value[0]})
        return qs.filter(**{f"{self.field_name}__in": value})


def csv_choice_schema(choices) -> dict:
    """OpenAPI schema for a CsvChoiceFilter parameter: a value or a comma-separated list of values."""
    allowed = [c[0] if isinstance(c, tuple | list) else c for c in choices]
    return {"type": "string", "pattern": rf"^({'|'.join(allowed)})(,({'|'.join(allowed)}))*$", "example": allowed[0]}


extend_schema_field({"type": "integer", "format": "int64", "minimum": 1, "maximum": MAX_ID})(IdFilter)


def choice_filter(choices, **kwargs) -> CsvChoiceFilter:
    """A CsvChoiceFilter whose OpenAPI parameter lists its allowed values."""
    documented = type("DocumentedCsvChoiceFilter", (CsvChoiceFilter,), {})
    extend_schema_field(csv_choice_schema(choices))(documented)
    return documented(choices=choices, **kwargs)


class UtcDateTimeField(IsoDateTimeField):
    """An ISO 8601 date-time converted to UTC: PostgreSQL refuses offsets beyond about 15 hours."""

    def clean(self, value):
        value = super().clean(value)
        if value is None:
            return None
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise forms.ValidationError("Date and time out of range.") from None


class UtcDateTimeFilter(filters.IsoDateTimeFilter):
    field_class = UtcDateTimeField


def text_filter(max_length: int, **kwargs) -> filters.CharFilter:
    """A CharFilter whose OpenAPI parameter states the length it accepts (longer values are a 400)."""
    documented = type("DocumentedCharFilter", (filters.CharFilter,), {})
    extend_schema_field({"type": "string", "maxLength": max_length})(documented)
    return documented(max_length=max_length, **kwargs)


class FilterResolver:
    """A FilterSet's filters, applied per request without building a FilterSet.

    Building one per request deep-copies every filter and builds a form, which costs more than the
    filtered query itself. This cleans each parameter with the fields of one FilterSet built once, in the
    FilterSet's order, and raises what django-filter would (`translate_validation` of the same errors),
    so the answers, the errors and the schema stay django-filter's. Fields and filters must hold no
    per-request state (true of django-filter's own and of this module's).
    """

    # Compiled pages kept per resolver: (shape of filters, offset, limit, columns) -> PreparedQuery.
    MAX_PREPARED = 256

    def __init__(self, filterset_class: type[filters.FilterSet]) -> None:
        self.filterset_class = filterset_class
        self._names = frozenset(filterset_class.base_filters)
        self._bound: list | None = None
        self._prepared: dict[tuple, PreparedQuery] = {}

    def _filters(self) -> list:
        if self._bound is None:
            template = self.filterset_class(queryset=self.filterset_class._meta.model._default_manager.none())
            fields = template.form.fields
            self._bound = [(name, filter_, fields[name]) for name, filter_ in template.filters.items()]
        return self._bound

    def resolve(self, params, queryset: QuerySet) -> tuple[QuerySet, dict]:
        """(queryset narrowed by the filters in `params`, their cleaned values by name); 400 on a bad value."""
        if self._names.isdisjoint(params):
            return queryset, {}
        cleaned, errors = {}, ErrorDict()
        for name, _filter, field in self._filters():
            try:
                cleaned[name] = field.clean(field.widget.value_from_datadict(params, {}, name))
            except forms.ValidationError as exc:
                errors[name] = ErrorList(exc.error_list)
        if errors:
            raise translate_validation(errors)
        for name, filter_, _field in self._filters():
            queryset = filter_.filter(queryset, cleaned[name])
        return queryset, cleaned

    def prepared_page(
        self, base: Callable[[], QuerySet], cleaned: dict, columns: tuple[str, ...], offset: int, limit: int
    ) -> list[dict] | None:
        """`base()` narrowed by the cleaned filters, as `.values(*columns)[offset:offset + limit]` rows, from
        SQL compiled once per shape of filters and slice; None when a value cannot be bound (a date-time).

        The same SQL the ORM would send for `resolve()`'s queryset: the filters are applied by the same
        filter objects, to stand-ins first.
        """
        shape, binds = [], {}
        for name, value in cleaned.items():
            if value in (None, "", []):
                continue
            if isinstance(value, list) and all(type(v) is str for v in value):
                shape.append((name, len(value)))
                binds.update({f"{name}_{j}": v for j, v in enumerate(value)})
            elif type(value) in (int, str):
                shape.append((name, type(value)))
                binds[name] = value
            else:
                return None
        key = (tuple(shape), columns, offset, limit)
        query = self._prepared.get(key)
        if query is None:
            if len(self._prepared) >= self.MAX_PREPARED:
                self._prepared.clear()
            query = self._prepared[key] = self._prepare(base, shape, columns, offset, limit)
        if query is _UNPREPARABLE:
            return None
        try:
            return query.run(router.db_for_read(self.filterset_class._meta.model), **binds)
        except ImproperlyConfigured:
            # A filter whose lookup rewrites its value (icontains): this shape is served by the ORM.
            self._prepared[key] = _UNPREPARABLE
            return None

    def _prepare(self, base, shape: list, columns: tuple, offset: int, limit: int) -> PreparedQuery:
        by_name = {name: filter_ for name, filter_, _field in self._filters()}
        params: dict[str, type] = {}
        for name, kind in shape:
            if isinstance(kind, int):
                params.update({f"{name}_{j}": str for j in range(kind)})
            else:
                params[name] = kind

        def build(**values) -> QuerySet:
            queryset = base()
            for name, kind in shape:
                value = [values[f"{name}_{j}"] for j in range(kind)] if isinstance(kind, int) else values[name]
                queryset = by_name[name].filter(queryset, value)
            return queryset.values(*columns)[offset : offset + limit]

        return PreparedQuery(build, **params)


# A shape of filters PreparedQuery cannot compile; remembered so it is tried once.
_UNPREPARABLE = object()
