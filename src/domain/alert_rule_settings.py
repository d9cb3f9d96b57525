"""What a rule's create or PATCH body may say (contract §7): every bad field named at once,
in the domain rather than the view, so that the API, the operator's commands and the tests
hold rules to the same limits."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from domain.action_patterns import checked_patterns
from domain.alert_rules import (
    GROUP_BY,
    MATCH_LISTS,
    MAX_COUNT,
    MAX_LISTED,
    MAX_METADATA_KEYS,
    MAX_SECONDS,
    METADATA_KEY_MAX_LENGTH,
    NEEDS_ROUTING_KEY,
    NOTIFY_FORMATS,
    PAGERDUTY_FORMAT,
    Threshold,
)
from domain.destinations import checked_url
from domain.errors import FieldError, ValidationFailed
from domain.event_rules import IDENTIFIER_MAX_LENGTH
from domain.json_rules import compared_value
from domain.names import checked_name
from domain.streams import checked_credential

_COUNTRY = re.compile(r"^[A-Za-z]{2}$")


def rule_settings(body: Mapping[str, Any], *, allow_private: bool,
                  creating: bool) -> dict[str, Any]:
    """A create or PATCH body's settings, every bad field named at once. ``match`` and
    ``threshold`` are replaced whole when given; ``threshold: null`` removes it. Returns
    the changes, with ``credential`` (the secret) still in the clear, for the caller to
    seal."""
    errors: list[FieldError] = []
    found: dict[str, Any] = {}

    def check(step: Any) -> None:
        try:
            found.update(step())
        except ValidationFailed as failure:
            errors.extend(failure.errors)

    if "name" in body or creating:
        check(lambda: {"name": checked_name(body.get("name") or "", "name")})
    if "enabled" in body:
        found["enabled"] = bool(body["enabled"])
    if "match" in body or creating:
        check(lambda: _match(body.get("match") or {}))
    if "threshold" in body:
        check(lambda: {"threshold": _threshold(body["threshold"])})
    if "cooldown_seconds" in body:
        check(lambda: {"cooldown_seconds": _seconds(body["cooldown_seconds"], 0,
                                                     "cooldown_seconds")})
    if "notify" in body or creating:
        check(lambda: _notify(body.get("notify") or {}, allow_private, creating))
    if errors:
        raise ValidationFailed(errors)
    return found


def _match(match: Mapping[str, Any]) -> dict[str, Any]:
    errors: list[FieldError] = []
    found: dict[str, Any] = {}
    try:
        found["actions"] = checked_patterns(match.get("actions") or [], "match.actions")
    except ValidationFailed as failure:
        errors.extend(failure.errors)
    for name in MATCH_LISTS:
        checker = _country if name.startswith("countries") else _identifier
        if match.get(name) is None:
            found[name] = None
            continue
        values = list(match[name])
        if not 1 <= len(values) <= MAX_LISTED:
            errors.append(FieldError(f"match.{name}", f"1-{MAX_LISTED} values, or leave it "
                                                      f"out."))
            continue
        problems = [FieldError(f"match.{name}[{i}]", message) for i, value in enumerate(values)
                    if (message := checker(value)) is not None]
        errors.extend(problems)
        if not problems:
            found[name] = tuple(dict.fromkeys(
                value.upper() if checker is _country else value for value in values))
    try:
        found["metadata"] = _metadata(match.get("metadata"))
    except ValidationFailed as failure:
        errors.extend(failure.errors)
    if errors:
        raise ValidationFailed(errors)
    return found


def _metadata(metadata: object) -> dict[str, tuple[Any, ...]] | None:
    if metadata is None:
        return None
    if not isinstance(metadata, Mapping) or not 1 <= len(metadata) <= MAX_METADATA_KEYS:
        raise ValidationFailed([FieldError("match.metadata", f"An object of 1-"
                                           f"{MAX_METADATA_KEYS} keys, or leave it out.")])
    errors: list[FieldError] = []
    found: dict[str, tuple[Any, ...]] = {}
    for key, values in metadata.items():
        where = f"match.metadata.{key}"
        if not 1 <= len(key) <= METADATA_KEY_MAX_LENGTH:
            errors.append(FieldError("match.metadata", f"Keys of 1-{METADATA_KEY_MAX_LENGTH} "
                                                       f"characters."))
        elif not isinstance(values, list) or not 1 <= len(values) <= MAX_LISTED:
            errors.append(FieldError(where, f"A list of 1-{MAX_LISTED} values."))
        elif bad := [i for i, value in enumerate(values) if not _is_scalar(value)]:
            errors += [FieldError(f"{where}[{i}]", "A string (1-256 characters), a number, "
                                                   "true, false or null.") for i in bad]
        else:
            unique: dict[tuple[str, Any], Any] = {}
            for value in values:
                unique.setdefault(compared_value(value), value)  # the first of repeats
            found[key] = tuple(unique.values())
    if errors:
        raise ValidationFailed(errors)
    return found


def _is_scalar(value: object) -> bool:
    if isinstance(value, str):
        return 1 <= len(value) <= IDENTIFIER_MAX_LENGTH
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, bool | int)


def _identifier(value: object) -> str | None:
    if not isinstance(value, str) or not 1 <= len(value) <= IDENTIFIER_MAX_LENGTH:
        return f"1-{IDENTIFIER_MAX_LENGTH} characters."
    return None


def _country(value: object) -> str | None:
    if not isinstance(value, str) or not _COUNTRY.fullmatch(value):
        return "Two letters (ISO 3166-1 alpha-2), as geo enrichment gives them."
    return None


def _threshold(threshold: Mapping[str, Any] | None) -> Threshold | None:
    if threshold is None:
        return None
    errors = []
    count = threshold.get("count")
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_COUNT:
        errors.append(FieldError("threshold.count", f"A whole number, 1-{MAX_COUNT:,}."))
    window = threshold.get("window_seconds")
    try:
        _seconds(window, 1, "threshold.window_seconds")
    except ValidationFailed as failure:
        errors.extend(failure.errors)
    group_by = threshold.get("group_by")
    if group_by not in GROUP_BY:
        errors.append(FieldError("threshold.group_by", f"One of: {', '.join(GROUP_BY)}."))
    if errors:
        raise ValidationFailed(errors)
    return Threshold(count, window, group_by)  # type: ignore[arg-type]


def _seconds(value: object, minimum: int, field_name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not (
            minimum <= value <= MAX_SECONDS):
        raise ValidationFailed([FieldError(field_name, f"Whole seconds, {minimum}-"
                                                       f"{MAX_SECONDS:,} (7 days).")])
    return value


def _notify(notify: Mapping[str, Any], allow_private: bool,
            creating: bool) -> dict[str, Any]:
    errors: list[FieldError] = []
    found: dict[str, Any] = {}
    if "webhook_url" in notify or creating:
        try:
            found["webhook_url"] = checked_url(notify.get("webhook_url"), "notify.webhook_url",
                                               allow_private)
        except ValidationFailed as failure:
            errors.extend(failure.errors)
    if "format" in notify:
        if notify["format"] in NOTIFY_FORMATS:
            found["notify_format"] = notify["format"]
        else:
            errors.append(FieldError("notify.format", f"One of: {', '.join(NOTIFY_FORMATS)}."))
    if notify.get("secret") is not None:
        try:
            found["credential"] = checked_credential(notify["secret"], "notify.secret")
        except ValidationFailed as failure:
            errors.extend(failure.errors)
    elif creating and notify.get("format") == PAGERDUTY_FORMAT:
        errors.append(FieldError("notify.secret", NEEDS_ROUTING_KEY))
    if errors:
        raise ValidationFailed(errors)
    return found
