"""The API's JSON renderer: orjson, producing exactly the bytes DRF's JSONRenderer would.

orjson writes compact UTF-8 like DRF's renderer (UNICODE_JSON, COMPACT_JSON). Where the two would differ,
this one hands the data to DRF's renderer instead of changing the answer:
- types orjson does not know (lazy strings, Decimal, datetimes, ...) go through DRF's encoder (`default`);
- small floats: orjson writes 1e-7 and 0.00001 where Python writes 1e-07 and 1e-05 (found by a pattern over
  the output; a string that happens to match only costs the slower path);
- what orjson refuses (integers beyond 64 bits, lone surrogates) and indented output (`; indent=4`).
U+2028 and U+2029 are escaped as DRF does, so the output stays a JavaScript subset.
"""

import re

import orjson
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.encoders import JSONEncoder

_ENCODER = JSONEncoder()
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_NON_STR_KEYS
# Where orjson's float text differs from Python's repr (exhaustively checked in the tests).
_FLOAT_TEXT_DIFFERS = re.compile(rb"0\.0000|e-\d(?!\d)")


def _default(obj):
    return _ENCODER.default(obj)


class OrjsonRenderer(JSONRenderer):
    """application/json via orjson; byte-for-byte what JSONRenderer renders."""

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        if data is None:
            return b""
        if self.get_indent(accepted_media_type, renderer_context or {}) is not None:
            return super().render(data, accepted_media_type, renderer_context)
        try:
            body = orjson.dumps(data, default=_default, option=_OPTIONS)
        except (orjson.JSONEncodeError, TypeError):
            return super().render(data, accepted_media_type, renderer_context)
        if _FLOAT_TEXT_DIFFERS.search(body):
            return super().render(data, accepted_media_type, renderer_context)
        if b"\xe2\x80\xa8" in body or b"\xe2\x80\xa9" in body:
            body = body.replace(b"\xe2\x80\xa8", b"\\u2028").replace(b"\xe2\x80\xa9", b"\\u2029")
        return body
