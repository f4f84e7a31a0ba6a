"""A webhook receiver for trying notifications locally: prints each delivery and whether its Standard Webhooks
signature verifies. Dev only. `python -m devtools.webhook_receiver --port 9000 --secret whsec_...`; the
`make run` demo starts one in its own thread and points a "demo receiver" subscription at it."""

import argparse
import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from notifications.signing import verify


def describe(body: bytes) -> str:
    """One line for a delivery: its type and what it is about."""
    try:
        envelope = json.loads(body)
    except ValueError:
        return f"{len(body)} bytes (not JSON)"
    data = envelope.get("data", {})
    if "drift" in data:
        d = data["drift"]
        return (
            f"{envelope.get('type')} #{d.get('id')} [{d.get('severity')}] {d.get('resource_name')}: {d.get('summary')}"
        )
    if "job" in data:
        return f"{envelope.get('type')} job #{data['job'].get('id')} {data['job'].get('status')}"
    if "events" in data:
        return f"{envelope.get('type')}: {len(data['events'])} event(s)"
    return f"{envelope.get('type')}: {data.get('message', '')}"


def start(port: int, secret: Callable[[], str], say: Callable[[str], None] = print) -> ThreadingHTTPServer:
    """Serve on 127.0.0.1:port (0: any free port) in a daemon thread; `secret()` is read at each request."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            ok = verify(secret(), dict(self.headers), body, now=int(time.time()))
            say(f"webhook received ({'signature ok' if ok else 'SIGNATURE INVALID'}): {describe(body)}")
            self.send_response(204 if ok else 400)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="webhook-receiver", daemon=True).start()
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--secret", required=True, help="the subscription's whsec_ secret")
    args = parser.parse_args()
    server = start(args.port, lambda: args.secret)
    print(f"listening on http://127.0.0.1:{server.server_address[1]}/ (Ctrl-C to stop)")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.shutdown()


if __name__ == "__main__":
    main()
