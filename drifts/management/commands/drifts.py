"""manage.py drifts: list findings with the list endpoint's filters, as a table, JSON, NDJSON or CSV.

The filters are the API's own (drifts.api.filters.DriftFilter), so `--severity critical,high` means here
exactly what `?severity=critical,high` means there. JSON, NDJSON and CSV are the export's rows
(drifts.export), streamed: memory stays flat whatever the number of findings.
"""

import shutil
import sys

from django.core.management.base import BaseCommand, CommandError
from django.http import QueryDict

from drifts import export
from drifts.api.filters import DriftFilter
from drifts.models import Drift

# CLI option -> the list endpoint's query parameter.
FILTERS = {
    "provider_id": "provider_id",
    "resource_id": "resource_id",
    "severity": "severity",
    "type": "type",
    "status": "status",
    "resource_type": "resource_type",
    "detected_after": "detected_after",
    "detected_before": "detected_before",
}
TABLE_COLUMNS = ("id", "severity", "status", "drift_type", "resource_type", "resource__name", "summary", "detected_at")
TABLE_HEADER = ("ID", "SEVERITY", "STATUS", "TYPE", "RESOURCE TYPE", "RESOURCE", "SUMMARY", "DETECTED")


class Command(BaseCommand):
    help = "List drift findings (newest first) with the API's filters: a table on a terminal, else JSON."

    def add_arguments(self, parser):
        parser.add_argument("--provider-id", help="Only this provider's findings.")
        parser.add_argument("--resource-id", help="Only this resource's findings.")
        parser.add_argument("--severity", help="critical, high, medium or low; several comma-separated.")
        parser.add_argument("--type", help="configuration, security or compliance; several comma-separated.")
        parser.add_argument("--status", help="detected, investigating or resolved; several comma-separated.")
        parser.add_argument("--resource-type", help="e.g. s3_bucket")
        parser.add_argument("--detected-after", help="ISO 8601; findings detected at or after.")
        parser.add_argument("--detected-before", help="ISO 8601; findings detected before.")
        parser.add_argument(
            "--format",
            dest="output_format",
            choices=("table", "json", "ndjson", "csv"),
            default=None,
            help="table (the default on a terminal), json (an array; the default otherwise), ndjson or csv.",
        )
        parser.add_argument("--limit", type=int, default=None, help="At most this many findings.")

    def handle(self, *args, output_format, limit, **options):
        params = QueryDict(mutable=True)
        for option, name in FILTERS.items():
            if options.get(option) not in (None, ""):
                params[name] = options[option]
        filterset = DriftFilter(params, queryset=Drift.objects.order_by("-detected_at", "-id"))
        if not filterset.is_valid():
            problems = "; ".join(
                f"--{name.replace('_', '-')}: {' '.join(errors)}" for name, errors in filterset.errors.items()
            )
            raise CommandError(problems)
        if limit is not None and limit < 1:
            raise CommandError("--limit must be a positive number")
        queryset = filterset.qs[:limit] if limit else filterset.qs
        fmt = output_format or ("table" if self.stdout.isatty() else "json")
        if fmt == "table":
            self._table(queryset)
        elif fmt == "json":
            self._json_array(queryset)
        else:
            for chunk in export.lines(queryset, fmt):
                self.stdout.write(chunk, ending="")

    def _json_array(self, queryset) -> None:
        """A JSON array built from the NDJSON stream: one object per line, commas between."""
        self.stdout.write("[", ending="")
        first = True
        for chunk in export.lines(queryset, "ndjson"):
            for line in chunk.splitlines():
                self.stdout.write(("\n" if first else ",\n") + line, ending="")
                first = False
        self.stdout.write("\n]" if not first else "]")

    def _table(self, queryset) -> None:
        width = shutil.get_terminal_size((160, 24)).columns if sys.stdout.isatty() else 160
        rows = queryset.select_related("resource").values_list(*TABLE_COLUMNS)
        widths = [6, 8, 13, 13, 20, 28]
        fixed = sum(widths) + 20 + 2 * len(TABLE_HEADER)
        summary_width = max(20, width - fixed)

        def line(cells) -> str:
            parts = [str(c)[:w].ljust(w) for c, w in zip(cells[:6], widths, strict=True)]
            parts.append(str(cells[6])[:summary_width].ljust(summary_width))
            parts.append(str(cells[7]))
            return "  ".join(parts).rstrip()

        self.stdout.write(line(TABLE_HEADER))
        count = 0
        for values in rows.iterator(chunk_size=2000):
            *cells, detected_at = values
            cells[6] = " ".join(str(cells[6]).split())  # one line per finding
            self.stdout.write(line([*cells, detected_at.strftime("%Y-%m-%dT%H:%M:%SZ")]))
            count += 1
        self.stdout.write(f"{count} finding(s)")
