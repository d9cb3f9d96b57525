"""A workspace's accepted actions: what a PATCH may list, and which actions they refuse,
with the listed action a refused one is probably a slip of."""

from __future__ import annotations

import pytest

from domain.accepted_actions import MAX_ACCEPTED_ACTIONS, MAX_GUESSES, AcceptedActions
from domain.errors import ValidationFailed
from tests.factories import WorkspaceFactory

LISTED = ("user.login", "user.login_failed", "user.logout", "billing.*", "document.shared")


@pytest.mark.parametrize("action", ["user.login", "user.logout", "billing.invoice.paid",
                                    "billing.refunded", "document.shared"])
def test_listed_actions_and_those_under_a_listed_prefix_are_accepted(action: str) -> None:
    assert AcceptedActions(LISTED).refusals([action]) == {}


@pytest.mark.parametrize(("action", "meant"), [
    ("user.logn", "user.login"),               # a letter dropped
    ("user.Login", "user.login"),              # another case
    ("user.login-failed", "user.login_failed"),  # another separator
    ("usr.login", "user.login"),
    ("payment.captured", None),                # nothing listed is close
    ("zzzz.invoice", None),                    # its prefix is like none listed
    ("bliling.refund", "billing.refund"),      # under a prefix: its segments misspelt
    ("document.share", "document.shared"),
    ("billing", None),                         # the prefix itself is not under it
])
def test_an_action_not_listed_is_refused_naming_the_one_probably_meant(
        action: str, meant: str | None) -> None:
    refusal = AcceptedActions(LISTED).refusals([action])[action]
    assert refusal.startswith("Not one of this workspace's accepted")
    assert ("did you mean" in refusal) == (meant is not None)
    if meant:
        assert f"did you mean '{meant}'?" in refusal
    assert "PATCH /api/v1/workspace" in refusal and "accepted_actions" in refusal


def test_a_patch_lists_actions_without_repeats_and_null_accepts_any_again() -> None:
    workspace = WorkspaceFactory()
    assert workspace.accepted_actions is None and workspace.accepts is None
    listed = workspace.with_settings({"accepted_actions": ["user.login", "billing.*",
                                                           "user.login"]}, "10.0.0.1")
    assert listed.accepted_actions == ("user.login", "billing.*")
    assert listed.accepts is not None
    assert list(listed.accepts.refusals(["billing.paid", "user.logout"])) == ["user.logout"]
    cleared = listed.with_settings({"accepted_actions": None}, "10.0.0.1")
    assert cleared.accepted_actions is None and cleared.accepts is None


@pytest.mark.parametrize(("value", "fields", "said"), [
    ([], ["accepted_actions"], "null to accept any action"),
    (["user.login", "user login", "user.*.x", 7], ["accepted_actions[1]",
                                                   "accepted_actions[2]",
                                                   "accepted_actions[3]"], ""),
    ([f"a.n{n}" for n in range(MAX_ACCEPTED_ACTIONS + 1)], ["accepted_actions"], "1,000"),
])
def test_a_list_the_domain_refuses_names_each_bad_entry(
        value: object, fields: list[str], said: str) -> None:
    with pytest.raises(ValidationFailed) as failure:
        WorkspaceFactory().with_settings({"accepted_actions": value}, "10.0.0.1")
    assert [error.field for error in failure.value.errors] == fields
    assert said in failure.value.errors[0].message


def test_the_matcher_is_built_once_per_workspace() -> None:
    """The credential cache keeps the workspace between requests: its list is not parsed
    again for each one."""
    workspace = WorkspaceFactory().with_settings({"accepted_actions": ["user.*"]}, "::1")
    assert workspace.accepts is workspace.accepts


def test_a_request_looks_for_the_meaning_of_a_few_refused_actions_only() -> None:
    """A close match costs about a millisecond against a long list, and a batch holds
    1,000 events: a request's refusals stay cheap, however many it sends, each distinct
    action once."""
    actions = [f"user.logn{n}" for n in range(MAX_GUESSES + 5)]
    refused = AcceptedActions(("user.login0", *[f"user.login{n}" for n in range(20)]))\
        .refusals([*actions, *actions])
    assert list(refused) == actions
    guessed = [action for action, said in refused.items() if "did you mean" in said]
    assert guessed == actions[:MAX_GUESSES]


@pytest.mark.parametrize(("pattern", "reachable"), [
    ("user.login", True),             # listed
    ("billing.refund", True),         # under a listed prefix
    ("user.*", True),                 # holds a listed action
    ("billing.invoice.*", True),      # within a listed prefix
    ("billing.*", True),
    ("auditrail.api_key.created", True),  # Auditrail's own records, kept whatever the list
    ("auditrail.*", True),
    ("user.logn", False),
    ("users.*", False),               # a prefix is whole segments: users. is not user.
    ("user.login.*", False),          # nothing listed under user.login.
    ("admin.*", False),
])
def test_a_rules_pattern_is_refused_only_when_no_accepted_action_can_match_it(
        pattern: str, reachable: bool) -> None:
    accepts = AcceptedActions(["user.login", "user.logout", "billing.*"])
    errors = accepts.unmatched(["user.login", pattern], "match.actions", "this rule")
    assert [error.field for error in errors] == ([] if reachable else ["match.actions[1]"])


def test_an_unmatched_pattern_says_what_would_never_happen_and_what_was_meant() -> None:
    (error,) = AcceptedActions(["user.login_failed", "billing.*"]).unmatched(
        ["user.login_faild"], "filter.actions", "this stream")
    assert "this stream would never see an event" in error.message
    assert "did you mean 'user.login_failed'?" in error.message
    assert '"accepted_actions"' in error.message
    WorkspaceFactory().check_matchable(["anything.*"], "match.actions", "it")  # any action


def test_a_workspace_says_which_patterns_its_list_would_strand() -> None:
    listing = WorkspaceFactory(accepted_actions=("user.login", "billing.*"))
    with pytest.raises(ValidationFailed) as refused:
        listing.check_matchable(["billing.*", "admin.*"], "filter.actions", "this stream")
    assert [error.field for error in refused.value.errors] == ["filter.actions[1]"]
    assert listing.strands(["user.login", "admin.*"])
    assert not listing.strands(["user.*", "auditrail.*"])
    assert not listing.strands(None)  # a stream without a filter takes every action
    assert not WorkspaceFactory().strands(["admin.*"])
