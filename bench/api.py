"""Part 1: the drifts API at scale over real HTTP (gunicorn), each endpoint against its bare SQL floor."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import urllib3

from . import datagen
from .env import free_port
from .stats import repeat, summary_ms

ROOT = Path(__file__).resolve().parent.parent
API = "/api/v1/drifts"


class Gunicorn:
    """gunicorn driftwatch.wsgi -w 2, as in production, on a free loopback port."""

    def __init__(self, workers: int = 2) -> None:
        self.port = free_port()
        self.log = open(Path(os.environ["DRIFTWATCH_VAR_DIR"]) / "gunicorn.log", "w")  # noqa: SIM115
        gunicorn = Path(sys.executable).with_name("gunicorn")
        self.proc = subprocess.Popen(
            [str(gunicorn), "driftwatch.wsgi", "-w", str(workers), "--bind", f"127.0.0.1:{self.port}"],
            cwd=ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.pool = urllib3.HTTPConnectionPool("127.0.0.1", self.port, maxsize=8, retries=urllib3.Retry(1))
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if self.pool.request("GET", "/healthz").status == 200:
                    return
            except urllib3.exceptions.HTTPError:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.3)
        raise RuntimeError(f"gunicorn did not start; see {self.log.name}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def _token() -> str:
    from django.contrib.auth import get_user_model

    from driftwatch.models import ApiToken
    from driftwatch.roles import group_for_scope

    user, _ = get_user_model().objects.get_or_create(username="bench", defaults={"is_staff": True})
    user.groups.add(group_for_scope("admin"))
    _, raw = ApiToken.issue(user, name="bench", scope="admin")
    return raw


def _request(pool, method: str, path: str, token: str, body: dict | None = None, expect: int = 200) -> bytes:
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    data = None
    if body is not None:
        headers["Content-Type"] = "application/json"
        data = json.dumps(body).encode()
    response = pool.request(method, path, body=data, headers=headers, retries=False)
    if response.status != expect:
        raise RuntimeError(f"{method} {path} -> {response.status}: {response.data[:300]!r}")
    return response.data


# --- the SQL floor: the same statements, captured once in-process and replayed through psycopg ---------


def capture(method: str, path: str, token: str, body: dict | None = None) -> list[str]:
    """The SQL one in-process request runs (a PATCH is rolled back so the drift stays as it was)."""
    from django.db import connection, transaction
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    with CaptureQueriesContext(connection) as ctx:
        if method == "PATCH":
            with transaction.atomic():
                response = client.patch(path, data=json.dumps(body), content_type="application/json")
                transaction.set_rollback(True)
        else:
            response = client.get(path)
    if response.status_code != 200:
        raise RuntimeError(f"in-process {method} {path} -> {response.status_code}")
    return [q["sql"] for q in ctx.captured_queries]


def _kind(sql: str) -> str:
    upper = sql.lstrip().upper()
    # Transaction control: the replay opens its own transaction where the request had one.
    if upper.startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK", "BEGIN", "COMMIT")):
        return "tx"
    if "driftwatch_apitoken" in sql:
        return "auth"
    if "COUNT(" in upper or "drifts_driftcount" in sql:
        return "count"
    return "rows"


def floors(queries: list[str], is_list: bool) -> dict[str, list[str]]:
    """rows: what returns the page (the issue's floor); data: plus the total; all: plus authentication."""
    kinds = [(_kind(q), q) for q in queries]
    data = [q for k, q in kinds if k in {"rows", "count"}]
    rows = [q for k, q in kinds if k == "rows" or (k == "count" and not is_list)]
    return {
        "rows": rows,
        "data": data,
        "all": [q for k, q in kinds if k != "tx"],
        "count": [q for k, q in kinds if k == "count"],
    }


def run_statements(conn: psycopg.Connection, statements: list[str], write: bool = False) -> None:
    """Run the statements back to back (results fetched); writes inside a rolled-back transaction."""
    if write:
        with conn.transaction(force_rollback=True):
            for sql in statements:
                cur = conn.execute(sql)
                if cur.description:
                    cur.fetchall()
    else:
        for sql in statements:
            cur = conn.execute(sql)
            if cur.description:
                cur.fetchall()


def replay(
    conn: psycopg.Connection, statements: list[str], count: int, budget: float, write: bool = False
) -> list[float]:
    """Time the statements run back to back, up to count times or budget seconds."""
    return repeat(lambda _i: run_statements(conn, statements, write), count, budget)


# --- measurements ------------------------------------------------------------------------------------


BARE = "/bench/drifts"
_SAVEPOINT = re.compile(r'"s\d+_x\d+"')


def _endpoints(dsn: str) -> dict[str, tuple[str, str, str]]:
    """label -> (method, API path, bare view path); a PATCH's paths get a fresh drift id each time."""
    with psycopg.connect(dsn) as conn:
        provider_id = conn.execute("SELECT id FROM providers_provider ORDER BY id OFFSET 2 LIMIT 1").fetchone()[0]
        detail_id = conn.execute(
            "SELECT id FROM drifts_drift WHERE status <> 'resolved' ORDER BY id LIMIT 1 OFFSET 1000"
        ).fetchone()[0]
    queries = {
        "list (default page)": "",
        "list ?severity=critical&status=detected": "?severity=critical&status=detected",
        "list ?provider_id": f"?provider_id={provider_id}",
        "list ?page=2000 (deep)": "?page=2000",
    }
    out = {label: ("GET", API + q, BARE + q) for label, q in queries.items()}
    out["summary"] = ("GET", f"{API}/summary", f"{BARE}/summary")
    out["detail"] = ("GET", f"{API}/{detail_id}", f"{BARE}/{detail_id}")
    out["PATCH -> investigating"] = ("PATCH", API, BARE)
    return out


def compare(method: str, api_path: str, bare_path: str, token: str, body: dict | None = None) -> dict:
    """Run one request through the API and through its bare view, in-process, each in a rolled-back
    transaction under the same frozen clock: are the statements (SQL and parameters) and the bytes equal?"""
    from unittest import mock

    from django.db import connection, transaction
    from django.test import Client
    from django.utils import timezone

    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    frozen = timezone.now()
    seen: dict[str, tuple[list, bytes]] = {}
    for side, path in (("api", api_path), ("bare", bare_path)):
        statements: list = []

        def record(execute, sql, params, many, context, statements=statements):
            # Savepoint names are per-call counters, and a parameter list may be a tuple or a list.
            shown = _SAVEPOINT.sub('"<savepoint>"', sql)
            statements.append((shown, tuple(params) if isinstance(params, list | tuple) else params))
            return execute(sql, params, many, context)

        with mock.patch("django.utils.timezone.now", return_value=frozen), connection.execute_wrapper(record):
            with transaction.atomic():
                if method == "PATCH":
                    response = client.patch(path, data=json.dumps(body), content_type="application/json")
                else:
                    response = client.get(path, HTTP_ACCEPT="application/json")
                transaction.set_rollback(True)
        if response.status_code != 200:
            raise RuntimeError(f"in-process {method} {path} -> {response.status_code}: {response.content[:300]!r}")
        seen[side] = (statements, response.content)
    return {
        "same_sql": seen["api"][0] == seen["bare"][0],
        "same_bytes": seen["api"][1] == seen["bare"][1],
        "statements": len(seen["api"][0]),
        "bytes": len(seen["api"][1]),
    }


def interleaved(fns: dict, count: int, budget: float, warmup: int = 2) -> dict[str, list[float]]:
    """Call each fn(i) in turn, rotating who goes first, up to count rounds (at least 5) or budget seconds:
    the sides of a comparison share the same moments of a shared, noisy machine."""
    names = list(fns)
    for i in range(warmup):
        for name in names:
            fns[name](-1 - i)
    samples: dict[str, list[float]] = {name: [] for name in names}
    deadline = time.perf_counter() + budget
    for i in range(count):
        k = i % len(names)
        for name in names[k:] + names[:k]:
            t0 = time.perf_counter()
            fns[name](i)
            samples[name].append(time.perf_counter() - t0)
        if i >= 4 and time.perf_counter() > deadline:
            break
    return samples


def measure_endpoints(gun: Gunicorn, token: str, dsn: str, count: int, budget: float) -> dict:
    """Per endpoint, side by side in one loop: the API, its bare view, /healthz and its SQL replayed."""
    endpoints = _endpoints(dsn)
    with psycopg.connect(dsn) as conn:
        fresh = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM drifts_drift WHERE status = 'detected' ORDER BY id DESC LIMIT %s", [2 * count + 20]
            )
        ]
    out = {}
    floor_conn = psycopg.connect(dsn, autocommit=True)
    body = {"status": "investigating", "note": "bench"}
    try:
        for label, (method, api_path, bare_path) in endpoints.items():
            write = method == "PATCH"
            if write:
                # Still detected: compared and captured in rolled-back transactions, replayed the same way.
                target = fresh.pop()
                checked = compare("PATCH", f"{api_path}/{target}", f"{bare_path}/{target}", token, body)
                queries = capture("PATCH", f"{api_path}/{target}", token, body)
                ids = iter(fresh)
                fns = {
                    "api": lambda _i, ids=ids, p=api_path: _request(gun.pool, "PATCH", f"{p}/{next(ids)}", token, body),
                    "bare": lambda _i, ids=ids, p=bare_path: _request(
                        gun.pool, "PATCH", f"{p}/{next(ids)}", token, body
                    ),
                }
            else:
                checked = compare("GET", api_path, bare_path, token)
                queries = capture("GET", api_path, token)
                fns = {
                    "api": lambda _i, p=api_path: _request(gun.pool, "GET", p, token),
                    "bare": lambda _i, p=bare_path: _request(gun.pool, "GET", p, token),
                }
            parts = floors(queries, is_list=label.startswith("list"))
            fns["healthz"] = lambda _i: gun.pool.request("GET", "/healthz")
            fns["sql"] = lambda _i, q=parts["all"], w=write: run_statements(floor_conn, q, w)
            filtered = label.startswith("list ?") and "page=" not in label
            if filtered:  # a filtered list is compared with the unfiltered one in the same loop
                fns["unfiltered"] = lambda _i: _request(gun.pool, "GET", API, token)
            # Each side gets the time budget one endpoint used to have alone.
            samples = interleaved(fns, count, budget * len(fns))
            row = {
                "path": api_path if not write else f"{api_path}/<fresh detected id>",
                "bare_path": bare_path if not write else f"{bare_path}/<fresh detected id>",
                "method": method,
                "queries": len(queries),
                **checked,
                **summary_ms(samples["api"]),
                "bare": summary_ms(samples["bare"]),
                "healthz": summary_ms(samples["healthz"]),
                "floor_all": summary_ms(samples["sql"]),
            }
            if filtered:
                row["unfiltered"] = summary_ms(samples["unfiltered"])
                row["ratio_vs_unfiltered"] = row["p50_ms"] / row["unfiltered"]["p50_ms"]
            for name in ("rows", "data"):
                row[f"floor_{name}"] = summary_ms(replay(floor_conn, parts[name], count, budget / 4, write=write))
            row["ratio_vs_bare"] = row["p50_ms"] / row["bare"]["p50_ms"]
            row["sql_limit_ms"] = row["healthz"]["p50_ms"] + 2 * row["floor_all"]["p50_ms"]
            row["ratio_vs_sql_limit"] = row["p50_ms"] / row["sql_limit_ms"]
            row["ratio_vs_floor"] = row["p50_ms"] / row["floor_rows"]["p50_ms"]
            row["sql"] = parts["all"]
            out[label] = row
    finally:
        floor_conn.close()
    return out


def measure_totals(gun: Gunicorn, token: str, dsn: str, count: int, budget: float) -> dict:
    """What meta.total and the summary cost at the current table size (HTTP p50 and the count SQL alone)."""
    out = {}
    floor_conn = psycopg.connect(dsn, autocommit=True)
    try:
        for label, path in (("list", API), ("summary", f"{API}/summary")):
            samples = repeat(lambda _i, p=path: _request(gun.pool, "GET", p, token), count, budget)
            queries = capture("GET", path, token)
            counting = floors(queries, is_list=label == "list")["count"]
            out[label] = {
                **summary_ms(samples),
                "count_sql": counting,
                "count_sql_ms": summary_ms(replay(floor_conn, counting, count, budget / 2))["p50_ms"]
                if counting
                else 0.0,
            }
    finally:
        floor_conn.close()
    return out


def throughput(gun: Gunicorn, token: str, path: str, clients: int, seconds: float) -> dict:
    """Requests per second with `clients` concurrent keep-alive clients hammering one page."""
    done = [0] * clients
    errors = [0] * clients
    stop = time.perf_counter() + seconds

    def worker(i: int) -> None:
        pool = urllib3.HTTPConnectionPool("127.0.0.1", gun.port, maxsize=1, retries=urllib3.Retry(1))
        headers = {"Authorization": f"Bearer {token}"}
        while time.perf_counter() < stop:
            r = pool.request("GET", path, headers=headers)
            if r.status == 200:
                done[i] += 1
            else:
                errors[i] += 1

    _request(gun.pool, "GET", path, token)  # warm both workers' code paths
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    return {"rps": sum(done) / elapsed, "requests": sum(done), "errors": sum(errors), "seconds": elapsed}


def run(dsn: str, quick: bool) -> dict:
    """The whole API part: small data set, totals; large data set, endpoints, floors, throughput."""
    small = (10_000, 1_000)
    large = (100_000, 10_000) if quick else (1_000_000, 100_000)
    count, budget = (30, 3.0) if quick else (100, 5.0)
    result: dict = {"sizes": {"small": small, "large": large}}
    result["generation_small"] = datagen.generate(dsn, *small)
    gun = Gunicorn()
    try:
        token = _token()
        for _ in range(20):  # warm both workers (imports, URL resolver, connections) before timing
            _request(gun.pool, "GET", API, token)
        result["totals_small"] = measure_totals(gun, token, dsn, count, budget / 2)
        result["generation"] = datagen.generate(dsn, *large)
        token = _token()
        result["totals_large"] = measure_totals(gun, token, dsn, count, budget / 2)
        result["http_floor"] = summary_ms(repeat(lambda _i: gun.pool.request("GET", "/healthz"), count, budget / 2))
        result["endpoints"] = measure_endpoints(gun, token, dsn, count, budget)
        # Alternating short rounds, so a noisy neighbour on this shared machine hits both sides alike.
        rounds, seconds = (2, 2.0) if quick else (4, 2.0)
        same = _request(gun.pool, "GET", API, token) == _request(gun.pool, "GET", BARE, token)
        sides: dict[str, list[dict]] = {"api": [], "bare_view": []}
        for _ in range(rounds):
            sides["api"].append(throughput(gun, token, API, 8, seconds))
            sides["bare_view"].append(throughput(gun, token, BARE, 8, seconds))
        result["throughput"] = {"clients": 8, "rounds": rounds, "same_page": same}
        for side, runs in sides.items():
            requests, elapsed = sum(r["requests"] for r in runs), sum(r["seconds"] for r in runs)
            result["throughput"][side] = {
                "rps": requests / elapsed,
                "requests": requests,
                "errors": sum(r["errors"] for r in runs),
                "seconds": elapsed,
                "rounds_rps": [r["rps"] for r in runs],
            }
        result["throughput"]["ratio"] = result["throughput"]["api"]["rps"] / result["throughput"]["bare_view"]["rps"]
    finally:
        gun.stop()
    result["p50_note"] = (
        f"{count} rounds per endpoint at most ({budget:.0f} s budget each), each round one request to the API, "
        "its bare view and /healthz and one replay of its SQL, in rotating order"
    )
    return result
