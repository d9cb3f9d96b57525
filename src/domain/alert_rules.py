"""Alert rules: which events they match, how matches are grouped, where alerts go
(contract §7). What a request may set is ``alert_rule_settings``; how matches add up to an
alert, ``alert_evaluation``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from domain.action_patterns import ActionPatterns, action_patterns
from domain.events import Event
from domain.json_rules import compared_value
from domain.sending import Sending

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
        return {key: frozenset(map(compared_value, values))
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
            if key not in metadata or compared_value(metadata[key]) not in wanted:
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
