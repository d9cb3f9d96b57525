"""Workspaces (tenants), their plans and their IP allowlists."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cached_property
from typing import Any

from domain.accepted_actions import AcceptedActions, checked_accepted_actions
from domain.errors import FieldError, ValidationFailed
from domain.metadata_schemas import checked_metadata_schemas
from domain.names import checked_name

PLAN_LIMITS = {"free": 60, "starter": 300, "pro": 1_000}
ENTERPRISE = "enterprise"
PLANS = (*PLAN_LIMITS, ENTERPRISE)
MAX_RATE_LIMIT = 1_000_000_000
"""Far beyond what one deployment serves, and within every store's 32-bit integer."""
DEFAULT_ENTERPRISE_LIMIT = 10_000
MAX_RETENTION_DAYS = 36_500
DEFAULT_RETENTION_DAYS = {"free": 30, "starter": 90, "pro": 365}
MAX_ALLOWLIST_ENTRIES = 100

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def effective_retention_days(plan: str, retention_days: int | None) -> int | None:
    """The workspace's own setting, else its plan's default (None: kept forever)."""
    if retention_days is not None:
        return retention_days
    return DEFAULT_RETENTION_DAYS.get(plan)


@dataclass(frozen=True)
class Workspace:
    """A tenant. ``rate_limit_per_minute`` is only stored for enterprise plans."""

    id: str
    name: str
    plan: str
    created_at: datetime
    custom_rate_limit: int | None = None
    ip_allowlist: tuple[str, ...] = field(default_factory=tuple)
    retention_days: int | None = None
    record_activity: bool = False
    """Whether changes to the workspace are recorded as events in its log (domain.activity)."""
    legal_hold: bool = False
    """Keep every event, whatever the retention, and refuse the workspace's deletion: its
    records are evidence in a dispute, an investigation or litigation."""
    accepted_actions: tuple[str, ...] | None = None
    """The actions its events may have, exact or ``prefix.*`` (None: any); others are
    refused when sent (``domain.accepted_actions``)."""
    metadata_schemas: str | None = None
    """JSON Schemas the metadata of its events must meet, by action, as stored
    (``domain.metadata_schemas``); None: none."""

    @property
    def listed_actions(self) -> list[str] | None:
        """``accepted_actions`` as a JSON document holds it."""
        return None if self.accepted_actions is None else list(self.accepted_actions)

    @cached_property
    def accepts(self) -> AcceptedActions | None:
        """The list as a matcher, built once per workspace object."""
        return None if self.accepted_actions is None else AcceptedActions(self.accepted_actions)

    def check_matchable(self, patterns: Sequence[str] | None, field: str, what: str) -> None:
        """``ValidationFailed`` naming each of an alert rule's or a stream's action
        patterns no action this workspace accepts can match (``AcceptedActions.unmatched``):
        ``what`` would wait for events it refuses. Nothing when it accepts any."""
        unmatched = [] if self.accepts is None or not patterns else \
            self.accepts.unmatched(patterns, field, what)
        if unmatched:
            raise ValidationFailed(unmatched)

    def strands(self, patterns: Sequence[str] | None) -> bool:
        """Whether a pattern of ``patterns`` (None: every action) matches no action this
        workspace accepts."""
        accepts = self.accepts
        return accepts is not None and any(not accepts.may_match(p) for p in patterns or ())

    @property
    def rate_limit_per_minute(self) -> int:
        if self.plan == ENTERPRISE:
            return self.custom_rate_limit or DEFAULT_ENTERPRISE_LIMIT
        return PLAN_LIMITS[self.plan]

    @property
    def effective_retention_days(self) -> int | None:
        return effective_retention_days(self.plan, self.retention_days)

    def allows(self, client_address: str) -> bool:
        """Whether a request from ``client_address`` may use this workspace."""
        if not self.ip_allowlist:
            return True
        try:
            address = ipaddress.ip_address(client_address)
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        return any(address in network for network in parse_allowlist(self.ip_allowlist))

    def with_plan(self, plan: str, rate_limit: int | None) -> Workspace:
        return replace(self, **plan_settings(plan, rate_limit))

    def with_settings(self, changes: dict, caller_address: str) -> Workspace:
        """Apply a PATCH of name, ip_allowlist, retention_days, record_activity,
        legal_hold, accepted_actions and metadata_schemas, refusing a self-lockout.
        (Whether each schema is usable is checked by the caller's ``MetadataRules``.)"""
        errors: list[FieldError] = []
        updated = self
        for name, check in _CHECKED.items():
            if name in changes:
                try:
                    updated = replace(updated, **{name: check(changes[name])})
                except ValidationFailed as failure:
                    errors.extend(failure.errors)
        if "retention_days" in changes:
            days = changes["retention_days"]
            if days is not None and not 1 <= days <= MAX_RETENTION_DAYS:
                errors.append(FieldError("retention_days",
                                         f"1-{MAX_RETENTION_DAYS} days, or null for the "
                                         f"plan's default."))
            updated = replace(updated, retention_days=days)
        if "record_activity" in changes:
            updated = replace(updated, record_activity=bool(changes["record_activity"]))
        if "legal_hold" in changes:
            updated = replace(updated, legal_hold=bool(changes["legal_hold"]))
        if "ip_allowlist" in changes:
            entries = list(changes["ip_allowlist"])
            try:
                networks = parse_allowlist(entries)
            except ValidationFailed as failure:
                errors += failure.errors
            else:
                if len(entries) > MAX_ALLOWLIST_ENTRIES:
                    errors.append(FieldError("ip_allowlist",
                                             f"At most {MAX_ALLOWLIST_ENTRIES} entries."))
                updated = replace(updated, ip_allowlist=tuple(str(n) for n in networks))
                if not updated.allows(caller_address):
                    errors.append(FieldError(
                        "ip_allowlist", f"This allowlist would lock out your own address "
                                        f"({caller_address}); include it."))
        if errors:
            raise ValidationFailed(errors)
        return updated


_CHECKED: dict[str, Callable[[Any], Any]] = {
    "name": lambda name: checked_name(name or ""),
    "accepted_actions": checked_accepted_actions,
    "metadata_schemas": checked_metadata_schemas}
"""The settings a PATCH may set that their own checks turn into what is stored."""


def plan_settings(plan: str, rate_limit: int | None) -> dict:
    """Validate a plan choice; a custom rate limit exists only on the enterprise plan."""
    if plan not in PLANS:
        raise ValidationFailed([FieldError("plan", f"Must be one of: {', '.join(PLANS)}.")])
    if rate_limit is not None and plan != ENTERPRISE:
        raise ValidationFailed([FieldError(
            "rate_limit_per_minute",
            f"Only the enterprise plan has a custom rate limit ({plan} allows "
            f"{PLAN_LIMITS[plan]}/min).")])
    if rate_limit is not None and not 1 <= rate_limit <= MAX_RATE_LIMIT:
        raise ValidationFailed([FieldError("rate_limit_per_minute",
                                           f"1-{MAX_RATE_LIMIT:,} requests a minute.")])
    return {"plan": plan, "custom_rate_limit": rate_limit if plan == ENTERPRISE else None}


def parse_allowlist(entries: tuple[str, ...] | list[str]) -> list[IpNetwork]:
    """Parse allowlist entries (addresses or CIDR ranges), naming each invalid entry."""
    networks, errors = [], []
    for index, entry in enumerate(entries):
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except (ValueError, TypeError):
            errors.append(FieldError(f"ip_allowlist[{index}]",
                                     f"Not an IPv4/IPv6 address or CIDR range: {entry!r}."))
    if errors:
        raise ValidationFailed(errors)
    return networks
