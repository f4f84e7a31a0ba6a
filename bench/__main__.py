"""`python -m bench [--quick] [--only api,engine,scan,export,notify]`: run the benchmarks, print one table."""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

from . import env


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes (under 2 minutes)")
    parser.add_argument("--only", default="api,engine,scan,export,notify", help="comma-separated parts to run")
    args = parser.parse_args()
    parts = {p.strip() for p in args.only.split(",") if p.strip()}

    env.configure()
    dsn = os.environ["DATABASE_URL"]
    env.ensure_database(dsn)
    env.setup_django()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)

    from . import api, engine, export, report, scan

    started = time.perf_counter()
    results: dict = {
        "mode": "quick" if args.quick else "full",
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "database": dsn.rsplit("/", 1)[-1],
    }
    log = lambda message: print(f"[bench {time.perf_counter() - started:6.1f}s] {message}", file=sys.stderr, flush=True)  # noqa: E731
    if "api" in parts:
        log("part 1: API (data generation, gunicorn, floors)")
        results["api"] = api.run(dsn, args.quick)
    if "engine" in parts:
        small, large, naive = (2_000, 10_000, 500) if args.quick else (10_000, 100_000, 2_000)
        budget = 40 if args.quick else 210
        log(f"part 2: engine at {small:,} (+ naive reference at {naive:,})")
        results["engine"] = {"small": engine.run_child(small, naive, budget)}
        log(f"part 2: engine at {large:,} (budget {budget} s)")
        results["engine"]["large"] = engine.run_child(large, 0, budget)
    if "scan" in parts:
        log("part 3: scan against moto")
        results["scan"] = scan.run(args.quick)
    if "export" in parts:
        log("part 4: export (CSV and NDJSON through the view) against COPY")
        results["export"] = export.run(dsn, args.quick)
    if "notify" in parts:
        from . import notify

        log("part 5: notifications (dispatch throughput, scan overhead)")
        results["notify"] = notify.run(args.quick)
    results["seconds"] = time.perf_counter() - started
    print(report.table(results))
    print(f"total {results['seconds']:.0f} s; figures in {report.write(results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
