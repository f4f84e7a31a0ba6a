"""Provider-side orchestration: a provider's lifecycle (audited), its AWS sessions, its scanned resources."""

import ipaddress
import logging

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from driftwatch import outbound
from driftwatch.models import AuditEntry
from driftwatch.outbound import URLNotAllowed

from .collectors import base as collector_base
from .collectors.session import build_clients, caller_identity
from .crypto import CredentialsError
from .models import Provider, Resource, ScanScope, config_hash

logger = logging.getLogger(__name__)


class EndpointNotAllowed(URLNotAllowed):
    """A provider's endpoint_url points somewhere DriftWatch must not call."""


def check_endpoint_url(url: str, *, resolve: bool = False) -> str:
    """The normalized endpoint URL, or EndpointNotAllowed.

    The outbound guard's strict parse, then the endpoint allow-list (AWS's domains in production), then
    where the host points: an address literal always, a name's DNS answers with resolve=True (at scan
    time). The connection itself is checked again when the clients connect (outbound.guard_boto_client).
    """
    try:
        target = outbound.parse(url)
        if _is_address(target.host):
            outbound.check_address(target.host, target.host)
        if not outbound.endpoint_host_allowed(target.host):
            raise EndpointNotAllowed(f"endpoint_url host {target.host!r} is not in DRIFTWATCH_ALLOWED_ENDPOINT_HOSTS.")
        if resolve:
            outbound.resolve(target.host, target.port)
    except EndpointNotAllowed:
        raise
    except URLNotAllowed as exc:
        raise EndpointNotAllowed(str(exc).replace("The URL", "endpoint_url")) from None
    return target.url


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def aws_clients(provider: Provider, *, max_attempts: int | None = None):
    """One boto3 session (and its shared clients) for a provider, honouring its settings.

    Scans retry generously (DRIFTWATCH_AWS_MAX_ATTEMPTS: throttling must be survived); an interactive
    check passes fewer attempts.
    """
    if provider.endpoint_url:
        check_endpoint_url(provider.endpoint_url, resolve=True)
    regions = provider.regions or ["us-east-1"]
    return build_clients(
        credentials=provider.get_credentials(),
        role_arn=provider.role_arn or None,
        external_id=provider.external_id or None,
        endpoint_url=provider.endpoint_url or None,
        max_workers=provider.max_concurrency,
        default_region=regions[0],
        max_attempts=max_attempts or settings.DRIFTWATCH_AWS_MAX_ATTEMPTS,
    )


_RESOURCE_FIELDS = (
    "id",
    "provider_id",
    "resource_type",
    "external_id",
    "name",
    "region",
    "config_hash",
    "first_seen_at",
    "last_seen_at",
    "deleted_at",
)


def upsert_resources(
    provider_id: int, resource_type: str, collected: list, now=None
) -> tuple[list[Resource], set[int]]:
    """Insert or update scanned resources in bulk; returns them (with ids) and the ids that are new.

    Most resources do not change between scans: those get one UPDATE of last_seen_at for the whole
    batch, and only changed ones pay for rewriting their config (Django's bulk_update builds a CASE
    per row and field, which costs far more in Python than in SQL).
    """
    now = now or timezone.now()
    by_external = {c.external_id: c for c in collected}
    existing = {
        r.external_id: r
        for r in Resource.objects.filter(
            provider_id=provider_id, resource_type=resource_type, external_id__in=list(by_external)
        ).only(*_RESOURCE_FIELDS)  # config is not loaded: the hash says whether it changed
    }
    to_create, changed, unchanged = [], [], []
    for external_id, item in by_external.items():
        digest = config_hash(item.config)
        name = item.name[:512]
        row = existing.get(external_id)
        if row is None:
            to_create.append(
                Resource(
                    provider_id=provider_id,
                    resource_type=resource_type,
                    external_id=external_id,
                    name=name,
                    region=item.region,
                    config=item.config,
                    config_hash=digest,
                    first_seen_at=now,
                    last_seen_at=now,
                )
            )
            continue
        same = row.config_hash == digest and row.name == name and row.region == item.region
        row.name, row.region, row.config, row.config_hash = name, item.region, item.config, digest
        was_deleted = row.deleted_at is not None
        row.last_seen_at, row.deleted_at = now, None
        (unchanged if same and not was_deleted else changed).append(row)
    created = Resource.objects.bulk_create(to_create)
    if changed:
        Resource.objects.bulk_update(changed, ["name", "region", "config", "config_hash", "last_seen_at", "deleted_at"])
    if unchanged:
        Resource.objects.filter(pk__in=[r.pk for r in unchanged]).update(last_seen_at=now)
    return created + changed + unchanged, {r.pk for r in created}


def vanished_resources(provider_id: int, resource_type: str, region: str | None, seen_before, keep_external_ids):
    """Live resources of a scope not seen since seen_before (their listing succeeded without them)."""
    qs = Resource.objects.filter(
        provider_id=provider_id, resource_type=resource_type, deleted_at__isnull=True, last_seen_at__lt=seen_before
    )
    if region is not None:
        qs = qs.filter(region=region)
    if keep_external_ids:
        qs = qs.exclude(external_id__in=list(keep_external_ids))
    return qs.only(*_RESOURCE_FIELDS)


def mark_resources_deleted(resource_ids: list[int], now) -> None:
    """Resources a completed listing no longer returned: deleted in the account (rows stay as history)."""
    Resource.objects.filter(pk__in=resource_ids).update(deleted_at=now)


def scope_completed(provider_id: int, region: str, resource_type: str) -> bool:
    """Whether this (provider, region, type) was ever scanned to completion (see ScanScope)."""
    return ScanScope.objects.filter(provider_id=provider_id, region=region, resource_type=resource_type).exists()


def complete_scope(provider_id: int, region: str, resource_type: str, now) -> None:
    """Record a completed scan of the scope (the first one makes later new resources findings)."""
    scope, created = ScanScope.objects.get_or_create(
        provider_id=provider_id,
        region=region,
        resource_type=resource_type,
        defaults={"first_completed_at": now, "last_completed_at": now},
    )
    if not created:
        ScanScope.objects.filter(pk=scope.pk).update(last_completed_at=now)


# --- The scan lock: one running detection job per provider ---------------------------------------------


def lock_for_scan(provider_ids: list[int], job_id: int) -> bool:
    """Claim every provider for the job (compare-and-swap on NULL); False when any was taken.

    Call inside the transaction that creates the job, so a lost claim rolls back the partial one.
    """
    claimed = Provider.objects.filter(pk__in=provider_ids, running_job_id__isnull=True).update(running_job_id=job_id)
    return claimed == len(set(provider_ids))


def release_scan_lock(job_id: int, *, scanned_provider_ids=None, now=None) -> None:
    """Release the job's providers; those it scanned record when (last_scanned_at drives the schedule)."""
    if scanned_provider_ids is not None:
        Provider.objects.filter(pk__in=scanned_provider_ids).update(last_scanned_at=now or timezone.now())
    Provider.objects.filter(running_job_id=job_id).update(running_job_id=None)


class ConnectionCheckFailed(Exception):
    """The provider's credentials or endpoint did not work; the message is safe to show."""


def describe_error(exc: BaseException) -> str:
    """A failure of a provider's AWS calls in DriftWatch's words (collectors.base.describe_error)."""
    if isinstance(exc, CredentialsError):
        return f"CredentialsError: {exc}"
    return collector_base.describe_error(exc)


def test_connection(provider: Provider) -> dict:
    """STS GetCallerIdentity with the provider's settings: {"account", "arn"} or ConnectionCheckFailed.

    Whatever the endpoint answers (an HTML page, a redirect, garbage), the caller gets a failure described
    in DriftWatch's words, never the endpoint's.
    """
    try:
        # A person is waiting for the answer: one attempt, not a scan's ten with backoff.
        return caller_identity(aws_clients(provider, max_attempts=1))
    except Exception as exc:  # noqa: BLE001 - every failure is an answer here, never a 500
        if not isinstance(exc, BotoCoreError | ClientError | URLNotAllowed | CredentialsError | ValueError):
            logger.warning("connection check of provider %s failed with %s", provider.pk, type(exc).__name__)
        raise ConnectionCheckFailed(describe_error(exc)) from None


# --- A provider's lifecycle: each change writes its audit row here, whichever door (API, admin) asks ----

# The settings an API client may see and the audit trail may record: everything but the credentials.
PUBLIC_FIELDS = (
    "name",
    "kind",
    "regions",
    "endpoint_url",
    "role_arn",
    "external_id",
    "scan_interval_minutes",
    "max_concurrency",
    "cloudtrail_bucket",
    "cloudtrail_prefix",
    "enabled",
    "report_unmanaged",
)
# update_provider's default: keep the stored credentials (None clears them).
UNCHANGED = object()


class ProviderError(Exception):
    """A provider change that cannot be made; each subclass is one reason."""


class ProviderNameTaken(ProviderError):
    """Another live provider has this name (the partial unique constraint refused it)."""

    def __init__(self, name: str):
        super().__init__(f"A provider named {name!r} already exists.")
        self.name = name


class ProviderBusy(ProviderError):
    """A scan holds the provider (its scan lock is taken): it cannot be deleted until the job finishes."""

    def __init__(self, provider_id: int, job_id: int):
        super().__init__(
            f"Provider {provider_id} is being scanned by job {job_id}; delete it when the job has finished."
        )
        self.provider_id, self.job_id = provider_id, job_id


class ProviderGone(ProviderError):
    """The provider was deleted already (by a concurrent request)."""


def public_values(provider: Provider) -> dict:
    """The non-secret settings of a provider, for the audit trail."""
    return {name: getattr(provider, name) for name in PUBLIC_FIELDS}


def create_provider(values: dict, credentials: dict | None, actor) -> Provider:
    """Create a provider from validated settings; credentials are stored encrypted (None: default AWS chain)."""
    provider = Provider(**values)
    provider.set_credentials(credentials)
    try:
        with transaction.atomic():
            provider.save()
            audited = {**public_values(provider), "credentials": "set" if credentials else "none"}
            AuditEntry.record(actor, "create", provider, audited)
    except IntegrityError:
        # Two requests racing for one name: the partial unique constraint decides.
        raise ProviderNameTaken(provider.name) from None
    return provider


def update_provider(provider: Provider, values: dict, actor, credentials=UNCHANGED) -> Provider:
    """Change validated settings, and the credentials unless UNCHANGED (None clears them); audit the changes.

    `provider` must be as stored: its values are the audit row's "before".
    """
    before = public_values(provider)
    for name, value in values.items():
        setattr(provider, name, value)
    changes = AuditEntry.diff(before, public_values(provider))
    # Only the columns that change: a full save() would overwrite running_job_id or last_scanned_at
    # written by a scan since the caller read the row.
    update_fields = [*changes, "updated_at"]
    if credentials is not UNCHANGED:
        changes["credentials"] = "cleared" if not credentials else ("replaced" if provider.has_credentials else "set")
        provider.set_credentials(credentials)
        update_fields.append("credentials_encrypted")
    try:
        with transaction.atomic():
            provider.save(update_fields=update_fields)
            if changes:
                AuditEntry.record(actor, "update", provider, changes)
    except IntegrityError:
        raise ProviderNameTaken(provider.name) from None
    return provider


def delete_provider(provider: Provider, actor) -> None:
    """Soft delete: disable and hide the provider and mark its resources deleted; drifts and jobs stay.

    Raises ProviderBusy while a scan holds the provider, ProviderGone when it was deleted already.
    """
    now = timezone.now()
    with transaction.atomic():
        # Compare-and-swap against the scan lock (lock_for_scan): never delete under a scan.
        deleted = Provider.objects.filter(pk=provider.pk, deleted_at__isnull=True, running_job_id__isnull=True).update(
            deleted_at=now, enabled=False, updated_at=now
        )
        if not deleted:
            job_id = Provider.objects.filter(pk=provider.pk).values_list("running_job_id", flat=True).first()
            if job_id is None:
                raise ProviderGone(f"Provider {provider.pk} was deleted.")
            raise ProviderBusy(provider.pk, job_id)
        Resource.objects.filter(provider_id=provider.pk, deleted_at__isnull=True).update(deleted_at=now)
        AuditEntry.record(actor, "delete", provider, {"deleted_at": now.isoformat()})


def check_connection(provider: Provider, actor) -> dict:
    """test_connection, audited: {"account", "arn"}, or ConnectionCheckFailed once the audit row is written."""
    try:
        identity = test_connection(provider)
    except ConnectionCheckFailed as exc:
        # The message is built from the AWS error code and text (or the endpoint check), never from settings.
        logger.info("provider connection test failed: %s", exc, extra={"provider_id": provider.pk})
        AuditEntry.record(actor, "test", provider, {"ok": False})
        raise
    AuditEntry.record(actor, "test", provider, {"ok": True, "account": identity["account"]})
    return identity
