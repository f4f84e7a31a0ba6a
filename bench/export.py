"""Part 4: GET /api/v1/drifts/export at 10,000 and 1,000,000 drifts against PostgreSQL's COPY of the same columns.

Each measurement runs in its own subprocess (`python -m bench.export --format csv`), which prints one JSON
line: the export goes through the real view (Django's test client, in-process: authentication, the drift
filterset, the streaming response), every chunk is consumed and counted, never kept; peak RSS is VmHWM
after `clear_refs`, so it is the peak of the export alone. The floor is `COPY (SELECT <the same columns,
joins and order>) TO STDOUT WITH CSV HEADER` read to the end through psycopg, in the same process.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from . import datagen

ROOT = Path(__file__).resolve().parent.parent

# The export's columns as plain SQL, in the export's order (read from drifts.export.COLUMNS, so the floor
# cannot fall behind a column the export gains), for the COPY floor.
_JOINED = {"resource_name": "r.name", "provider_name": "p.name"}


def _copy_sql() -> str:
    from drifts.export import COLUMNS

    columns = ", ".join(_JOINED.get(name, f"d.{name}") for name, _kind in COLUMNS)
    return (
        f"SELECT {columns} FROM drifts_drift d JOIN providers_resource r ON r.id = d.resource_id"
        " JOIN providers_provider p ON p.id = d.provider_id ORDER BY d.detected_at DESC, d.id DESC"
    )


def _rss_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def child(fmt: str) -> dict:
    """In the subprocess: one export through the view, then the COPY floor; returns the figures."""
    from . import env

    env.configure()
    env.setup_django()
    import psycopg
    from django.test import Client

    from .api import _token

    client = Client(HTTP_AUTHORIZATION=f"Bearer {_token()}")
    client.get("/api/v1/drifts?per_page=1")  # warm imports, URL resolver and the connection
    _reset_peak()
    before = _rss_kib("VmRSS")
    started = time.perf_counter()
    response = client.get(f"/api/v1/drifts/export?format={fmt}")
    if response.status_code != 200:
        raise RuntimeError(f"export -> {response.status_code}: {response.content[:300]!r}")
    first_byte = None
    size = rows = 0
    for chunk in response.streaming_content:
        if first_byte is None and chunk:
            first_byte = time.perf_counter() - started
        size += len(chunk)
        rows += chunk.count(b"\n")
    seconds = time.perf_counter() - started
    peak = max(0, _rss_kib("VmHWM") - before)
    response.close()

    with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
        t0 = time.perf_counter()
        copied = 0
        with conn.cursor().copy(f"COPY ({_copy_sql()}) TO STDOUT WITH CSV HEADER") as copy:
            for block in copy:
                copied += len(block)
        copy_seconds = time.perf_counter() - t0
    return {
        "format": fmt,
        "rows": rows - (1 if fmt == "csv" else 0),
        "bytes": size,
        "seconds": seconds,
        "first_byte_seconds": first_byte,
        "peak_rss_delta_mib": peak / 1024,
        "copy_seconds": copy_seconds,
        "copy_bytes": copied,
        "ratio_vs_copy": seconds / copy_seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--format", default="csv", choices=("csv", "ndjson"))
    args = parser.parse_args()
    print(json.dumps(child(args.format)), flush=True)


if __name__ == "__main__":
    main()


# --- parent side -----------------------------------------------------------------------------------


def _run_child(fmt: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "bench.export", "--format", fmt],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _drift_count(dsn: str) -> int:
    import psycopg

    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT count(*) FROM drifts_drift").fetchone()[0]


def run(dsn: str, quick: bool) -> dict:
    """Export CSV and NDJSON at the large size (reusing part 1's data set when it is there), then the small."""
    small = (10_000, 1_000)
    large = (100_000, 10_000) if quick else (1_000_000, 100_000)
    result: dict = {"sizes": {"small": small, "large": large}}
    if _drift_count(dsn) != large[0]:
        result["generation_large"] = datagen.generate(dsn, *large)
    result["large"] = {fmt: _run_child(fmt) for fmt in ("csv", "ndjson")}
    result["generation_small"] = datagen.generate(dsn, *small)
    result["small"] = {fmt: _run_child(fmt) for fmt in ("csv", "ndjson")}
    return result
