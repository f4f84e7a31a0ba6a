"""An operator's triage path in a real browser: sign in, filter critical drifts, resolve one with a baseline."""

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from baselines.models import Baseline
from drifts.models import DetectionJob, Drift, DriftEvent
from driftwatch.tests.factories import make_drift, make_provider, make_resource

# Playwright's sync API runs an event loop in this thread; the ORM calls below are plain synchronous
# test code, not async code, so Django's async-safety guard would be a false alarm here.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

sync_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"
PASSWORD = "triage-in-the-browser-1"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium package is not installed"),
]


def _estate():
    """Two critical drifts on two buckets, a high one, and some history for the chart."""
    provider = make_provider(name="prod-account", regions=["us-east-1", "eu-west-1"])
    baseline = {
        "PublicAccessBlock": {"BlockPublicAcls": True, "BlockPublicPolicy": True},
        "Tags": {"env": "prod", "owner": "data"},
        "Versioning": "Enabled",
    }
    current = {
        "PublicAccessBlock": {"BlockPublicAcls": False, "BlockPublicPolicy": True},
        "Tags": {"env": "prod", "owner": "data"},
        "Versioning": "Suspended",
    }
    now = timezone.now()
    lake = make_resource(provider, name="data-lake-raw", config=current, baseline=baseline)
    web = make_resource(provider, name="web-assets", config=current, baseline=baseline)
    target = make_drift(
        lake, summary="S3 bucket data-lake-raw allows public ACLs", detected_at=now - timedelta(hours=2)
    )
    sibling = make_drift(
        lake,
        path="Versioning",
        severity="high",
        drift_type="configuration",
        summary="S3 bucket data-lake-raw versioning suspended",
        baseline_value="Enabled",
        current_value="Suspended",
        detected_at=now - timedelta(hours=2),
    )
    other = make_drift(web, summary="S3 bucket web-assets allows public ACLs", detected_at=now - timedelta(days=3))
    for day in range(1, 12, 2):
        extra = make_resource(provider, name=f"logs-{day}")
        make_drift(
            extra,
            severity="medium",
            drift_type="compliance",
            summary=f"logs-{day} tag missing",
            path="Tags.owner",
            detected_at=now - timedelta(days=day),
        )
    DetectionJob.objects.create(
        trigger="admin",
        provider=provider,
        units_total=8,
        units_done=5,
        resources_scanned=120,
        drifts_new=4,
        errors=[
            {
                "provider_id": provider.pk,
                "region": "eu-west-1",
                "resource_type": "kms_key",
                "message": "AccessDenied: not authorized to perform kms:ListKeys",
            }
        ],
    )
    return target, sibling, other


def test_operator_resolves_a_critical_drift_with_a_new_baseline(live_server, django_user_model):
    SHOTS.mkdir(parents=True, exist_ok=True)
    django_user_model.objects.create_superuser("operator", "ops@example.com", PASSWORD)
    target, sibling, other = _estate()

    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            page.set_default_timeout(15_000)

            page.goto(f"{live_server.url}/admin/login/?next=/admin/")
            page.fill("#id_username", "operator")
            page.fill("#id_password", PASSWORD)
            page.click("input[type=submit]")
            page.wait_for_selector("#dw-dashboard")
            assert page.inner_text("#dw-open .dw-big") == "9"
            assert "S3 bucket data-lake-raw allows public ACLs" in page.inner_text("#dw-critical")
            assert page.locator("#dw-chart rect.bar").count() == 30
            page.screenshot(path=str(SHOTS / "01-dashboard.png"), full_page=True)

            page.goto(f"{live_server.url}/admin/drifts/drift/")
            page.click("#changelist-filter a:text-is('Critical')")
            page.wait_for_url("**severity__exact=critical**")
            rows = page.locator("#result_list tbody tr")
            assert rows.count() == 2
            assert page.locator("#result_list tbody .dw-badge.dw-critical").count() == 2
            page.screenshot(path=str(SHOTS / "02-critical-drifts.png"), full_page=True)

            page.check(f"#result_list input.action-select[value='{target.pk}']")
            page.select_option("select[name=action]", "resolve_with_baseline")
            page.click("button[name=index]")
            page.wait_for_selector(".messagelist li")
            assert page.inner_text(".messagelist li.success") == "1 resolved with a new baseline."
            row = page.locator("#result_list tbody tr", has=page.locator(f"input.action-select[value='{target.pk}']"))
            assert row.locator(".dw-badge.dw-resolved").inner_text().strip().lower() == "resolved"
            other_row = page.locator(
                "#result_list tbody tr", has=page.locator(f"input.action-select[value='{other.pk}']")
            )
            assert other_row.locator(".dw-badge.dw-detected").count() == 1
            page.screenshot(path=str(SHOTS / "03-after-resolve.png"), full_page=True)

            page.goto(f"{live_server.url}/admin/drifts/drift/{target.pk}/change/")
            assert page.inner_text("#dw-status").strip().lower() == "resolved"
            assert page.locator("#dw-history tbody tr").count() == 2
            page.screenshot(path=str(SHOTS / "04-resolved-drift.png"), full_page=True)

            page.goto(f"{live_server.url}/admin/drifts/drift/{other.pk}/change/")
            focus = page.locator("#dw-diff .dw-doc[data-side='current'] .dw-line.focus")
            assert focus.inner_text().strip() == '"BlockPublicAcls": false,'
            assert page.locator("#dw-triage button").count() == 3
            page.screenshot(path=str(SHOTS / "05-drift-diff.png"), full_page=True)

            page.goto(f"{live_server.url}/admin/providers/resource/{target.resource_id}/change/")
            page.screenshot(path=str(SHOTS / "06a-resource.png"), full_page=True)
            page.click("#dw-baselines button[type=submit]")
            page.wait_for_url("**/compare/**")
            assert page.locator("#dw-diff tbody tr").count() == 2
            page.screenshot(path=str(SHOTS / "06-baseline-compare.png"), full_page=True)

            page.goto(f"{live_server.url}/admin/providers/provider/{target.provider_id}/change/")
            assert page.locator("input[name=secret_access_key]").get_attribute("type") == "password"
            page.screenshot(path=str(SHOTS / "07-provider.png"), full_page=True)
            page.goto(f"{live_server.url}/admin/drifts/detectionjob/")
            assert page.locator("#result_list .dw-progress").count() == 1
            page.screenshot(path=str(SHOTS / "08-jobs.png"), full_page=True)
        finally:
            browser.close()

    target.refresh_from_db()
    assert (target.status, target.resolution, target.resolved_by.username) == (
        "resolved",
        "baseline_captured",
        "operator",
    )
    sibling.refresh_from_db()
    assert (sibling.status, sibling.resolution) == ("resolved", "baseline_captured")
    assert Drift.objects.get(pk=other.pk).status == "detected"
    current = Baseline.objects.get(resource_id=target.resource_id, is_current=True)
    assert (current.source, current.captured_by.username) == ("resolve", "operator")
    assert current.config == target.resource.config
    assert DriftEvent.objects.filter(drift=target, to_status="resolved", actor__username="operator").count() == 1
    for name in (
        "01-dashboard",
        "02-critical-drifts",
        "03-after-resolve",
        "04-resolved-drift",
        "05-drift-diff",
        "06-baseline-compare",
        "07-provider",
        "08-jobs",
    ):
        assert (SHOTS / f"{name}.png").stat().st_size > 10_000
