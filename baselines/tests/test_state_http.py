"""Reading a state over HTTP through the outbound guard, from a real receiver on loopback: the bearer token,
ETags, HCP Terraform's download-URL indirection, and errors that never echo what the server said."""

import http.server
import json
import threading

import pytest

from baselines.models import StateSource
from baselines.terraform import sources
from drifts.services import terraform
from drifts.tests import tf_estate

pytestmark = pytest.mark.django_db

IDS = {
    "SG_WEB": "sg-0123456789abcdef0",
    "VPC": "vpc-0a1b2c3d",
    "KMS_KEY": "1234abcd-12ab-34cd-56ef-1234567890ab",
    "KMS_POLICY": '{"Version":"2012-10-17","Statement":[]}',
    "RDS_ENGINE_VERSION": "16.3",
    "RDS_STORAGE_TYPE": "gp2",
}
STATE = tf_estate.render(IDS, serial=3)


class Receiver(http.server.BaseHTTPRequestHandler):
    """Answers from the class's `routes`: path -> (status, headers, body); records every request."""

    routes: dict = {}
    seen: list = []

    def do_GET(self):  # noqa: N802 (http.server's naming)
        type(self).seen.append({"path": self.path, "headers": dict(self.headers)})
        status, headers, body = type(self).routes.get(self.path, (404, {}, b"no such thing"))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    Receiver.routes, Receiver.seen = {}, []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def make_source(provider, url, token=None) -> StateSource:
    source = StateSource(provider=provider, name="http", kind="http", url=url)
    source.set_token(token)
    source.save()
    return source


def test_the_state_is_fetched_with_the_bearer_token_and_applied(provider, receiver):
    Receiver.routes["/state"] = (200, {"ETag": '"v3"'}, STATE)
    source = make_source(provider, f"{receiver}/state", token="secret-token")
    (outcome,) = terraform.refresh_source(source)
    assert (outcome.status, outcome.serial, outcome.declared) == ("applied", 3, 8)
    assert Receiver.seen[0]["headers"]["Authorization"] == "Bearer secret-token"
    source.refresh_from_db()
    assert source.last_status == "ok" and source.heads[""]["etag"] == '"v3"'


def test_an_unchanged_etag_is_not_downloaded_again(provider, receiver):
    Receiver.routes["/state"] = (200, {"ETag": '"v3"'}, STATE)
    source = make_source(provider, f"{receiver}/state")
    terraform.refresh_source(source)
    Receiver.routes["/state"] = (304, {}, b"")
    (outcome,) = terraform.refresh_source(source)
    assert outcome.status == "unchanged"
    assert Receiver.seen[-1]["headers"]["If-None-Match"] == '"v3"'
    source.refresh_from_db()
    assert source.last_status == "unchanged"


def test_hcp_terraform_state_version_points_at_the_download_url_which_gets_no_token(provider, receiver):
    # The download URL is on "another host" (localhost vs 127.0.0.1): the token stays home.
    download = receiver.replace("127.0.0.1", "localhost") + "/archivist/v1/object/abc"
    version = {"data": {"id": "sv-1", "type": "state-versions", "attributes": {"hosted-state-download-url": download}}}
    Receiver.routes["/api/v2/workspaces/ws-1/current-state-version"] = (
        200,
        {"Content-Type": "application/vnd.api+json"},
        json.dumps(version).encode(),
    )
    Receiver.routes["/archivist/v1/object/abc"] = (200, {}, STATE)
    source = make_source(provider, f"{receiver}/api/v2/workspaces/ws-1/current-state-version", token="atlas-token")
    (outcome,) = terraform.refresh_source(source)
    assert outcome.status == "applied"
    assert Receiver.seen[0]["headers"]["Authorization"] == "Bearer atlas-token"
    assert "Authorization" not in Receiver.seen[1]["headers"]


def test_a_server_error_is_reported_without_its_body(provider, receiver):
    Receiver.routes["/state"] = (500, {}, b"stack trace with internal-secret-value")
    source = make_source(provider, f"{receiver}/state")
    with pytest.raises(terraform.StateApplyError) as caught:
        terraform.refresh_source(source)
    assert "HTTP 500" in str(caught.value) and "internal-secret" not in str(caught.value)
    source.refresh_from_db()
    assert source.last_status == "error" and "internal-secret" not in source.last_error


def test_a_response_over_the_limit_is_refused(provider, receiver, settings):
    settings.DRIFTWATCH_TF_STATE_MAX_BYTES = 2048
    Receiver.routes["/state"] = (200, {}, STATE)
    source = make_source(provider, f"{receiver}/state")
    with pytest.raises(terraform.StateApplyError) as caught:
        terraform.refresh_source(source)
    assert caught.value.code == "too_large"


def test_a_url_to_a_forbidden_address_is_refused_by_the_guard(provider):
    source = make_source(provider, "http://169.254.169.254/latest/meta-data/")
    with pytest.raises(sources.StateSourceError) as caught:
        sources.read_http(source)
    assert caught.value.code == "http_error"


def test_a_refresh_job_reads_the_state_without_counting_as_a_scan(provider, receiver):
    from drifts.models import JobUnit
    from drifts.services import detection, jobs

    Receiver.routes["/state"] = (200, {}, STATE)
    source = make_source(provider, f"{receiver}/state")
    job, created = detection.start_detection(trigger="api", provider_id=provider.pk, terraform_only=True)
    (unit,) = JobUnit.objects.filter(job=job)
    jobs.scan_unit(unit.pk)
    job.refresh_from_db()
    provider.refresh_from_db()
    source.refresh_from_db()
    assert job.status == "succeeded" and job.resources_scanned == 8
    assert source.last_status == "ok"
    assert provider.last_scanned_at is None and provider.running_job_id is None


def test_a_refresh_job_whose_source_fails_is_failed_with_the_sources_error(provider, receiver):
    from drifts.models import JobUnit
    from drifts.services import detection, jobs

    Receiver.routes["/state"] = (403, {}, b"denied: token abc is not allowed")
    make_source(provider, f"{receiver}/state")
    job, _ = detection.start_detection(trigger="api", provider_id=provider.pk, terraform_only=True)
    (unit,) = JobUnit.objects.filter(job=job)
    jobs.scan_unit(unit.pk)
    job.refresh_from_db()
    unit.refresh_from_db()
    assert job.status == "failed" and "HTTP 403" in unit.error and "abc" not in unit.error
    assert "HTTP 403" in job.errors[0]["message"]
