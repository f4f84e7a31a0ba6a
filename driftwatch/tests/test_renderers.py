"""The orjson renderer writes exactly the bytes DRF's JSONRenderer writes, whatever the data."""

import datetime
import decimal
import random
import struct
import uuid

import pytest
from django.utils.translation import gettext_lazy
from rest_framework.exceptions import ErrorDetail
from rest_framework.renderers import JSONRenderer

from driftwatch.api.renderers import OrjsonRenderer

ORJSON, STDLIB = OrjsonRenderer(), JSONRenderer()

CASES = [
    None,
    {},
    [],
    {"data": [{"id": 1, "name": "data-lake-bucket", "ok": True, "v": None}], "meta": {"total": 12, "page": 1}},
    "plain ascii",
    "unicode: é ü 東京 🚀",
    "separators \u2028 and \u2029 inside",
    'controls \x00 \x01 \x1f \x7f \n \t \r \b \f " \\ /',
    {"small floats": [1e-7, 1e-05, 2.5e-5, 0.0001, 5e-324], "large": [1e16, 1e22, 1.7976931348623157e308]},
    [0.1, -0.0, 100.0, 123456789.123, 1e15],
    2**64 + 1,  # beyond orjson's 64 bits
    -(2**63) - 1,
    {1: "int key", "s": "str key"},
    (1, 2, 3),
    datetime.datetime(2024, 1, 15, 14, 30, tzinfo=datetime.UTC),
    datetime.datetime(2024, 1, 15, 14, 30, 0, 123456, tzinfo=datetime.UTC),
    datetime.date(2024, 1, 15),
    datetime.timedelta(seconds=90),
    decimal.Decimal("1.50"),
    uuid.UUID("12345678-1234-5678-1234-567812345678"),
    gettext_lazy("Not found."),
    {"detail": ErrorDetail("Invalid severity: 'x'.", code="invalid")},
    {"text that looks like a small float": "0.00001 and 1e-7"},
]


@pytest.mark.parametrize("data", CASES, ids=range(len(CASES)))
def test_orjson_renderer_writes_what_json_renderer_writes(data):
    assert ORJSON.render(data) == STDLIB.render(data)


def test_every_float_renders_as_python_writes_it():
    rng = random.Random(16)
    values = []
    for _ in range(20_000):
        values.append(struct.unpack("d", rng.randbytes(8))[0])
        values.append(rng.randint(1, 99_999) / 10 ** rng.randint(0, 14))
        values.append(rng.random() * 10.0 ** rng.randint(-30, 30))
    values = [v for v in values if v == v and v not in (float("inf"), float("-inf"))]
    assert ORJSON.render(values) == STDLIB.render(values)
    for value in values[:3000]:
        assert ORJSON.render({"v": value}) == STDLIB.render({"v": value})


def test_indent_requested_by_the_client_is_honoured():
    data = {"a": [1, 2]}
    media = "application/json; indent=2"
    assert ORJSON.render(data, media) == STDLIB.render(data, media) == b'{\n  "a": [\n    1,\n    2\n  ]\n}'


@pytest.mark.django_db
def test_the_api_answers_through_the_orjson_renderer(api, drift, monkeypatch):
    calls = []
    original = OrjsonRenderer.render
    monkeypatch.setattr(OrjsonRenderer, "render", lambda self, *a, **k: calls.append(1) or original(self, *a, **k))
    response = api.get("/api/v1/drifts", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert calls == [1]
    assert response.content == STDLIB.render(response.json())
