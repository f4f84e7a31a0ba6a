"""The API's JSON parser: orjson, with a body-size limit (413) and a nesting-depth limit (400).

A body is read only up to the limit, so a huge upload costs the limit, not its size; a document nested
deeper than the limit is refused before anything walks it recursively (json.loads would raise
RecursionError at about 1,000 levels, which used to surface as a 500).
"""

import orjson
from django.conf import settings
from rest_framework import exceptions, status
from rest_framework.parsers import BaseParser


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"
    default_detail = "The request body is too large."


def read_limited(stream, limit: int) -> bytes:
    """Up to `limit` bytes of the stream, or PayloadTooLarge if there are more."""
    if stream is None:
        return b""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
    return data


def check_depth(document, limit: int) -> None:
    """ParseError if objects and arrays nest deeper than `limit` (iterative: no recursion to exhaust)."""
    stack = [(document, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            raise exceptions.ParseError(f"JSON parse error - nested deeper than {limit} levels.")
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))


class JSONParser(BaseParser):
    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DRIFTWATCH_API_MAX_BODY_BYTES
        request = (parser_context or {}).get("request")
        declared = request.META.get("CONTENT_LENGTH") if request is not None else None
        if declared and declared.isdigit() and int(declared) > limit:
            raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
        data = read_limited(stream, limit)
        try:
            document = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise exceptions.ParseError(f"JSON parse error - {exc}") from None
        check_depth(document, settings.DRIFTWATCH_API_MAX_JSON_DEPTH)
        return document
