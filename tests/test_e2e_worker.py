"""End to end through a real Celery worker: the API starts scans, a worker on Redis runs them against moto.

The worker is a subprocess (`celery -A driftwatch worker`) on the test database pytest-django created, so
what it writes is what the API in this process reads. The broker is CELERY_BROKER_URL when set (CI: Redis,
which must then be reachable), else the embedded filesystem broker `make run` uses, in a private folder.
"""

import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from kombu import Connection

from devtools.changes import apply_changes
from devtools.estate import seed_estate
from devtools.fake_aws import FAKE_ENV
from driftwatch.celery import app as celery_app

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

BASE_DIR = Path(__file__).resolve().parent.parent
JOB_TIMEOUT = 120
# The changes apply_changes makes that the catalogue rates critical, by the attribute path they report.
CRITICAL_PATHS = {"PublicAccessBlock.BlockPublicAcls", "PubliclyAccessible"}


def _database_url() -> str:
    """A DATABASE_URL for the test database this test runs on (the worker must share it)."""
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    assert db["ENGINE"].endswith("postgresql"), db["ENGINE"]
    auth = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        auth += ":" + quote(db["PASSWORD"], safe="")
    host = db["HOST"] or "127.0.0.1"
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgresql://{auth}@{host}{port}/{quote(db['NAME'], safe='')}"


def _embedded_broker(var_dir: Path) -> dict:
    """Transport options of the filesystem broker under var_dir, as settings.py lays it out."""
    broker = var_dir / "broker"
    for sub in ("out", "processed", "control"):
        (broker / sub).mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(broker / "out"),
        "data_folder_out": str(broker / "out"),
        "processed_folder": str(broker / "processed"),
        "control_folder": str(broker / "control"),
        "store_processed": False,
    }


@pytest.fixture
def broker_url(tmp_path):
    """Point this process's Celery app at the test's broker, then restore it."""
    url = os.environ.get("CELERY_BROKER_URL", "")
    if url:
        try:
            with Connection(url, connect_timeout=5) as conn:
                conn.ensure_connection(max_retries=1)
        except Exception as exc:  # a configured broker that is down is a broken environment, not a skip
            pytest.fail(f"broker {url.split('@')[-1]} is unreachable: {exc!r}")
        options = {"visibility_timeout": 3600}
    else:
        url, options = "filesystem://", _embedded_broker(tmp_path / "var")
    conf = celery_app.conf
    saved = (conf.broker_url, conf.broker_transport_options)
    conf.broker_url, conf.broker_transport_options = url, options
    # The app caches its connection and producer pools; drop them so publishing uses the new broker.
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    if not url.startswith("filesystem"):
        with celery_app.connection_for_write() as conn:
            conn.default_channel.queue_purge("celery")  # leftovers of an aborted run would scan other databases
    yield url
    conf.broker_url, conf.broker_transport_options = saved
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
def worker(broker_url, tmp_path):
    """A Celery worker subprocess on the test database and the broker; yields its log file."""
    env = {
        **os.environ,  # the root conftest's fake AWS credentials, no-config files and closed proxy
        **FAKE_ENV,
        "DATABASE_URL": _database_url(),
        # Empty means the embedded broker, laid out under DRIFTWATCH_VAR_DIR like this test's.
        "CELERY_BROKER_URL": "" if broker_url.startswith("filesystem") else broker_url,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "DRIFTWATCH_VAR_DIR": str(tmp_path / "var"),
        "DJANGO_SETTINGS_MODULE": "driftwatch.settings",
        "PYTHONUNBUFFERED": "1",
    }
    log_path = tmp_path / "worker.log"
    # Nothing from the test process may hold the SQLite write lock while the worker starts.
    connection.close()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "driftwatch",
                "worker",
                "--pool",
                "solo",
                "-Q",
                "celery",
                "-l",
                "info",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--hostname",
                f"e2e-{os.getpid()}@%h",
            ],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while b" ready." not in log_path.read_bytes():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the worker did not start (exit code {process.poll()}):\n{_tail(log_path)}")
            time.sleep(0.2)
        yield log_path
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _tail(path: Path, lines: int = 200) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _run_scan(api, provider_id: int, log_path: Path) -> dict:
    """POST /drifts/detect, then poll the job until it is no longer running; returns the job."""
    response = api.post("/api/v1/drifts/detect", {"provider_id": provider_id}, format="json")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "running" and body["message"] == "Drift detection scan started"
    deadline = time.monotonic() + JOB_TIMEOUT
    while True:
        job = api.get(f"/api/v1/jobs/{body['job_id']}").json()
        if job["status"] != "running":
            return job
        if time.monotonic() > deadline:
            pytest.fail(f"job {body['job_id']} still running after {JOB_TIMEOUT}s: {job}\n{_tail(log_path)}")
        time.sleep(0.5)


def test_scans_run_on_a_real_worker_and_report_the_changes(api, moto, worker):
    estate = seed_estate(moto, regions=("us-east-1",))
    created = api.post(
        "/api/v1/providers",
        {
            "name": "moto",
            "kind": "aws",
            "regions": ["us-east-1"],
            "endpoint_url": moto,
            "credentials": {"access_key_id": "testing", "secret_access_key": "testing"},
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    provider_id = created.json()["id"]
    seeded = sum(
        len(estate[t])
        for t in ("s3_bucket", "ec2_security_group", "iam_role", "rds_instance", "kms_key", "cloudtrail_trail")
    )

    try:
        first = _run_scan(api, provider_id, worker)
        assert first["status"] == "succeeded", first["errors"]
        assert first["errors"] == []
        assert first["progress"]["units_done"] == first["progress"]["units_total"] > 0
        assert first["progress"]["percent"] == 100 and first["finished_at"] is not None
        resources = api.get("/api/v1/resources", {"provider_id": provider_id, "per_page": 1}).json()["meta"]["total"]
        assert resources >= seeded
        assert first["progress"]["scanned"] == first["progress"]["total"] == resources
        assert first["counters"] == {"drifts_new": 0, "drifts_updated": 0, "drifts_resolved": 0}
        assert api.get("/api/v1/drifts").json()["meta"]["total"] == 0

        changes = apply_changes(moto, estate)
        second = _run_scan(api, provider_id, worker)
        assert second["status"] == "succeeded", second["errors"]
        assert second["counters"]["drifts_new"] == len(changes)

        drifts = api.get("/api/v1/drifts", {"status": "detected", "per_page": 100}).json()
        assert drifts["meta"]["total"] == len(changes)
        by_external_id = {}
        for item in drifts["data"]:
            detail = api.get(f"/api/v1/drifts/{item['id']}").json()
            by_external_id[(detail["resource_id"], detail["path"])] = detail
        found = {path for _, path in by_external_id}
        assert found == {change["path"] for change in changes}
        critical = api.get("/api/v1/drifts", {"severity": "critical", "per_page": 100}).json()["data"]
        critical_paths = {api.get(f"/api/v1/drifts/{d['id']}").json()["path"] for d in critical}
        assert critical_paths >= CRITICAL_PATHS
        public_db = next(d for d in by_external_id.values() if d["path"] == "PubliclyAccessible")
        assert (public_db["drift_type"], public_db["severity"], public_db["summary"]) == (
            "security",
            "critical",
            "RDS instance PubliclyAccessible changed from false to true",
        )
        assert (public_db["baseline_value"], public_db["current_value"]) == (False, True)
        assert public_db["job_id"] == second["id"]
    except BaseException:
        print(f"--- worker log ---\n{_tail(worker)}")
        raise
