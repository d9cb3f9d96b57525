"""A workspace's metadata schemas (``metadata_schemas``), on both stacks and through the
jsonschema library: events whose metadata fails their action's schema are refused when
sent, naming each failing field; schemas outside the keywords allowed are refused when
set; a change is recorded as the actions it touched."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.schemas import metadata as metadata_rules
from adapters.schemas.metadata import JsonSchemaMetadataRules
from domain.metadata_schemas import MAX_SCHEMAS, MAX_SCHEMAS_BYTES, checked_metadata_schemas
from tests.integration.stacks import Stack
from tests.integration.test_accepted_actions import call, stored

BILLING = {"type": "object", "required": ["amount", "currency"],
           "properties": {"amount": {"type": "number", "minimum": 0},
                          "currency": {"enum": ["EUR", "USD"]}}}
REFUND = {"required": ["amount", "reason"], "properties": {
    "amount": {"type": "number"}, "reason": {"type": "string", "maxLength": 20}}}
SCHEMAS = {"billing.*": BILLING, "billing.refund": REFUND}
DEEP: dict[str, Any] = {}
for _ in range(300):  # deeper than a library checking it by recursion could go
    DEEP = {"allOf": [DEEP]}


def event(action: str, **metadata: Any) -> dict[str, Any]:
    return {"action": action, "actor": {"id": "usr_1", "type": "user"}, "metadata": metadata}


def test_metadata_failing_its_actions_schema_is_refused_naming_each_field(stack: Stack) -> None:
    _, admin = stack.new_workspace()
    assert call(stack, "GET", "/workspace", admin).json["metadata_schemas"] is None
    patched = call(stack, "PATCH", "/workspace", admin, {"metadata_schemas": SCHEMAS})
    assert patched.status_code == 200, patched.json
    assert patched.json["metadata_schemas"] == SCHEMAS
    assert call(stack, "GET", "/workspace", admin).json["metadata_schemas"] == SCHEMAS

    refused = call(stack, "POST", "/events", admin,
                   event("billing.invoice_paid", amount="12", currency="GBP"))
    assert refused.status_code == 422, refused.json
    assert [(detail["field"], detail["message"])
            for detail in refused.json["error"]["details"]] == [
        ("metadata.amount", "'12' is not of type 'number'"),
        ("metadata.currency", "'GBP' is not one of ['EUR', 'USD']")]

    batch = call(stack, "POST", "/events/batch", admin, {"events": [
        event("billing.invoice_paid", amount=12, currency="EUR"),
        event("billing.refund", amount=5),            # its own schema, not billing.*'s
        event("user.login"),                          # no schema: anything goes
        {"action": "billing.invoice_paid", "actor": {"id": "usr_1", "type": "user"}}]})
    assert batch.status_code == 422
    assert [(detail["field"], detail["message"]) for detail in batch.json["error"]["details"]] \
        == [("events[1].metadata", "'reason' is a required property"),
            ("events[3].metadata", "'amount' is a required property"),
            ("events[3].metadata", "'currency' is a required property")]

    accepted = call(stack, "POST", "/events/batch", admin, {"events": [
        event("billing.invoice_paid", amount=12, currency="EUR"),
        event("billing.refund", amount=5, reason="duplicate"), event("user.login")]})
    assert accepted.status_code == 202, accepted.json
    assert stored(stack, admin) == ["billing.invoice_paid", "billing.refund", "user.login"]

    cleared = call(stack, "PATCH", "/workspace", admin, {"metadata_schemas": None})
    assert cleared.json["metadata_schemas"] is None
    assert call(stack, "POST", "/events", admin,
                event("billing.invoice_paid", amount="12")).status_code == 202


def test_a_batch_is_checked_against_the_workspaces_rules_without_being_stored(
        stack: Stack) -> None:
    """``POST /events/validate``: what an integrator's test suite asks before deploying."""
    _, admin = stack.new_workspace()
    call(stack, "PATCH", "/workspace", admin, {"metadata_schemas": SCHEMAS,
                                               "accepted_actions": ["billing.*"]})
    batch = [event("billing.invoice_paid", amount=12, currency="EUR"),
             event("billing.refund", amount=5), event("bliling.refund", amount=1),
             {"action": "billing.paid"}]
    refused = call(stack, "POST", "/events/validate", admin, {"events": batch})
    assert refused.status_code == 422, refused.json
    assert [detail["field"] for detail in refused.json["error"]["details"]] == [
        "events[1].metadata", "events[2].action", "events[3].actor"]
    checked = call(stack, "POST", "/events/validate", admin, {"events": batch[:1] * 3})
    assert (checked.status_code, checked.json) == (200, {"valid": True, "count": 3})
    assert call(stack, "POST", "/events/validate", admin, {"events": []}).status_code == 422
    assert stored(stack, admin) == []  # nothing checked was kept
    usage = call(stack, "GET", "/usage", admin).json
    assert usage["events"]["pending"] == 0


@pytest.mark.parametrize(("schemas", "field", "said"), [
    ({"billing.*": {"properties": {"iban": {"type": "string", "pattern": "(a+)+$"}}}},
     "metadata_schemas.billing.*.properties.iban", "Not a keyword a metadata schema may "
                                                   "use: pattern"),
    ({"billing.*": {"$ref": "https://schemas.example.com/billing.json"}},
     "metadata_schemas.billing.*", "Not a keyword a metadata schema may use: $ref"),
    ({"billing.*": {"properties": {"tags": {"type": "array", "uniqueItems": True}}}},
     "metadata_schemas.billing.*.properties.tags", "uniqueItems"),
    ({"billing.*": {"properties": {"tags": {"items": {"enum": ["a", "b"]}}}}},
     "metadata_schemas.billing.*.properties.tags", "Not a keyword a metadata schema may "
                                                   "use: items"),
    ({"billing.*": {"additionalProperties": {"enum": ["a", "b"]}}},
     "metadata_schemas.billing.*.additionalProperties", "boolean"),
    ({"billing.*": {"properties": {f"p{n}": {"type": "string", "maxLength": 64}
                                   for n in range(120)}}},
     "metadata_schemas.billing.*", "At most 4,096 bytes an action"),
    ({"billing.*": {"anyOf": [{"required": ["amount"]}, {"required": ["total"]}]}},
     "metadata_schemas.billing.*", "Not a keyword a metadata schema may use: anyOf"),
    ({"billing.*": {"type": "money"}}, "metadata_schemas.billing.*.type", "A type"),
    ({"billing.*": 7}, "metadata_schemas.billing.*", "Not a JSON Schema"),
    ({"billing.*.x": {}}, "metadata_schemas.billing.*.x", ""),
    ({"auditrail.key.created": {}}, "metadata_schemas.auditrail.key.created", "own records"),
    ({"billing.*": DEEP},
     "metadata_schemas.billing.*", "Nested at most 32"),
    ({}, "metadata_schemas", "null for none"),
    ([BILLING], "metadata_schemas", ""),
    ({f"a.n{n}": {} for n in range(MAX_SCHEMAS + 1)}, "metadata_schemas", "At most 200"),
    ({f"a.n{n}": {"description": "x" * 1000} for n in range(70)}, "metadata_schemas",
     f"{MAX_SCHEMAS_BYTES:,} bytes"),
])
def test_a_schema_that_cannot_be_used_is_refused_and_the_old_ones_kept(
        stack: Stack, schemas: Any, field: str, said: str) -> None:
    _, admin = stack.new_workspace()
    call(stack, "PATCH", "/workspace", admin, {"metadata_schemas": SCHEMAS})
    refused = call(stack, "PATCH", "/workspace", admin, {"metadata_schemas": schemas})
    assert refused.status_code == 422, refused.json
    details = {detail["field"]: detail["message"]
               for detail in refused.json["error"]["details"]}
    assert field in details and said in details[field], details
    assert call(stack, "GET", "/workspace", admin).json["metadata_schemas"] == SCHEMAS


def test_a_change_is_recorded_as_the_actions_whose_schema_it_touched(stack: Stack) -> None:
    _, admin = stack.new_workspace()
    call(stack, "PATCH", "/workspace", admin, {"record_activity": True,
                                               "metadata_schemas": SCHEMAS})
    call(stack, "PATCH", "/workspace", admin, {"metadata_schemas": {
        "billing.*": {**BILLING, "required": ["amount"]}, "document.shared": {}}})
    page = call(stack, "GET", "/events?action=auditrail.workspace.updated&order=asc",
                admin).json
    assert [found["metadata"]["changes"]["metadata_schemas"] for found in page["data"]] == [
        {"added": ["billing.*", "billing.refund"], "changed": [], "removed": []},
        {"added": ["document.shared"], "changed": ["billing.*"], "removed": ["billing.refund"]}]


def test_the_library_says_what_fails_with_its_values_cut_short_and_bounded() -> None:
    rules = JsonSchemaMetadataRules()
    text = checked_metadata_schemas({"app.*": {"properties": {
        "note": {"type": "string", "maxLength": 5},
        **{f"n{n}": {"type": "integer"} for n in range(30)}}}})
    assert text is not None
    [long] = rules.violations(text, "app.saved", {"note": "x" * 5_000})
    assert long.field == "metadata.note" and long.message == f"'{'x' * 40}'… is too long"
    many = rules.violations(text, "app.saved", {f"n{n}": "one" for n in range(30)})
    assert len(many) == 10  # an answer of bounded size, whatever the event
    assert rules.violations(text, "other.saved", {"note": 7}) == []


def test_schemas_are_compiled_once_for_every_event_held_to_them(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The workspace in the credential cache keeps its text, by which the compiled schemas
    are found: a request's events are not each held to a schema compiled afresh."""
    compiled = []
    real = metadata_rules.Draft202012Validator
    monkeypatch.setattr(metadata_rules, "Draft202012Validator",
                        lambda schema: compiled.append(schema) or real(schema))
    rules = JsonSchemaMetadataRules()
    text = checked_metadata_schemas({**SCHEMAS, "app.unique": {"title": "this test's"}})
    assert text is not None
    for _ in range(100):
        assert rules.violations(text, "billing.paid", {"amount": 1, "currency": "EUR"}) == []
    assert len(compiled) == 3  # each of the three schemas once
