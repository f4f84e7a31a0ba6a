"""Smoke test of the `make run` path: supervisor, web, worker, beat and the demo account, end to end."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
READY_TIMEOUT = 90  # seconds until the banner with the token is printed
FINDINGS_TIMEOUT = 120  # seconds from start until three severities are visible over the API
STOP_TIMEOUT = 60
TOKEN_RE = re.compile(r"API token:\s+(dw_[A-Za-z0-9_\-]{20,})")
STARTED_RE = re.compile(r"system \| (\w+) started \(pid=(\d+)\)")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Output:
    """Collects the child's output on a thread, so waiting never blocks on a full pipe."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for line in stream:
            self.lines.append(line)

    def text(self) -> str:
        return "".join(self.lines)

    def wait_for(self, pattern: re.Pattern, deadline: float, proc: subprocess.Popen) -> re.Match:
        while time.monotonic() < deadline:
            match = pattern.search(self.text())
            if match:
                return match
            if proc.poll() is not None:
                pytest.fail(f"devtools.run exited with {proc.returncode} before {pattern.pattern!r}")
            time.sleep(0.2)
        pytest.fail(f"no {pattern.pattern!r} in the output within the time limit")


def _get_json(url: str, token: str) -> dict:
    # No proxy: conftest points HTTP(S)_PROXY at a closed port so that nothing leaves loopback.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with opener.open(request, timeout=10) as response:
        return json.loads(response.read())


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def test_make_run_demo_shows_findings_over_the_api_and_stops_cleanly(tmp_path):
    port, aws_port = _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DJANGO_"))}
    for name in ("DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL", "DEBUG", "SECRET_KEY", "DRIFTWATCH_DEMO"):
        env.pop(name, None)
    env.update(
        DRIFTWATCH_VAR_DIR=str(tmp_path / "var"),
        PORT=str(port),
        DRIFTWATCH_DEMO_AWS_PORT=str(aws_port),
        PYTHONUNBUFFERED="1",
    )
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "devtools.run"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output = _Output(proc.stdout)
    children: dict[str, int] = {}
    ok = False
    try:
        token = output.wait_for(TOKEN_RE, started + READY_TIMEOUT, proc).group(1)
        children = {name: int(pid) for name, pid in STARTED_RE.findall(output.text())}
        assert set(children) == {"web", "worker", "beat", "aws"}

        severities: set[str] = set()
        body: dict = {}
        while time.monotonic() < started + FINDINGS_TIMEOUT:
            try:
                body = _get_json(f"http://127.0.0.1:{port}/api/v1/drifts?per_page=100", token)
            except OSError:
                body = {}  # the web server may still be starting
            severities = {drift["severity"] for drift in body.get("data", [])}
            if len(severities) >= 3:
                break
            time.sleep(1)
        assert len(severities) >= 3, f"severities seen: {sorted(severities)}; last body: {body}"
        assert {"critical", "high"} <= severities
        summaries = {drift["summary"] for drift in body["data"]}
        assert any("BlockPublicAcls" in summary for summary in summaries), summaries
        assert body["meta"]["total"] == len(body["data"])

        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=STOP_TIMEOUT) == 0
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_group_alive(pid) for pid in children.values()):
            time.sleep(0.2)
        alive = [name for name, pid in children.items() if _group_alive(pid)]
        assert alive == [], f"still running after Ctrl-C: {alive}"
        assert "SIGKILL" not in output.text(), "a process had to be killed instead of stopping on SIGTERM"
        ok = True
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        for pid in children.values():
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        proc.wait(timeout=10)
        if not ok:
            print("---- devtools.run output ----\n" + output.text()[-20000:])
