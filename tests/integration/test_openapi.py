"""The API document: generated, complete, and served without a key."""

from __future__ import annotations

import re

import pytest

from entrypoints.http.openapi import UndocumentedRoute, build_document
from tests.integration.stacks import Stack


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
    reason = document["components"]["schemas"]["VerifyReport"]["properties"]["reason"]
    assert reason["enum"] == ["hash_mismatch", "prev_hash_mismatch", "sequence_gap", None]


def test_a_new_undocumented_route_fails_the_build(stack: Stack) -> None:
    stack.app.add_url_rule("/api/v1/secret-feature", "api.secret_feature", lambda: "x")
    with pytest.raises(UndocumentedRoute, match="secret-feature"):
        build_document(stack.app, "test")
