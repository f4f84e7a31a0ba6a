"""KMS keys, per region and unit of scale: app, data, sign and retired (pending deletion)."""

from __future__ import annotations

from devtools.estate.common import Region


def seed_keys(r: Region, i: int) -> dict:
    """Create the four keys; returns the app key's metadata (buckets and databases are encrypted with it)."""
    kms = r.client("kms")
    prefix = r.prefix
    # KeyUsage given explicitly: moto leaves it out of KeyMetadata otherwise (AWS never does).
    app_key = kms.create_key(
        Description=f"{prefix} application key {i}",
        KeyUsage="ENCRYPT_DECRYPT",
        Tags=[{"TagKey": "env", "TagValue": "prod"}],
    )["KeyMetadata"]
    kms.create_alias(AliasName=f"alias/{prefix}-app-{i}", TargetKeyId=app_key["KeyId"])
    kms.enable_key_rotation(KeyId=app_key["KeyId"])
    data_key = kms.create_key(
        Description=f"{prefix} data key {i}",
        KeyUsage="ENCRYPT_DECRYPT",
        Tags=[{"TagKey": "Name", "TagValue": f"data-key-{i}"}],
    )["KeyMetadata"]
    kms.create_alias(AliasName=f"alias/{prefix}-data-{i}", TargetKeyId=data_key["KeyId"])
    kms.create_alias(AliasName=f"alias/{prefix}-backup-{i}", TargetKeyId=data_key["KeyId"])
    sign_key = kms.create_key(Description=f"{prefix} signing key {i}", KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")[
        "KeyMetadata"
    ]
    retired_key = kms.create_key(Description=f"{prefix} retired key {i}", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]
    kms.schedule_key_deletion(KeyId=retired_key["KeyId"], PendingWindowInDays=7)
    for kind, meta, name in (
        ("app", app_key, f"{prefix}-app-{i}"),
        ("data", data_key, f"data-key-{i}"),
        ("sign", sign_key, sign_key["KeyId"]),
        ("retired", retired_key, retired_key["KeyId"]),
    ):
        r.add("kms_key", meta["Arn"], name, id=meta["KeyId"], kind=kind)
    return app_key
