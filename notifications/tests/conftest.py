import pytest

from .receivers import HttpReceiver, SmtpReceiver


@pytest.fixture
def receiver():
    r = HttpReceiver().start()
    yield r
    r.stop()


@pytest.fixture
def second_receiver():
    r = HttpReceiver().start()
    yield r
    r.stop()


@pytest.fixture
def smtp_receiver():
    r = SmtpReceiver().start()
    yield r
    r.stop()


@pytest.fixture(autouse=True)
def _notify_settings(settings):
    settings.DRIFTWATCH_BASE_URL = "https://driftwatch.example.test"
    settings.DRIFTWATCH_NOTIFY_RETRY_DELAYS = [10, 60, 600, 3600, 21600, 86400]
    settings.DRIFTWATCH_NOTIFY_RETRY_JITTER_PERCENT = 10
    settings.DRIFTWATCH_NOTIFY_TIMEOUT_SECONDS = 3
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    # The outbound guard lets the tests' loopback receivers through over plain http.
    settings.DRIFTWATCH_OUTBOUND_ALLOW_HTTP = True
    settings.DRIFTWATCH_OUTBOUND_PRIVATE_HOSTS = ["127.0.0.1", "localhost", "::1"]
