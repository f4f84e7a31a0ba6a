"""The API's one pagination: ?page=&per_page=, answered as {"data": [...], "meta": {...}}."""

from rest_framework import pagination
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

MAX_PER_PAGE = 100
# positive_int_param refuses 19 digits and more; the schema says so too.
MAX_PARAM = 10**18 - 1
DEFAULT_PER_PAGE = 20
DEFERRED_JOIN_OFFSET = 1000


def positive_int_param(params, name: str, default: int) -> int:
    """A positive integer query parameter, or a 400 naming it."""
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18 or int(raw) < 1:
        raise ValidationError({name: [f"{name} must be a positive integer (below 10^18), got {raw[:40]!r}."]})
    return int(raw)


class PagePagination(pagination.BasePagination):
    """Offset pagination with an exact total; a page past the end is empty, never a 404."""

    def paginate_queryset(self, queryset, request, view=None):
        self.page = positive_int_param(request.query_params, "page", 1)
        self.per_page = min(positive_int_param(request.query_params, "per_page", DEFAULT_PER_PAGE), MAX_PER_PAGE)
        count = getattr(view, "count_queryset", None)
        self.total = count(queryset) if count else queryset.count()
        offset = (self.page - 1) * self.per_page
        if offset >= self.total:
            return []
        # A view may ask for rows as dicts (`page_values`): its columns are selected for the page only,
        # so neither the total nor the deep pages' id walk joins what those columns need.
        values = getattr(view, "page_values", None)
        rows = queryset.values(*values) if values else queryset
        if offset < DEFERRED_JOIN_OFFSET:
            # A view may serve the page from SQL it compiled once (`prepared_page`), None when it cannot.
            prepared = getattr(view, "prepared_page", None)
            page = prepared(offset, self.per_page) if prepared else None
            return list(rows[offset : offset + self.per_page]) if page is None else page
        # Deep pages: walk the (index-only) ordering for the page's ids first, then fetch just those
        # rows, instead of building and discarding `offset` full rows.
        ids = list(queryset.values_list("pk", flat=True)[offset : offset + self.per_page])
        if values:
            pk_name = queryset.model._meta.pk.attname
            by_pk = {row[pk_name]: row for row in rows.filter(pk__in=ids)}
        else:
            by_pk = {row.pk: row for row in rows.filter(pk__in=ids)}
        return [by_pk[pk] for pk in ids if pk in by_pk]

    def get_paginated_response(self, data) -> Response:
        return Response({"data": data, "meta": {"total": self.total, "page": self.page, "per_page": self.per_page}})

    def get_paginated_response_schema(self, schema: dict) -> dict:
        return {
            "type": "object",
            "required": ["data", "meta"],
            "properties": {
                "data": schema,
                "meta": {
                    "type": "object",
                    "required": ["total", "page", "per_page"],
                    "properties": {
                        "total": {"type": "integer", "minimum": 0},
                        "page": {"type": "integer", "minimum": 1},
                        "per_page": {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE},
                    },
                },
            },
        }

    def get_schema_operation_parameters(self, view) -> list[dict]:
        return [
            {
                "name": "page",
                "in": "query",
                "required": False,
                "description": "Page number (1-based). A page past the end is empty.",
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PARAM, "default": 1},
            },
            {
                "name": "per_page",
                "in": "query",
                "required": False,
                "description": f"Results per page, at most {MAX_PER_PAGE} (larger values count as {MAX_PER_PAGE}).",
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PARAM, "default": DEFAULT_PER_PAGE},
            },
        ]
