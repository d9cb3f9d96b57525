"""Every rule an event body must satisfy (contract §5.1), checked in one pass.

The domain validates the whole body, shape included, because this runs for each of up to
1,000 events per request: one pass here costs a fraction of a schema library's per-field
machinery. The marshmallow ``EventSchema`` describes the same shape for the API document,
and a test keeps the two in agreement.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from domain.errors import FieldError
from domain.field_names import unknown_field
from domain.json_rules import CONTROL_CHARACTERS, ijson_violations, metadata_violations
from domain.timestamps import InvalidTimestamp, parse_timestamp

ACTION_MAX_LENGTH = 128
ACTION_PATTERN = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")
RESERVED_PREFIX = "auditrail."
"""Actions Auditrail records itself (domain.activity): refused to clients, so that an event
under it can only be one Auditrail wrote."""
IDENTIFIER_MAX_LENGTH = 256
NAME_MAX_LENGTH = 256
USER_AGENT_MAX_LENGTH = 1024
MAX_TARGETS = 50
MAX_EVENT_BYTES = 32 * 1024
MAX_CLOCK_SKEW = timedelta(minutes=5)
EARLIEST_OCCURRED_AT = parse_timestamp("1970-01-01T00:00:00Z")

EVENT_FIELDS = frozenset({"action", "occurred_at", "actor", "targets", "context", "metadata"})
PARTY_FIELDS = frozenset({"id", "type", "name", "metadata"})
CONTEXT_FIELDS = frozenset({"ip_address", "user_agent"})
_BELONGS = {
    # Where fields that other audit-log APIs keep elsewhere go in an event.
    "": {"ip_address": "context.ip_address", "ip": "context.ip_address",
         "user_agent": "context.user_agent", "actor_id": "actor.id",
         "timestamp": "occurred_at", "time": "occurred_at", "created_at": "occurred_at"},
    "context": {"ip": "ip_address", "ua": "user_agent"},
}

MISSING = "Missing data for required field."
_LONG_DIGIT_RUN = re.compile(rb"\d{16}")


def body_violations(body: Any, received_at: datetime, *,
                    own: bool = False) -> list[FieldError]:
    """All broken rules of one event body; empty when the body is a valid event.

    ``own``: the body is one of Auditrail's own records, which alone may use the reserved
    prefix.
    """
    if not isinstance(body, dict):
        return [FieldError("", "Must be a JSON object.")]
    errors = list(_shape_violations(body, EVENT_FIELDS, ""))
    errors += _action_violations(body.get("action"), own)
    errors += _occurred_at_violations(body.get("occurred_at"), received_at)
    errors += _party_violations(body.get("actor"), "actor", required=True)
    errors += _targets_violations(body.get("targets"))
    errors += _context_violations(body.get("context"))
    errors += _metadata_violations(body.get("metadata"), "metadata")
    ijson, too_large = _encoding_violations(body)
    reported = {error.field for error in errors}
    errors += [error for error in ijson if error.field not in reported]  # one a field will do
    return errors + too_large  # the whole event's, whatever else its largest field breaks


def _shape_violations(document: dict[str, Any], allowed: frozenset[str],
                      path: str) -> Iterator[FieldError]:
    for key, value in document.items():
        where = f"{path}.{key}" if path else key
        if key not in allowed:
            yield FieldError(where, unknown_field(key, allowed, _BELONGS.get(path)))
        elif value is None:
            yield FieldError(where, "Field may not be null.")


def is_reserved(action: str) -> bool:
    """Whether an action is under the reserved prefix, in any letter case."""
    return action[:len(RESERVED_PREFIX)].lower() == RESERVED_PREFIX


def _action_violations(action: Any, own: bool) -> list[FieldError]:
    if action is None:
        return [FieldError("action", MISSING)]
    if not isinstance(action, str):
        return [FieldError("action", "Not a valid string.")]
    if not 1 <= len(action) <= ACTION_MAX_LENGTH:
        return [FieldError("action", f"1-{ACTION_MAX_LENGTH} characters.")]
    if not ACTION_PATTERN.fullmatch(action):
        return [FieldError("action", "Dot-separated segments of letters, digits, '_' and '-' "
                                     "(e.g. 'user.login_failed').")]
    if not own and is_reserved(action):
        return [FieldError("action", f"Actions beginning '{RESERVED_PREFIX}' are reserved for "
                                     f"the records Auditrail keeps of changes to the "
                                     f"workspace; choose another prefix.")]
    return []


def _occurred_at_violations(text: Any, received_at: datetime) -> list[FieldError]:
    if text is None:
        return []
    if not isinstance(text, str):
        seconds = isinstance(text, int | float) and not isinstance(text, bool)
        return [FieldError("occurred_at", "Not a valid string: give an ISO 8601 timestamp "
                                          "such as 2026-11-26T13:31:45Z"
                                          + (" (Unix time is not accepted)." if seconds
                                             else "."))]
    try:
        moment = parse_timestamp(text)
    except InvalidTimestamp as exc:
        return [FieldError("occurred_at", str(exc))]
    if moment > received_at + MAX_CLOCK_SKEW:
        return [FieldError("occurred_at", "Must not be more than 5 minutes in the future.")]
    if moment < EARLIEST_OCCURRED_AT:
        return [FieldError("occurred_at", "Must not be before 1970-01-01T00:00:00Z.")]
    return []


def _party_violations(party: Any, path: str, *, required: bool) -> list[FieldError]:
    """Actors and targets share one shape: id, type, optional name and metadata."""
    if party is None:
        return [FieldError(path, MISSING)] if required else []
    if not isinstance(party, dict):
        return [FieldError(path, "Not a valid mapping type.")]
    errors = list(_shape_violations(party, PARTY_FIELDS, path))
    for key in ("id", "type"):
        errors += _identifier_violations(party.get(key), f"{path}.{key}")
    name = party.get("name")
    if name is not None and (not isinstance(name, str) or len(name) > NAME_MAX_LENGTH):
        errors.append(FieldError(f"{path}.name",
                                 f"A string of at most {NAME_MAX_LENGTH} characters."))
    errors += _metadata_violations(party.get("metadata"), f"{path}.metadata")
    return errors


def _identifier_violations(value: Any, path: str) -> list[FieldError]:
    if value is None:
        return [FieldError(path, MISSING)]
    if not isinstance(value, str):
        return [FieldError(path, "Not a valid string.")]
    if not 1 <= len(value) <= IDENTIFIER_MAX_LENGTH:
        return [FieldError(path, f"1-{IDENTIFIER_MAX_LENGTH} characters.")]
    if CONTROL_CHARACTERS.search(value):
        return [FieldError(path, "Must not contain control characters.")]
    return []


def _targets_violations(targets: Any) -> list[FieldError]:
    if targets is None:
        return []
    if not isinstance(targets, list):
        return [FieldError("targets", "Not a valid list.")]
    if len(targets) > MAX_TARGETS:
        return [FieldError("targets", f"At most {MAX_TARGETS} targets are allowed.")]
    errors: list[FieldError] = []
    for index, target in enumerate(targets):
        errors += _party_violations(target, f"targets[{index}]", required=True)
    return errors


def _context_violations(context: Any) -> list[FieldError]:
    if context is None:
        return []
    if not isinstance(context, dict):
        return [FieldError("context", "Not a valid mapping type.")]
    errors = list(_shape_violations(context, CONTEXT_FIELDS, "context"))
    address = context.get("ip_address")
    if address is not None and not _is_ip_address(address):
        errors.append(FieldError("context.ip_address", "Not a valid IPv4 or IPv6 address."))
    agent = context.get("user_agent")
    if agent is not None and (not isinstance(agent, str) or len(agent) > USER_AGENT_MAX_LENGTH):
        errors.append(FieldError("context.user_agent",
                                 f"A string of at most {USER_AGENT_MAX_LENGTH} characters."))
    return errors


def _is_ip_address(value: Any) -> bool:
    return isinstance(value, str) and canonical_ip_address(value) is not None


@functools.lru_cache(maxsize=4096)
def canonical_ip_address(text: str) -> str | None:
    """The address in canonical form (RFC 5952: ``2001:db8::1``, ``::ffff:192.0.2.1``),
    or None if it is not one.

    Spelt out for IPv4-mapped addresses, which Python before 3.13 prints in hex: the form
    stored must not depend on the interpreter, or filters would miss events. Cached: an
    audit log repeats the same addresses, and parsing is the costliest rule.
    """
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        scope = f"%{address.scope_id}" if address.scope_id else ""
        return f"::ffff:{address.ipv4_mapped}{scope}"
    return str(address)


def _metadata_violations(metadata: Any, path: str) -> list[FieldError]:
    if metadata is None:
        return []
    if not isinstance(metadata, dict):
        return [FieldError(path, "Not a valid mapping type.")]
    return [FieldError(where, message) for where, message in metadata_violations(metadata, path)]


def _encoding_violations(body: dict[str, Any]) -> tuple[list[FieldError], list[FieldError]]:
    """I-JSON's and the size limit's, checked with the other rules so that one 422 names
    every problem (the size of a body that is not I-JSON is not known). The C encoder
    settles the common case in one call; only a body it refuses, or one with a 16-digit run
    that may be a too-large integer, is walked."""
    try:
        encoded = json.dumps(body, ensure_ascii=False, allow_nan=False,
                             separators=(",", ":")).encode("utf-8")
    except (ValueError, UnicodeEncodeError):
        return _walked_ijson_violations(body), []
    if _LONG_DIGIT_RUN.search(encoded):
        errors = _walked_ijson_violations(body)
        if errors:
            return errors, []
    if len(encoded) > MAX_EVENT_BYTES:
        return [], [_too_large(body, len(encoded))]
    return [], []


def _too_large(body: dict[str, Any], size: int) -> FieldError:
    """Named after the field that takes most of the event, which is what to shorten."""
    sizes = {name: len(json.dumps(value, ensure_ascii=False, default=str,
                                  separators=(",", ":")).encode("utf-8"))
             for name, value in body.items()}  # measured as the event is
    largest = max(sizes, key=sizes.__getitem__, default="")
    return FieldError(largest, f"A serialized event may be at most {MAX_EVENT_BYTES:,} "
                               f"bytes; this one is {size:,}, {sizes.get(largest, 0):,} "
                               f"of them in '{largest}'.")


def _walked_ijson_violations(body: dict[str, Any]) -> list[FieldError]:
    return [FieldError(path, message) for path, message in ijson_violations(body, "")]
