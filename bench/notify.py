"""Part 4: notifications. (a) Dispatch throughput: N events through the outbox, the dispatcher and the sender
to a local receiver, two workers (two subscriptions, one sender thread each, as two Celery workers would run
them), against a bare loop of the same signed HTTP posts on two threads. (b) What notifications add to a
drift scan of 10,000 resources with 1% drifted: the same scan with the outbox writes on and off.

`python -m bench --only notify [--quick]`.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent


class _Sink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the receiver is not what is measured
    disable_nagle_algorithm = True  # answers leave at once (no delayed-ACK stalls on loopback)

    def do_POST(self):  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.send_response(204)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def _receiver() -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _receiver_process() -> tuple[subprocess.Popen, int]:
    """The receiver in its own process, so it does not share the measured process's GIL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.notify", "--serve"], stdout=subprocess.PIPE, text=True, cwd=_ROOT
    )
    port = int(process.stdout.readline())
    return process, port


def _two(fn, args: list) -> float:
    """Run fn(arg) on two threads at once; seconds until both are done."""
    threads = [threading.Thread(target=fn, args=(a,)) for a in args]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - t0


def throughput(events: int, rounds: int = 3) -> dict:
    from django.db import connections
    from django.test.utils import override_settings

    from driftwatch import outbound, outbox
    from driftwatch.models import OutboxEvent
    from notifications import services
    from notifications.dispatch import dispatch_events
    from notifications.models import Delivery, Subscription
    from notifications.sending import USER_AGENT, send_pending
    from notifications.signing import signed_headers

    server, port = _receiver_process()
    url = f"http://127.0.0.1:{port}/hook"
    with override_settings(DRIFTWATCH_OUTBOUND_ALLOW_HTTP=True, DRIFTWATCH_OUTBOUND_PRIVATE_HOSTS=["127.0.0.1"]):
        Delivery.objects.all().delete()
        Subscription.objects.all().delete()
        OutboxEvent.objects.all().delete()
        subs = [
            services.create_subscription(
                {"name": f"bench-{p}", "channel": "webhook", "url": url, "provider_ids": [p]}, None
            )
            for p in (1, 2)
        ]
        tag = uuid.uuid4().hex[:6]
        rows = [
            (
                "drift.detected",
                {
                    "drift": {
                        "id": i,
                        "resource_id": i,
                        "resource_name": f"bench-{tag}-{i}",
                        "resource_type": "s3_bucket",
                        "provider_id": 1 + i % 2,
                        "provider_name": "bench",
                        "path": "Versioning",
                        "drift_type": "configuration",
                        "severity": "medium",
                        "status": "detected",
                        "summary": "S3 bucket Versioning changed from Enabled to Suspended",
                        "baseline_value": "Enabled",
                        "current_value": "Suspended",
                        "detected_at": "2026-01-01T00:00:00Z",
                        "job_id": None,
                        "resolution": None,
                    }
                },
                None,
            )
            for i in range(events)
        ]
        outbox.emit_many(rows)  # the scan's side (measured in part b), not timed here

        def send(sub_id: int) -> None:
            send_pending(sub_id)
            connections.close_all()

        secrets = {s.pk: secret for s, secret in subs}

        def bare(sub_id: int) -> None:
            for message_id, body, owner in bodies:
                if owner != sub_id:
                    continue
                headers = {"content-type": "application/json", "user-agent": USER_AGENT}
                headers.update(signed_headers([secrets[owner]], message_id, int(time.time()), body))
                outbound.request("POST", url, headers=headers, body=body, timeout=10, max_bytes=64 * 1024)

        # Best of three, alternating, since a shared machine's noise is larger than what is measured.
        runs, bare_runs = [], []
        for _ in range(rounds):
            Delivery.objects.all().delete()
            OutboxEvent.objects.update(dispatched_at=None)
            t0 = time.perf_counter()
            dispatch_events()
            t_dispatch = time.perf_counter() - t0
            t_send = _two(send, [s.pk for s, _secret in subs])
            runs.append((time.perf_counter() - t0, t_dispatch, t_send))
            delivered = Delivery.objects.filter(status="succeeded").count()
            bodies = [
                (d.message_id, d.body.encode(), d.subscription_id)
                for d in Delivery.objects.only("message_id", "body", "subscription_id").order_by("id")
            ]
            bare_runs.append(_two(bare, [s.pk for s, _secret in subs]))
        total, t_dispatch, t_send = min(runs)
        t_bare = min(bare_runs)
    server.terminate()
    server.wait(timeout=10)
    return {
        "events": events,
        "delivered": delivered,
        "dispatch_seconds": t_dispatch,
        "send_seconds": t_send,
        "total_seconds": total,
        "events_per_s": events / total,
        "bare_seconds": t_bare,
        "all_rounds": [r[0] for r in runs],
        "all_bare": bare_runs,
        "bare_per_s": events / t_bare,
        "ratio_vs_bare": t_bare / total,
    }


def scan_overhead(size: int) -> dict:
    """The same 1%-drifted scan with the outbox writes on and off (best of two each, alternating)."""
    from bench import engine
    from drifts import events

    real = (events.emit_detected, events.emit_moves, events.emit_job_finished)

    def off() -> None:
        events.emit_detected = events.emit_moves = events.emit_job_finished = lambda *a, **k: None

    def on() -> None:
        events.emit_detected, events.emit_moves, events.emit_job_finished = real

    timings: dict[str, list[float]] = {"on": [], "off": []}
    new_drifts = 0
    try:
        for round_ in range(2):
            for mode in ("off", "on") if round_ == 0 else ("on", "off"):
                tag = uuid.uuid4().hex[:8]
                estate = engine.make_estate(size, tag)
                drifted, _changed = engine.drift(estate)
                provider = engine._provider(tag)
                off()
                engine.scan(provider, estate, "baseline")
                on() if mode == "on" else off()
                t0 = time.perf_counter()
                result = engine.scan(provider, drifted, "drift")
                timings[mode].append(time.perf_counter() - t0)
                new_drifts = result["new"]
    finally:
        on()
    best_on, best_off = min(timings["on"]), min(timings["off"])
    return {
        "resources": size,
        "new_drifts": new_drifts,
        "seconds_on": best_on,
        "seconds_off": best_off,
        "all_on": timings["on"],
        "all_off": timings["off"],
        "overhead": (best_on - best_off) / best_off,
    }


def run(quick: bool) -> dict:
    return {
        "throughput": throughput(2_000 if quick else 10_000),
        "scan": scan_overhead(2_000 if quick else 10_000),
    }


def main() -> None:
    """`python -m bench.notify [--quick]`: this part alone, printed as the bench table's rows."""
    import argparse
    import json
    import os

    from bench import env

    parser = argparse.ArgumentParser(prog="python -m bench.notify")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--serve", action="store_true", help="only run the receiver; print its port")
    args = parser.parse_args()
    if args.serve:
        server = _receiver()
        print(server.server_address[1], flush=True)
        threading.Event().wait()
    env.configure()
    # This part needs no bench URL; driftwatch.settings directly (bench.settings is for the API part).
    os.environ["DJANGO_SETTINGS_MODULE"] = "driftwatch.settings"
    env.ensure_database(os.environ["DATABASE_URL"])
    env.setup_django()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    from bench import report

    results = {"notify": run(args.quick)}
    print(report.table(results))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
