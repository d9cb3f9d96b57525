"""Query-string parsing: unknown or invalid parameters are 400 ``invalid_parameter``."""

from __future__ import annotations

from typing import Any

from flask import request
from marshmallow import Schema
from marshmallow import ValidationError as MarshmallowError
from werkzeug.http import parse_list_header

from domain.field_names import meant_field
from domain.idempotency import is_valid_key
from entrypoints.http.errors import ApiError
from entrypoints.http.validation import input_names


def query_args(schema: Schema) -> dict[str, Any]:
    """Load the query string with ``schema``, naming the first bad parameter."""
    repeated = [name for name in request.args if len(request.args.getlist(name)) > 1]
    if repeated:
        raise ApiError(400, "invalid_parameter",
                       f"Query parameter '{repeated[0]}' is given more than once.")
    try:
        return schema.load(request.args.to_dict())
    except MarshmallowError as exc:
        name, problems = next(iter(exc.messages.items()))  # type: ignore[union-attr]
        problem = problems[0] if isinstance(problems, list) else problems
        message = (_unknown(str(name), input_names(schema))
                   if problem == schema.error_messages["unknown"]
                   else f"Invalid query parameter '{name}': {problem}")
        raise ApiError(400, "invalid_parameter", message) from None


_ALIASES = {"page": "cursor", "offset": "cursor", "starting_after": "cursor",
            "per_page": "limit", "page_size": "limit", "sort": "order",
            "from": "since", "start": "since", "after": "since",
            "occurred_after": "since", "to": "until", "end": "until", "before": "until",
            "occurred_before": "until"}
"""What other APIs call the parameters these endpoints take, where they take them."""


def _unknown(name: str, known: list[str]) -> str:
    belongs = {alias: meant for alias, meant in _ALIASES.items() if meant in known}
    meant = meant_field(name, known, belongs)
    if meant:
        return f"Unknown query parameter '{name}'; did you mean '{meant}'?"
    return f"Unknown query parameter '{name}'; this endpoint takes {', '.join(known)}."


def refuse_query() -> None:
    """For endpoints that take no query parameters: any one given is unknown (contract §1),
    so a typo such as ``?expand=geo`` is refused rather than silently ignored. Called
    once a query string was seen ("?" or "&" alone hold no parameter)."""
    names = list(request.args)
    if names:
        raise ApiError(400, "invalid_parameter", f"Unknown query parameter '{names[0]}'; "
                       "this endpoint takes none.")


def header(name: str) -> str | None:
    """A request header other than ``Content-Type`` and ``Content-Length``, or None.

    Read from the WSGI environ, where the server put it, rather than ``request.headers``:
    there an absent header, as the optional ones nearly always are, costs a ``KeyError``
    raised and caught (thousands of instructions each, on every request).
    """
    return request.environ.get("HTTP_" + name.upper().replace("-", "_"))


def idempotency_key() -> str | None:
    """The ``Idempotency-Key`` header, if sent; a malformed one is a 400, not ignored."""
    key = header("Idempotency-Key")
    if key is None:
        return None
    if not is_valid_key(key):
        raise ApiError(400, "invalid_parameter",
                       "Header 'Idempotency-Key' must be 1-255 visible ASCII characters.")
    return key


def prefers(preference: str) -> bool:
    """Whether the ``Prefer`` header (RFC 7240) asks for ``preference``; as the RFC says, a
    preference the server does not know is ignored, not refused."""
    sent = header("Prefer")
    if sent is None:
        return False
    return any(item.split(";", 1)[0].split("=", 1)[0].strip().lower() == preference
               for item in parse_list_header(sent))
