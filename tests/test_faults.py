"""Faults injected into running scans of a real stack: PostgreSQL, a private Redis, moto, and Celery workers
with embedded beat. Whatever fails, the job ends by itself soon after the fault clears, no provider stays
locked, the next detect starts a new job, and the drift ledger is exactly what a clean scan gives.

The workers run with short leases and timeouts (FAST below) so that each fault resolves in seconds; the
mechanisms are the production ones.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote, urlparse

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from devtools.changes import apply_changes
from devtools.estate import seed_estate
from devtools.fake_aws import FAKE_ENV
from drifts.models import DetectionJob, Drift, DriftEvent, JobUnit
from driftwatch.celery import app as celery_app
from driftwatch.tests.factories import make_provider
from providers.models import Provider, Resource

from .faults import RedisServer, TcpProxy

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

BASE_DIR = Path(__file__).resolve().parent.parent
RECOVERY = 60  # seconds: a job must end within this long after its fault clears
FAST = {
    "DRIFTWATCH_UNIT_LEASE_SECONDS": "4",
    "DRIFTWATCH_UNIT_QUEUE_TIMEOUT_SECONDS": "3",
    "DRIFTWATCH_SUPERVISE_SECONDS": "1",
    "DRIFTWATCH_UNIT_RETRY_DELAYS": "1,2,4,8,16",  # 31 s in all: outlasts the 15 s database outage
    "DRIFTWATCH_AWS_MAX_ATTEMPTS": "2",
}


def _database_url(port: int) -> str:
    db = settings.DATABASES["default"]
    auth = quote(db["USER"] or "", safe="") + (":" + quote(db["PASSWORD"], safe="") if db["PASSWORD"] else "")
    return f"postgresql://{auth}@127.0.0.1:{port}/{quote(db['NAME'], safe='')}"


class Stack:
    """The parts a scan runs on, each of which a test can break: Redis, moto and PostgreSQL (behind proxies
    the workers use), and Celery workers started and killed at will."""

    def __init__(self, tmp_path: Path, moto_url: str, moto_delay: float, worker_env: dict) -> None:
        db = settings.DATABASES["default"]
        self.tmp_path = tmp_path
        self.redis = RedisServer()
        self.moto = TcpProxy(urlparse(moto_url).port, delay=moto_delay)
        self.db = TcpProxy(int(db["PORT"] or 5432))
        self.moto_url = f"http://127.0.0.1:{self.moto.port}"
        self.env = {
            **os.environ,
            **FAKE_ENV,
            **FAST,
            **worker_env,
            "DATABASE_URL": _database_url(self.db.port),
            "CELERY_BROKER_URL": self.redis.url,
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "DRIFTWATCH_VAR_DIR": str(tmp_path / "var"),
            "DJANGO_SETTINGS_MODULE": "driftwatch.settings",
            "PYTHONUNBUFFERED": "1",
        }
        self.workers: list[tuple[subprocess.Popen, Path]] = []

    def start_worker(self) -> subprocess.Popen:
        log_path = self.tmp_path / f"worker-{len(self.workers)}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "driftwatch", "worker", "--beat", "--concurrency", "2",
                 "-l", "info", "--without-gossip", "--without-mingle", "--without-heartbeat",
                 "--schedule", str(self.tmp_path / f"beat-{len(self.workers)}"),
                 "--hostname", f"faults-{os.getpid()}-{len(self.workers)}@%h"],
                cwd=BASE_DIR, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        self.workers.append((process, log_path))
        deadline = time.monotonic() + 60
        while b" ready." not in log_path.read_bytes():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the worker did not start (exit code {process.poll()}):\n{self.logs()}")
            time.sleep(0.2)
        return process

    def kill_worker(self, process: subprocess.Popen) -> None:
        os.killpg(process.pid, signal.SIGKILL)  # the main process, its pool children and beat: no goodbye
        process.wait(timeout=10)

    def logs(self, lines: int = 80) -> str:
        return "\n".join(
            f"--- {path.name} ---\n" + "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
            for _, path in self.workers
        )

    def close(self) -> None:
        for process, _ in self.workers:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=10)
        self.redis.stop()
        self.moto.cut()
        self.db.cut()


@pytest.fixture
def make_stack(tmp_path, moto, monkeypatch):
    if not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        pytest.skip("fault tests cut the workers' PostgreSQL connections; run with DATABASE_URL (CI does)")
    stacks = []

    def make(moto_delay: float = 0.0, **worker_env) -> Stack:
        stack = Stack(tmp_path, moto, moto_delay, worker_env)
        stacks.append(stack)
        # This process (the API) publishes to the stack's Redis too; Celery prefers the variable to its config.
        monkeypatch.setenv("CELERY_BROKER_URL", stack.redis.url)
        celery_app._pool = None
        celery_app.amqp._producer_pool = None
        connection.close()
        return stack

    yield make
    for stack in stacks:
        stack.close()
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


class Scenario:
    """One provider on the stack's moto, scanned clean once, then changed: what every fault test starts from."""

    def __init__(self, stack: Stack, api, moto: str) -> None:
        self.stack, self.api = stack, api
        estate = seed_estate(moto, regions=["us-east-1"])
        # last_scanned_at now: beat's scheduler must not start a scan of its own during the test.
        provider = make_provider(regions=["us-east-1"], endpoint_url=stack.moto_url, last_scanned_at=timezone.now())
        provider.set_credentials({"access_key_id": "testing", "secret_access_key": "testing"})
        provider.save()
        self.provider = provider
        baseline = self.wait(self.detect())
        assert baseline["status"] == "succeeded", (baseline, stack.logs())
        self.changes = sorted(change["path"] for change in apply_changes(moto, estate))

    def detect(self) -> int:
        started = time.monotonic()
        response = self.api.post("/api/v1/drifts/detect", {"provider_id": self.provider.pk}, format="json")
        assert time.monotonic() - started < 10, "detect must not wait on the broker"
        assert response.status_code == 202, response.content
        assert response.json()["message"] == "Drift detection scan started", response.json()
        return response.json()["job_id"]

    def wait(self, job_id: int, timeout: float = RECOVERY) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            job = self.api.get(f"/api/v1/jobs/{job_id}").json()
            if job["status"] != "running":
                return job
            if time.monotonic() > deadline:
                units = list(JobUnit.objects.filter(job_id=job_id).values_list("resource_type", "status", "attempt"))
                pytest.fail(f"job {job_id} still running after {timeout}s: {job}\n{units}\n{self.stack.logs()}")
            time.sleep(0.25)

    def wait_for_units(self, job_id: int, status: str, count: int = 1) -> None:
        deadline = time.monotonic() + 60
        while JobUnit.objects.filter(job_id=job_id, status=status).count() < count:
            if time.monotonic() > deadline:
                pytest.fail(f"no {status} unit in job {job_id}:\n{self.stack.logs()}")
            time.sleep(0.05)

    def open_paths(self) -> list[str]:
        return sorted(
            Drift.objects.filter(provider=self.provider).exclude(status="resolved").values_list("path", flat=True)
        )

    def assert_released(self) -> None:
        assert Provider.objects.get(pk=self.provider.pk).running_job_id is None

    def assert_no_false_findings(self) -> None:
        """Whatever the fault did: no deletion, and no drift but the real changes, each recorded once."""
        assert not Resource.objects.filter(provider=self.provider, deleted_at__isnull=False).exists()
        paths = self.open_paths()
        assert len(paths) == len(set(paths)) and set(paths) <= set(self.changes), paths
        for drift_id in Drift.objects.filter(provider=self.provider).values_list("pk", flat=True):
            assert DriftEvent.objects.filter(drift_id=drift_id, from_status=None).count() == 1

    def assert_recovered(self, job_id: int) -> None:
        """The faulted job ends by itself, succeeded, with exactly the real changes recorded, once each."""
        job = self.wait(job_id)
        assert job["status"] == "succeeded", (job, self.stack.logs())
        self.assert_no_false_findings()
        assert self.open_paths() == self.changes

    def assert_clean_ledger(self) -> None:
        """The next detect starts a new job, and the ledger is exactly what a clean scan gives."""
        self.assert_released()
        self.assert_recovered(self.detect())


def test_worker_killed_with_sigkill_mid_unit(make_stack, api, moto):
    stack = make_stack(moto_delay=0.05)
    first = stack.start_worker()
    scenario = Scenario(stack, api, moto)
    job_id = scenario.detect()
    scenario.wait_for_units(job_id, "running", count=2)
    stack.kill_worker(first)
    killed_at = time.monotonic()
    stack.start_worker()  # what a supervisor (systemd, Kubernetes) does
    scenario.assert_recovered(job_id)
    assert time.monotonic() - killed_at < RECOVERY
    assert JobUnit.objects.filter(job_id=job_id, attempt__gt=1).exists()  # the killed units ran again
    scenario.assert_clean_ledger()


def test_broker_restarted_empty_mid_scan(make_stack, api, moto):
    stack = make_stack(moto_delay=0.05)
    stack.start_worker()
    scenario = Scenario(stack, api, moto)
    job_id = scenario.detect()
    scenario.wait_for_units(job_id, "succeeded")
    stack.redis.stop()  # every queued message is gone
    stack.redis.start()
    scenario.assert_recovered(job_id)
    scenario.assert_clean_ledger()


def test_detect_while_the_broker_is_down(make_stack, api, moto):
    stack = make_stack()
    stack.start_worker()
    scenario = Scenario(stack, api, moto)
    stack.redis.stop()
    job_id = scenario.detect()  # answers at once; the job waits for the broker
    assert DetectionJob.objects.get(pk=job_id).status == "running"
    time.sleep(2)
    stack.redis.start()
    scenario.assert_recovered(job_id)
    scenario.assert_clean_ledger()


def test_database_unreachable_for_15_seconds(make_stack, api, moto):
    stack = make_stack(moto_delay=0.02)
    stack.start_worker()
    scenario = Scenario(stack, api, moto)
    job_id = scenario.detect()
    scenario.wait_for_units(job_id, "running")
    stack.db.cut()  # a failover: connections dropped, new ones refused
    time.sleep(15)
    stack.db.restore()
    scenario.assert_recovered(job_id)
    scenario.assert_clean_ledger()


def test_moto_stopped_mid_scan(make_stack, api, moto):
    stack = make_stack(moto_delay=0.05, DRIFTWATCH_UNIT_RETRY_DELAYS="1,1")
    stack.start_worker()
    scenario = Scenario(stack, api, moto)
    job_id = scenario.detect()
    scenario.wait_for_units(job_id, "succeeded")
    stack.moto.cut()
    job = scenario.wait(job_id)
    assert job["status"] == "partial", (job, stack.logs())
    assert job["errors"] and all("Error" in e["message"] for e in job["errors"])
    scenario.assert_released()
    scenario.assert_no_false_findings()
    stack.moto.restore()
    scenario.assert_clean_ledger()
