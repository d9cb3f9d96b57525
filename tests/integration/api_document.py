"""Holding what Auditrail sends to what its API document says of it."""

from __future__ import annotations

from typing import Any

import jsonschema

from tests.integration.stacks import Stack

_VALIDATOR = jsonschema.Draft202012Validator


def assert_sent_as_documented(stack: Stack, webhook: str, request: Any) -> None:
    """A request a receiver got (``request.json()``, ``request.headers``) is what the
    document's ``webhooks`` entry of that name states: every header it names, and a body
    valid against its schema, formats checked (its times are RFC 3339)."""
    document = stack.client.get("/api/v1/openapi.json").json
    operation = document["webhooks"][webhook]["post"]
    headers = {name.lower(): value for name, value in request.headers.items()}
    for header in operation["parameters"]:
        assert header["name"].lower() in headers, header["name"]
        _VALIDATOR(header["schema"]).validate(headers[header["name"].lower()])
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    rooted = {**body, "components": document["components"]}  # its $ref resolves here
    _VALIDATOR(rooted, format_checker=_VALIDATOR.FORMAT_CHECKER).validate(request.json())
