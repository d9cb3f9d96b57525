from dataclasses import replace
from datetime import timedelta

import pytest

from domain.errors import ValidationFailed
from domain.names import NAME_MAX_LENGTH, checked_name
from domain.scopes import UnknownScope, grants, parse_scopes
from domain.workspaces import (
    MAX_ALLOWLIST_ENTRIES,
    MAX_RATE_LIMIT,
    MAX_RETENTION_DAYS,
    parse_allowlist,
    plan_settings,
)
from tests.factories import NOW, ApiKeyFactory, WorkspaceFactory


@pytest.mark.parametrize(("plan", "limit"), [("free", 60), ("starter", 300), ("pro", 1000)])
def test_plan_limits(plan: str, limit: int) -> None:
    assert WorkspaceFactory(plan=plan).rate_limit_per_minute == limit


def test_enterprise_uses_its_own_limit_and_others_refuse_one() -> None:
    workspace = WorkspaceFactory().with_plan("enterprise", 5000)
    assert workspace.rate_limit_per_minute == 5000
    with pytest.raises(ValidationFailed):
        WorkspaceFactory().with_plan("pro", 5000)
    assert workspace.with_plan("pro", None).rate_limit_per_minute == 1000


@pytest.mark.parametrize("limit", [0, -5, MAX_RATE_LIMIT + 1, 10**23])
def test_an_enterprise_limit_stays_within_what_can_be_stored(limit: int) -> None:
    """10**23 from the CLI overflowed the database's integer: a traceback, not an error."""
    with pytest.raises(ValidationFailed) as refused:
        WorkspaceFactory().with_plan("enterprise", limit)
    assert refused.value.errors[0].field == "rate_limit_per_minute"
    assert WorkspaceFactory().with_plan("enterprise", MAX_RATE_LIMIT).rate_limit_per_minute \
        == MAX_RATE_LIMIT


@pytest.mark.parametrize(("allowlist", "address", "allowed"), [
    ((), "198.51.100.1", True),
    (("198.51.100.0/24",), "198.51.100.77", True),
    (("198.51.100.0/24",), "198.51.101.1", False),
    (("203.0.113.5",), "203.0.113.5", True),
    (("2001:db8::/32",), "2001:db8:1::9", True),
    (("2001:db8::/32",), "2001:db9::1", False),
    (("203.0.113.5",), "::ffff:203.0.113.5", True),
    (("203.0.113.5",), "not-an-ip", False),
])
def test_ip_allowlist(allowlist: tuple[str, ...], address: str, allowed: bool) -> None:
    assert WorkspaceFactory(ip_allowlist=allowlist).allows(address) is allowed


def test_invalid_allowlist_entries_are_named() -> None:
    with pytest.raises(ValidationFailed) as failure:
        parse_allowlist(["10.0.0.0/8", "10.0.0.0/33", "nope"])
    assert [e.field for e in failure.value.errors] == ["ip_allowlist[1]", "ip_allowlist[2]"]


def test_settings_the_domain_refuses_whatever_the_caller_checked() -> None:
    """The HTTP schema and the CLI check these first; the domain holds them for any caller."""
    workspace = WorkspaceFactory()
    too_many = [f"10.0.{i // 256}.{i % 256}" for i in range(MAX_ALLOWLIST_ENTRIES + 1)]
    with pytest.raises(ValidationFailed) as failure:
        workspace.with_settings({"retention_days": MAX_RETENTION_DAYS + 1,
                                 "ip_allowlist": too_many}, "10.0.0.1")
    assert [e.field for e in failure.value.errors] == ["retention_days", "ip_allowlist"]
    with pytest.raises(ValidationFailed) as failure:
        workspace.with_settings({"retention_days": 0}, "10.0.0.1")
    assert failure.value.errors[0].field == "retention_days"
    with pytest.raises(ValidationFailed) as failure:
        plan_settings("platinum", None)
    assert failure.value.errors[0].field == "plan"
    kept = workspace.with_settings({"retention_days": None, "ip_allowlist": too_many[:2]},
                                   "10.0.0.1")
    assert (kept.retention_days, kept.ip_allowlist) == (None, ("10.0.0.0/32", "10.0.0.1/32"))


def test_scopes() -> None:
    assert parse_scopes(["events:read", "admin", "events:read"]) == ("events:read", "admin")
    with pytest.raises(UnknownScope):
        parse_scopes(["events:delete"])
    assert grants(("admin",), "streams") and not grants(("events:read",), "events:write")


def test_key_matches_only_its_secret_and_expires() -> None:
    key = ApiKeyFactory(secret="ak_" + "a" * 40, expires_at=NOW + timedelta(days=1))
    assert key.matches("ak_" + "a" * 40) and not key.matches("ak_" + "b" * 40)
    assert key.is_active(NOW) and not key.is_active(NOW + timedelta(days=1))
    assert not key.revoked(NOW).is_active(NOW)


def test_last_used_is_stamped_at_most_once_a_minute() -> None:
    key = ApiKeyFactory()
    assert key.needs_usage_stamp(NOW)
    stamped = replace(key, last_used_at=NOW)
    assert not stamped.needs_usage_stamp(NOW + timedelta(seconds=59))
    assert stamped.needs_usage_stamp(NOW + timedelta(seconds=60))


def test_names_are_trimmed_and_kept_whole() -> None:
    assert checked_name("  Acme Ltd \t") == "Acme Ltd"
    assert checked_name("Zürich 東京 🛡") == "Zürich 東京 🛡"
    assert checked_name("x" * NAME_MAX_LENGTH) == "x" * NAME_MAX_LENGTH


@pytest.mark.parametrize(("name", "message"), [
    ("", "1-200 characters."), ("   ", "1-200 characters."), ("x" * 201, "1-200 characters."),
    ("Acme\x00", "Must not contain control characters."),
    ("two\nlines", "Must not contain control characters."),
    ("bell\x07", "Must not contain control characters."),
    ("half \ud800 a pair", "Must be valid Unicode (no lone surrogates)."),
])
def test_names_a_log_a_terminal_or_the_database_would_mangle_are_refused(
        name: str, message: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        checked_name(name, field="key.name")
    assert [(e.field, e.message) for e in refused.value.errors] == [("key.name", message)]
