"""Log lines: one JSON object per line with DRIFTWATCH_LOG_FORMAT=json, ids kept, secrets never written."""

import json
import os
import subprocess
import sys

from django.conf import settings

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
TOKEN = "dw_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0uV"

# Runs in a child so that the LOGGING setting is built from the environment exactly as at start-up.
PROGRAM = f"""
import logging
import django

django.setup()
log = logging.getLogger("drifts.services.jobs")
log.info("scan unit done: %d resources", 12, extra={{"job_id": 7, "provider_id": 3, "region": "eu-west-1"}})
log.warning("credentials rejected: %s", {{"access_key_id": "AKIDEXAMPLE", "secret_access_key": "{SECRET}"}},
            extra={{"provider_id": 3}})
log.info("token used: Authorization: Bearer {TOKEN}")
try:
    raise ValueError("line one\\nline two")
except ValueError:
    log.exception("unit failed", extra={{"job_id": 7}})
"""


def _run(tmp_path, log_format: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(
        DJANGO_SETTINGS_MODULE="driftwatch.settings",
        DRIFTWATCH_LOG_FORMAT=log_format,
        DRIFTWATCH_LOG_LEVEL="INFO",
        DRIFTWATCH_VAR_DIR=str(tmp_path),
    )
    result = subprocess.run(
        [sys.executable, "-c", PROGRAM], cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stderr


def test_json_format_writes_one_object_per_line_with_ids(tmp_path):
    lines = _run(tmp_path, "json").splitlines()
    assert len(lines) == 4
    records = [json.loads(line) for line in lines]
    first = records[0]
    assert first["message"] == "scan unit done: 12 resources"
    assert (first["level"], first["logger"]) == ("INFO", "drifts.services.jobs")
    assert (first["job_id"], first["provider_id"], first["region"]) == (7, 3, "eu-west-1")
    assert records[1]["provider_id"] == 3
    assert records[3]["job_id"] == 7
    assert "line one\nline two" in records[3]["exc"]  # a traceback stays inside its one line


def test_json_format_redacts_secrets(tmp_path):
    output = _run(tmp_path, "json")
    assert SECRET not in output
    assert TOKEN not in output
    records = [json.loads(line) for line in output.splitlines()]
    assert "secret_access_key': '***'" in records[1]["message"]
    assert "AKIDEXAMPLE" in records[1]["message"]  # key ids are not secret and help operators
    assert "dw_***" in records[2]["message"]


def test_text_format_redacts_secrets_too(tmp_path):
    output = _run(tmp_path, "text")
    assert SECRET not in output
    assert TOKEN not in output
    assert " INFO drifts.services.jobs scan unit done: 12 resources" in output.splitlines()[0]
