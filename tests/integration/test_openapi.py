"""The API document: generated, complete, served without a key, and what it says of
query parameters is what the API accepts."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate
from referencing.exceptions import Unresolvable

from entrypoints.http.openapi import OPERATIONS, UndocumentedRoute, build_document
from tests.integration.processes import AUDITRAIL, environment
from tests.integration.stacks import Stack, bearer

SAMPLE_IDS = {"event_id": "evt_01JD0000000000000000000000", "key_id":
              "key_01JD0000000000000000000000", "export_id": "exp_01JD0000000000000000000000",
              "stream_id": "lst_01JD0000000000000000000000",
              "rule_id": "alr_01JD0000000000000000000000",
              "alert_id": "alt_01JD0000000000000000000000", "tree_size": "1",
              "link_id": "vwl_01JD0000000000000000000000", "asset_version": "0",
              "witness_id": "wit_01JD0000000000000000000000",
              "name": "viewer.js", "level": "0", "index": "000"}


def test_every_route_is_documented(stack: Stack) -> None:
    document = stack.client.get("/api/v1/openapi.json").json
    assert document["openapi"] == "3.1.0"
    documented = {(path, method) for path, operations in document["paths"].items()
                  for method in operations}
    for rule in stack.app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)  # <id:x> is {x}
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            assert (path, method.lower()) in documented, (path, method)
    ingest = document["paths"]["/api/v1/events"]["post"]
    assert ingest["security"] == [{"bearerAuth": []}]
    assert "422" in ingest["responses"] and "429" in ingest["responses"]
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    [size] = document["paths"]["/api/v1/log/checkpoints/{tree_size}"]["get"]["parameters"]
    assert size["schema"] == {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}
    reason = document["components"]["schemas"]["VerifyReport"]["properties"]["reason"]
    assert reason["enum"] == ["hash_mismatch", "prev_hash_mismatch", "sequence_gap",
                              "tree_mismatch", "checkpoint_mismatch", "anchor_mismatch", None]


def test_the_document_is_valid_openapi_3_1(stack: Stack) -> None:
    """What generators, API explorers and gateways read it as: OpenAPI 3.1's own schema,
    references resolved (a dangling one fails), webhooks included."""
    document = stack.client.get("/api/v1/openapi.json").json
    validate(document)
    document["paths"]["/api/v1/events"]["post"]["responses"]["401"] = {
        "$ref": "#/components/responses/Nowhere"}
    with pytest.raises(Unresolvable, match="Nowhere"):
        validate(document)


def test_each_operation_lists_the_errors_it_can_answer_and_its_headers(stack: Stack) -> None:
    """Only the statuses an operation can answer (the fuzz test holds every response to
    them), with the headers each carries, so a generated client handles what happens."""
    document = stack.client.get("/api/v1/openapi.json").json
    paths, shared = document["paths"], document["components"]["responses"]

    def statuses(path: str, method: str) -> set[str]:
        return set(paths[path][method]["responses"])

    ingest = paths["/api/v1/events"]["post"]["responses"]
    assert set(ingest) == {"202", "400", "401", "403", "409", "413", "414", "422", "429",
                           "431", "500", "503"}
    assert ingest["202"]["description"] == "Accepted"
    assert "Idempotency-Key" in ingest["409"]["description"]  # its own, written out
    assert ingest["401"] == {"$ref": "#/components/responses/Unauthorized"}  # shared
    referred = {response["$ref"].rsplit("/", 1)[1] for operations in paths.values()
                for operation in operations.values()
                for response in operation["responses"].values() if "$ref" in response}
    assert referred == set(shared)  # each shared answer used, none dangling
    assert statuses("/api/v1/usage", "get") == {"200", "400", "401", "403", "414", "429",
                                                "431", "500", "503"}
    assert statuses("/api/v1/events/{event_id}", "get") >= {"404"}
    assert statuses("/api/v1/exports/{export_id}/download", "get") >= {"302", "409", "410"}
    link = statuses("/api/v1/exports/{export_id}/file", "get")
    assert {"403", "404", "410"} <= link and "401" not in link and "429" not in link
    assert statuses("/healthz", "get") == {"200", "414", "431", "500"}  # the server's own
    for path, operations in paths.items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if "$ref" in response:
                    response = shared[response["$ref"].rsplit("/", 1)[1]]
                headers = {ref["$ref"].rsplit("/", 1)[1] for ref in response["headers"].values()}
                assert "X-Request-Id" in headers, (path, method, status)
                if status.startswith("2") and "security" in operation:
                    assert {"X-RateLimit-Limit", "X-RateLimit-Remaining",
                            "X-RateLimit-Reset"} <= headers, (path, method)
                if status in ("429", "503"):
                    assert "Retry-After" in headers, (path, method, status)


def test_every_operation_has_a_stable_unique_operation_id_and_a_described_tag(
        stack: Stack) -> None:
    """Generated clients name their methods after operationIds (openapi-generator,
    openapi-python-client): without them, ``get_api_v1_events_event_id``. Each is the view's
    own name, so it changes only with the route."""
    document = stack.client.get("/api/v1/openapi.json").json
    operations = [(path, method, operation) for path, methods in document["paths"].items()
                  for method, operation in methods.items()]
    ids = [operation["operationId"] for _, _, operation in operations]
    assert len(set(ids)) == len(ids) == len(OPERATIONS)
    assert all(re.fullmatch(r"[a-z]+(?:[A-Z][a-z0-9]*)*", id_) for id_ in ids), ids
    named = {(method, path): operation["operationId"] for path, method, operation in operations}
    assert named[("get", "/api/v1/events/{event_id}")] == "getEvent"
    assert named[("post", "/api/v1/events/batch")] == "ingestBatch"
    assert named[("get", "/api/v1/log/consistency")] == "consistencyProof"
    assert named[("get", "/viewer/")] == "viewerPage"
    assert named[("get", "/healthz")] == "healthz"
    described = {tag["name"]: tag["description"] for tag in document["tags"]}
    used = {tag for _, _, operation in operations for tag in operation["tags"]}
    assert used == set(described) and all(described.values())


def test_every_time_in_an_answer_is_documented_as_a_date_time(stack: Stack) -> None:
    """So that a generated client reads ``created_at`` as a datetime, not as text."""
    schemas = stack.client.get("/api/v1/openapi.json").json["components"]["schemas"]
    times = [(name, field, spec) for name, schema in schemas.items()
             for field, spec in schema.get("properties", {}).items()
             if re.search(r"_(at|since)$|^(since|until)$", field)]
    assert len(times) >= 50
    assert [(name, field) for name, field, spec in times
            if spec.get("format") != "date-time"] == []
    assert schemas["EventOut"]["properties"]["occurred_at"]["format"] == "date-time"


def test_the_command_prints_the_document_served_and_writes_nothing(stack: Stack,
                                                                   tmp_path: Path) -> None:
    """``auditrail openapi``, for a build that generates a client without a server: the
    document served, whatever the settings (here a data folder and a database that do not
    exist), and not a file left behind."""
    assert AUDITRAIL
    here = tmp_path / "here"
    here.mkdir()
    settings = environment(data_dir=str(here / "never"),
                           database_url="postgresql+psycopg://nobody@127.0.0.1:1/none")
    printed = subprocess.run([AUDITRAIL, "openapi"], env=settings, cwd=here, check=True,
                             capture_output=True, text=True, timeout=60)
    assert json.loads(printed.stdout) == stack.client.get("/api/v1/openapi.json").json
    assert list(here.iterdir()) == []


def test_a_view_serving_two_methods_fails_the_build(stack: Stack) -> None:
    """One operationId a view: a view answering GET and POST would need two."""
    stack.app.add_url_rule("/api/v1/log/key2", "api.log_key", methods=["GET", "POST"])
    with pytest.raises(UndocumentedRoute, match="one method a view"):
        build_document(stack.app, "test")


def test_a_new_undocumented_route_fails_the_build(stack: Stack) -> None:
    stack.app.add_url_rule("/api/v1/secret-feature", "api.secret_feature", lambda: "x")
    with pytest.raises(UndocumentedRoute, match="secret-feature"):
        build_document(stack.app, "test")


def _routes_without_query(stack: Stack) -> list[tuple[str, str]]:
    """(method, path) of every /api/v1 route whose document takes no query parameter."""
    found = []
    for rule in stack.app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or OPERATIONS[rule.endpoint].query:
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: SAMPLE_IDS[m.group(1)], rule.rule)
        found += [(method, path) for method in sorted(rule.methods or ())
                  if method not in ("HEAD", "OPTIONS")]
    return found


def test_endpoints_that_take_no_query_refuse_one_by_name(stack: Stack) -> None:
    """Contract §1: an unknown query parameter is a 400 naming it, on every endpoint -
    a typo such as ``?expand=geo`` used to be ignored where the endpoint took none."""
    workspace_id, secret = stack.new_workspace()
    routes = _routes_without_query(stack)
    assert ("POST", "/api/v1/events") in routes and ("GET", "/api/v1/usage") in routes
    assert len(routes) >= 12
    for method, path in routes:
        response = stack.client.open(f"{path}?expnad=geo", method=method,
                                     headers=bearer(secret), json={})
        assert response.status_code == 400, (method, path, response.status_code)
        error = response.json["error"]
        assert (error["code"], error["message"]) == \
            ("invalid_parameter",
             "Unknown query parameter 'expnad'; this endpoint takes none."), (method, path)
    assert stack.sql("SELECT count(*) FROM events WHERE workspace_id = :w",
                     w=workspace_id)[0][0] == 0  # refused before anything was stored


def test_authentication_comes_before_the_query_check(stack: Stack) -> None:
    response = stack.client.get("/api/v1/usage?expnad=geo")
    assert response.status_code == 401


def test_an_empty_query_string_is_no_parameter(stack: Stack) -> None:
    _, secret = stack.new_workspace()
    for suffix in ("?", "?&"):
        assert stack.client.get(f"/api/v1/usage{suffix}", headers=bearer(secret)) \
            .status_code == 200, suffix


def _breaking(schema: dict[str, Any]) -> list[tuple[str, Any]]:
    """A value breaking each rule the document states of a value: (the rule, the value)."""
    broken: list[tuple[str, Any]] = []
    if "enum" in schema:
        broken.append(("enum", "none-of-these"))
    if schema.get("format") == "date-time":
        broken.append(("date-time", "yesterday"))
    if schema.get("minLength", 0) >= 1:
        broken.append(("minLength", ""))
    if "maxLength" in schema:
        broken.append(("maxLength", "x" * (schema["maxLength"] + 1)))
    if "pattern" in schema:
        broken.append(("pattern", "~"))
    if "minimum" in schema:
        broken.append(("minimum", schema["minimum"] - 1))
    if "maximum" in schema:
        broken.append(("maximum", schema["maximum"] + 1))
    if schema.get("minItems", 0) >= 1:
        broken.append(("minItems", []))
    if "maxItems" in schema:
        broken.append(("maxItems", ["a.b"] * (schema["maxItems"] + 1)))
    return broken


def _resolved(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """The schema a reference, or a reference or null, stands for."""
    while True:
        if "$ref" in schema:
            schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
        elif "anyOf" in schema and len(schema["anyOf"]) == 2 and \
                {"type": "null"} in schema["anyOf"]:
            schema = next(each for each in schema["anyOf"] if each != {"type": "null"})
        else:
            return schema


def _properties(document: dict[str, Any], schema: dict[str, Any], prefix: str = ""
                ) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every property of a body, nested objects' as ``outer.inner``, and a list's items as
    ``name[0]``."""
    for name, value in _resolved(document, schema).get("properties", {}).items():
        value = _resolved(document, value)
        if "properties" in value:
            yield from _properties(document, value, f"{prefix}{name}.")
            continue
        yield f"{prefix}{name}", value
        if "items" in value:
            yield f"{prefix}{name}[0]", _resolved(document, value["items"])


def _with(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """``body`` with the field at ``path`` (``outer.inner``, ``name[0]``) set to ``value``."""
    outer, _, rest = path.partition(".")
    if outer.endswith("[0]"):
        return {**body, outer[:-3]: [value]}
    inner = body.get(outer) if isinstance(body.get(outer), dict) else {}
    return {**body, outer: _with(inner, rest, value) if rest else value}


REQUIRED_QUERY = {"/api/v1/events/stats": {"group_by": "action"},
                  "/api/v1/log/consistency": {"from_size": 0}}
"""Valid values of the parameters an operation requires, beside the one broken."""


def test_every_bound_the_document_states_of_a_query_parameter_is_enforced(
        stack: Stack) -> None:
    """Clients generated from the document check what it states (lengths, ranges,
    formats, patterns): each one must be what the API refuses, or the document says
    less than it enforces - or more, as it did of empty cursors and dates."""
    _, secret = stack.new_workspace()
    document = stack.client.get("/api/v1/openapi.json").json
    tried = 0
    for path, operations in document["paths"].items():
        if "{" in path or "get" not in operations:
            continue
        for parameter in operations["get"].get("parameters", []):
            if parameter["in"] != "query":
                continue
            for rule, value in _breaking(parameter["schema"]):
                answer = stack.client.get(path, headers=bearer(secret), query_string={
                    **REQUIRED_QUERY.get(path, {}), parameter["name"]: value})
                where = (path, parameter["name"], rule, value)
                assert answer.status_code == 400, (*where, answer.status_code)
                error = answer.json["error"]
                assert error["code"] in ("invalid_parameter", "invalid_cursor"), where
                assert error["code"] == "invalid_cursor" or \
                    f"'{parameter['name']}'" in error["message"], (*where, error)
                tried += 1
    assert tried >= 40, tried


def _examples(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """The document's example body of each operation that takes one."""
    return {(method, path): operation["requestBody"]["content"]["application/json"]["example"]
            for path, methods in document["paths"].items()
            for method, operation in methods.items() if "requestBody" in operation}


CREATED_BY = {"key_id": ("post", "/api/v1/api-keys"), "stream_id": ("post", "/api/v1/streams"),
              "rule_id": ("post", "/api/v1/alert-rules")}
"""The operation whose answer gives a path parameter its value."""


def test_every_example_body_in_the_document_is_accepted_as_it_stands(stack: Stack) -> None:
    """API explorers send the examples as they are: each must work on a new workspace."""
    workspace_id, secret = stack.new_workspace()
    examples = _examples(stack.client.get("/api/v1/openapi.json").json)
    assert len(examples) == sum(1 for o in OPERATIONS.values() if o.body is not None) == 14
    made: dict[str, str] = {}
    for (method, path), body in sorted(examples.items(), key=lambda item: "{" in item[0][1]):
        url = re.sub(r"\{(\w+)\}", lambda m: made[m.group(1)], path)
        answer = stack.client.open(url, method=method.upper(), headers=bearer(secret),
                                   json=body)
        assert answer.status_code in (200, 201, 202), (method, path, answer.json)
        for name, creator in CREATED_BY.items():
            if creator == (method, path):
                made[name] = answer.json["id"]
    assert stack.sql("SELECT count(*) FROM events WHERE workspace_id = :w "
                     "AND action NOT LIKE 'auditrail.%'", w=workspace_id)[0][0] == 4



def test_every_bound_the_document_states_of_a_body_field_is_enforced(stack: Stack) -> None:
    """The same of request bodies, whose rules are mostly the domain's: an accepted body
    with one field breaking one stated rule must be refused, naming that field."""
    _, secret = stack.new_workspace()
    document = stack.client.get("/api/v1/openapi.json").json
    tried = 0
    for (method, path), accepted in _examples(document).items():
        if "{" in path:
            continue
        body = document["paths"][path][method]["requestBody"]["content"]["application/json"]
        for field, schema in _properties(document, body["schema"]):
            for rule, value in _breaking(schema):
                answer = stack.client.open(path, method=method.upper(), headers=bearer(secret),
                                           json=_with(accepted, field, value))
                where = (method, path, field, rule)
                assert answer.status_code == 422, (*where, answer.status_code, answer.json)
                named = {detail["field"] for detail in answer.json["error"]["details"]}
                assert field in named or any(name.startswith(f"{field}[") for name in named), \
                    (*where, named)
                tried += 1
    assert tried >= 40, tried
