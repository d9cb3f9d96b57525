"""Which schema an action's events meet, what a PATCH may set, and how a change is
recorded; the use cases holding events and settings to them, with a fake schema check."""

from __future__ import annotations

import json

import pytest

from application.use_cases.workspace_settings import UpdateWorkspace
from domain.errors import ValidationFailed
from domain.metadata_schemas import (
    MAX_DEPTH,
    SchemaIndex,
    checked_metadata_schemas,
    recorded_change,
)
from tests.fakes import FakeMetadataRules
from tests.unit.test_use_cases import World


@pytest.mark.parametrize(("action", "pattern"), [
    ("billing.refund", "billing.refund"),          # its own, before any prefix
    ("billing.refund.partial", "billing.refund.*"),  # the longest prefix
    ("billing.invoice_paid", "billing.*"),
    ("billing", None), ("user.login", None)])
def test_an_action_meets_its_own_schema_else_its_longest_prefixs(
        action: str, pattern: str | None) -> None:
    index = SchemaIndex(["billing.*", "billing.refund", "billing.refund.*"])
    assert index.pattern_for(action) == pattern


def test_equal_schemas_are_stored_as_one_text() -> None:
    """Compiled schemas are found by the stored text: key order must not make two."""
    assert checked_metadata_schemas({"a.*": {"type": "object", "required": ["x"]}}) \
        == checked_metadata_schemas({"a.*": {"required": ["x"], "type": "object"}})
    assert checked_metadata_schemas(None) is None


def test_a_change_names_the_actions_touched_the_first_fifty_of_each() -> None:
    before = json.dumps({f"a.n{n}": {} for n in range(60)})
    after = json.dumps({**{f"a.n{n}": {"title": "t"} for n in range(55)},
                        **{f"b.n{n}": {} for n in range(3)}})
    change = recorded_change(before, after)
    assert change["added"] == ["b.n0", "b.n1", "b.n2"] and "added_not_named" not in change
    assert change["changed"] == [f"a.n{n}" for n in range(50)]
    assert change["changed_not_named"] == 5
    assert change["removed"] == [f"a.n{n}" for n in range(55, 60)]
    assert recorded_change(None, None) == {"added": [], "changed": [], "removed": []}


def test_events_failing_their_schema_are_refused_beside_their_other_errors() -> None:
    world = World()
    rules = world.workspace.with_settings(
        {"metadata_schemas": {"billing.*": {"required": ["amount"]}}}, "::1")
    bodies = [world.event(action="billing.paid", metadata={"amount": 1}),
              world.event(action="billing.paid"),
              world.event(action="billing.paid", actor={"type": "user"}),
              world.event(action="user.login")]
    with pytest.raises(ValidationFailed) as failure:
        world.ingest.execute(world.workspace.id, bodies, batch=True, rules=rules)
    assert [(e.field, e.message) for e in failure.value.errors] == [
        ("events[1].metadata", "'amount' is a required property"),
        ("events[2].actor.id", "Missing data for required field.")]  # not a valid event
    assert world.uow.commits == 1 and world.queue.requested == []
    accepted = world.ingest.execute(world.workspace.id, [bodies[0], bodies[3]], batch=True,
                                    rules=rules)
    assert len(accepted.event_ids) == 2


def test_the_schema_check_is_asked_about_schemas_the_domain_accepts() -> None:
    """The library checks a schema by recursion: one the domain refuses (nested too deep,
    under a bad action) never reaches it."""
    world = World()
    update = UpdateWorkspace(world.uow, world.changes, world.activity, FakeMetadataRules())
    principal = world.authenticate.execute(world.admin.secret, "10.0.0.1")
    deep: dict = {}
    for _ in range(MAX_DEPTH):
        deep = {"not": deep}
    with pytest.raises(ValidationFailed) as failure:
        update.execute(principal, {"retention_days": 0, "metadata_schemas": {
            "a.*": 5, "b c": {}, "d.*": deep}}, "10.0.0.1")
    assert [e.field for e in failure.value.errors] == [
        "metadata_schemas.b c", "metadata_schemas.d.*", "retention_days"]
    with pytest.raises(ValidationFailed) as failure:
        update.execute(principal, {"metadata_schemas": {"a.*": 5}}, "10.0.0.1")
    assert [e.field for e in failure.value.errors] == ["metadata_schemas.a.*"]
    updated = update.execute(principal, {"metadata_schemas": {"a.*": {}}}, "10.0.0.1")
    assert updated.metadata_schemas == '{"a.*":{}}'
