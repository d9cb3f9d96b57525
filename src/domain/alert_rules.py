"""Alert rules: which events they match, how matches are grouped, where alerts go
(contract §7). How matches add up to an alert is ``alert_evaluation``."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from domain.action_patterns import ActionPatterns, action_patterns, checked_patterns
from domain.destinations import checked_url
from domain.errors import FieldError, ValidationFailed
from domain.event_rules import IDENTIFIER_MAX_LENGTH
from domain.events import Event
from domain.names import checked_name
from domain.sending import Sending
from domain.streams import checked_credential

ACTOR_ID = "actor_id"
IP_ADDRESS = "ip_address"
WORKSPACE = "workspace"
GROUP_BY = (ACTOR_ID, IP_ADDRESS, WORKSPACE)
MAX_RULES_PER_WORKSPACE = 200
MAX_COUNT = 1_000
"""Events in one alert at most: its notification carries every one of them in full."""
MAX_SECONDS = 7 * 86_400
_TICK = timedelta(microseconds=1)
MAX_LISTED = 100
MAX_METADATA_KEYS = 20
METADATA_KEY_MAX_LENGTH = 128
AUDITRAIL_FORMAT = "auditrail"
"""A notification's default body: the signed JSON document of contract §7, for code."""
SLACK_FORMAT = "slack"
"""A chat message (Slack's incoming webhooks, and the chat tools that accept their form),
for people: an alert reaches a security channel with no receiver to write."""
TEAMS_FORMAT = "teams"
"""A chat message for Microsoft Teams: an Adaptive Card, posted by a Teams workflow's
webhook to its channel."""
PAGERDUTY_FORMAT = "pagerduty"
"""An incident opened through PagerDuty's Events API v2, for the people on call: the rule's
``notify.secret`` is the routing (integration) key of the service to page, not a signing
secret, so it must be given."""
NOTIFY_FORMATS = (AUDITRAIL_FORMAT, SLACK_FORMAT, TEAMS_FORMAT, PAGERDUTY_FORMAT)
MATCH_LISTS = ("actor_ids", "actor_types", "target_ids", "target_types", "countries",
               "countries_not_in")
"""The conditions of ``match`` besides ``actions``, each a list of values or left out."""
NEEDS_ROUTING_KEY = ("PagerDuty's integration key of the service to page (Events API v2); "
                     "a rule notifying PagerDuty needs one.")
_COUNTRY = re.compile(r"^[A-Za-z]{2}$")


@dataclass(frozen=True)
class Threshold:
    count: int
    window_seconds: int
    group_by: str


@dataclass(frozen=True)
class AlertRule:
    id: str
    workspace_id: str
    name: str
    actions: tuple[str, ...]
    webhook_url: str
    credential: bytes
    """The signing secret, sealed by the credential vault."""
    credential_hint: str
    created_at: datetime
    updated_at: datetime
    enabled: bool = True
    actor_ids: tuple[str, ...] | None = None
    actor_types: tuple[str, ...] | None = None
    target_ids: tuple[str, ...] | None = None
    """At least one of the event's targets has one of these ids."""
    target_types: tuple[str, ...] | None = None
    """At least one of the event's targets has one of these types."""
    countries: tuple[str, ...] | None = None
    countries_not_in: tuple[str, ...] | None = None
    metadata: Mapping[str, tuple[Any, ...]] | None = None
    """Top-level keys of the event's ``metadata``, each with the values it may hold (JSON
    scalars: ``true`` is not ``1``, ``"1"`` is not ``1``)."""
    threshold: Threshold | None = None
    cooldown_seconds: int = 0
    notify_format: str = AUDITRAIL_FORMAT
    sending: Sending = field(default_factory=Sending)

    @property
    def paused(self) -> bool:
        """Alerts already triggered go out even when the rule is disabled since."""
        return False

    def with_sending(self, sending: Sending) -> AlertRule:
        return replace(self, sending=sending)

    @cached_property
    def patterns(self) -> ActionPatterns:
        return action_patterns(self.actions)

    @cached_property
    def _metadata_wanted(self) -> dict[str, frozenset[tuple[str, Any]]]:
        return {key: frozenset(map(_scalar, values))
                for key, values in (self.metadata or {}).items()}

    @property
    def stateless(self) -> bool:
        """Every match triggers and nothing is remembered: no threshold, no cooldown."""
        return self.threshold is None and not self.cooldown_seconds

    def matches(self, event: Event) -> bool:
        """Every condition given holds (they are ANDed). An event whose address was not
        located has no country: it matches neither ``countries`` nor ``countries_not_in``."""
        return self.patterns.matches(event.action) and self.matches_besides_action(event)

    def matches_besides_action(self, event: Event) -> bool:
        if self.actor_ids is not None and event.actor["id"] not in self.actor_ids:
            return False
        if self.actor_types is not None and event.actor["type"] not in self.actor_types:
            return False
        if self.target_ids is not None and not any(
                target["id"] in self.target_ids for target in event.targets):
            return False
        if self.target_types is not None and not any(
                target["type"] in self.target_types for target in event.targets):
            return False
        if self.metadata is not None and not self._metadata_matches(event.metadata):
            return False
        if self.countries is None and self.countries_not_in is None:
            return True
        country = event.country_code
        if country is None:
            return False
        return (self.countries is None or country in self.countries) and (
            self.countries_not_in is None or country not in self.countries_not_in)

    def _metadata_matches(self, metadata: Mapping[str, Any]) -> bool:
        """Each key is present with one of its values; an object or a list never matches."""
        for key, wanted in self._metadata_wanted.items():
            if key not in metadata or _scalar(metadata[key]) not in wanted:
                return False
        return True

    def group_key(self, event: Event) -> str | None:
        """``actor_id:usr_42``, ``ip_address:203.0.113.7``, or ``workspace`` (a rule without
        threshold counts the workspace as one group); None for an event that has no value to
        group by (no address), which the rule then does not count."""
        group_by = self.threshold.group_by if self.threshold else WORKSPACE
        if group_by == WORKSPACE:
            return WORKSPACE
        value = event.actor["id"] if group_by == ACTOR_ID else event.ip_address
        return f"{group_by}:{value}" if value is not None else None

    def summary(self) -> dict[str, Any]:
        """What a notification says of its rule: what it matches and counts."""
        match: dict[str, Any] = {"actions": list(self.actions)}
        for name in MATCH_LISTS:
            if getattr(self, name) is not None:
                match[name] = list(getattr(self, name))
        if self.metadata is not None:
            match["metadata"] = {key: list(values) for key, values in self.metadata.items()}
        threshold = None
        if self.threshold is not None:
            threshold = {"count": self.threshold.count,
                         "window_seconds": self.threshold.window_seconds,
                         "group_by": self.threshold.group_by}
        return {"id": self.id, "name": self.name, "match": match, "threshold": threshold,
                "cooldown_seconds": self.cooldown_seconds}

    def edited(self, changes: Mapping[str, Any], now: datetime) -> AlertRule:
        """Every edit moves ``updated_at`` forward, even within one tick of a coarse or
        stepped-back clock: workers tell that a rule changed by it."""
        updated_at = max(now, self.updated_at + _TICK)
        return replace(self, updated_at=updated_at, **changes)

    def counts_differently(self, other: AlertRule) -> bool:
        """Whether a change makes the windows counted so far meaningless."""
        return any(getattr(self, name) != getattr(other, name) for name in (
            "actions", *MATCH_LISTS, "metadata", "threshold", "cooldown_seconds",
            "enabled"))


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
                unique.setdefault(_scalar(value), value)  # the first of repeats
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


def _scalar(value: Any) -> tuple[str, Any]:
    """A JSON value as metadata conditions compare it: booleans apart from numbers (Python
    holds ``True == 1``), 1 and 1.0 alike (JSON has one kind of number); an object or a
    list as something no condition holds."""
    if isinstance(value, bool):
        return ("boolean", value)
    if isinstance(value, int | float):
        return ("number", value)
    if value is None or isinstance(value, str):
        return (type(value).__name__, value)
    return ("structure", None)


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
