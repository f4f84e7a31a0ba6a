"""Links to the API and admin pages put in every notification (base URL: DRIFTWATCH_BASE_URL)."""

from urllib.parse import urlencode

from django.conf import settings


def _base() -> str:
    return settings.DRIFTWATCH_BASE_URL.rstrip("/")


def drift_links(drift_id: int) -> dict:
    return {"api": f"{_base()}/api/v1/drifts/{drift_id}", "admin": f"{_base()}/admin/drifts/drift/{drift_id}/change/"}


def job_links(job_id: int) -> dict:
    return {"api": f"{_base()}/api/v1/jobs/{job_id}", "admin": f"{_base()}/admin/drifts/detectionjob/{job_id}/change/"}


def open_drifts_link(provider_id: int | None = None) -> str:
    """The admin list of open findings (of one provider when given), newest first."""
    query = {"status__exact": "detected"}
    if provider_id:
        query["provider__id__exact"] = provider_id
    return f"{_base()}/admin/drifts/drift/?{urlencode(query)}"


def subscription_admin_link(subscription_id: int) -> str:
    return f"{_base()}/admin/notifications/subscription/{subscription_id}/change/"
