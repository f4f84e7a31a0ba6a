"""`manage.py notifications`: list, test, failed, redeliver."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from driftwatch import outbox

from ..models import Delivery
from ..sending import send_pending
from .helpers import dispatch, drift_data, subscribe
from .receivers import Answer

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command("notifications", *args, stdout=out)
    return out.getvalue()


def test_list_test_failed_and_redeliver(receiver, user):
    sub, _ = subscribe(user, name="ops", url=receiver.url, event_types=["drift.detected"])
    assert f"#{sub.pk} ops [webhook] enabled; pending 0, failed 0" in run("list")
    assert "ping delivered (HTTP 200" in run("test", str(sub.pk))
    receiver.answer(Answer(400))
    outbox.emit("drift.detected", drift_data(1))
    (delivery,) = [d for d in dispatch() if d.event_type == "drift.detected"]
    send_pending(sub.pk)
    assert "The receiver answered HTTP 400." in run("failed", str(sub.pk))
    assert "1 delivery(ies) queued again" in run("redeliver", str(sub.pk), "--since", "2000-01-01T00:00:00Z")
    send_pending(sub.pk)
    assert Delivery.objects.get(pk=delivery.pk).status == "succeeded"
    with pytest.raises(CommandError, match="no subscription"):
        run("test", "999999")
    with pytest.raises(CommandError, match="ISO 8601"):
        run("redeliver", str(sub.pk), "--since", "yesterday")
