"""Lambda functions, per region and unit of scale: an API function behind an IAM-authenticated URL."""

from __future__ import annotations

import io
import zipfile

from devtools.estate.common import Region


def _code() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return {'statusCode': 200}\n")
    return buffer.getvalue()


def seed_functions(r: Region, i: int, role_arn: str, kms_key_arn: str) -> dict:
    """Create the API function with its URL, an EventBridge permission and tags; returns its record."""
    client = r.client("lambda")
    name = f"{r.prefix}-api-{i}"
    function = client.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role_arn,
        Handler="app.handler",
        Code={"ZipFile": _code()},
        MemorySize=256,
        Timeout=30,
        # Values never reach a document: only the names are collected.
        Environment={"Variables": {"STAGE": "prod", "DB_PASSWORD": "not-a-secret-1"}},
        TracingConfig={"Mode": "Active"},
        KMSKeyArn=kms_key_arn,
        Tags={"env": "prod", "team": "api"},
    )
    client.create_function_url_config(
        FunctionName=name,
        AuthType="AWS_IAM",
        Cors={"AllowOrigins": ["https://app.example.com", "https://admin.example.com"], "AllowMethods": ["GET"]},
    )
    client.add_permission(
        FunctionName=name,
        StatementId="nightly",
        Action="lambda:InvokeFunction",
        Principal="events.amazonaws.com",
        SourceArn=f"arn:aws:events:{r.name}:{r.out['account_id']}:rule/{r.prefix}-nightly-{i}",
    )
    r.add("lambda_function", function["FunctionArn"], name, id=name, kind="api")
    return r.out["lambda_function"][-1]
