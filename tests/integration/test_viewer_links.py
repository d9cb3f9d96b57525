"""Viewer links over HTTP on both stacks (contract §11): a token that reads one
workspace's events within forced filters, its proofs and checkpoints, and nothing else."""

from __future__ import annotations

import json
import re
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from entrypoints.settings import Settings, SettingsError
from tests.integration.stacks import Stack, bearer


def link(stack: Stack, admin: str, **body: Any) -> tuple[dict[str, Any], str, str]:
    """The created link, its token and the verifier key, both from the URL's fragment."""
    response = stack.client.post("/api/v1/viewer-links", headers=bearer(admin), json=body)
    assert response.status_code == 201, response.json
    fragment = parse_qs(urlsplit(response.json["url"]).fragment)
    return response.json, fragment["token"][0], fragment["key"][0]


def seed(stack: Stack, admin: str, workspace_id: str | None = None) -> dict[str, str]:
    """Four processed events: by the stack's worker, or - given ``workspace_id`` - by the
    processing use case here, leaving the worker (and the exports it would run) unstarted."""
    actions = ["user.login", "user.logout", "admin.user.delete", "user.mfa.enabled"]
    response = stack.client.post("/api/v1/events/batch", headers=bearer(admin), json={
        "events": [{"action": action, "actor": {"id": f"usr_{n}", "type": "user"}}
                   for n, action in enumerate(actions)]})
    if workspace_id is None:
        stack.drain()
    else:
        stack.container.process_pending_events().execute(workspace_id)
    return dict(zip(actions, response.json["ids"], strict=True))


def actions(stack: Stack, token: str, query: str = "") -> list[str]:
    response = stack.client.get(f"/api/v1/events{query}", headers=bearer(token))
    assert response.status_code == 200, response.json
    return sorted(event["action"] for event in response.json["data"])


def test_a_link_reads_within_its_filters_and_a_reader_only_narrows_them(stack: Stack) -> None:
    _, admin = stack.new_workspace()
    ids = seed(stack, admin)
    created, token, vkey = link(stack, admin, filters={"action": "user.*"},
                                expires_in_seconds=900, title="Acme's admins")
    assert created["id"].startswith("vwl_") and created["status"] == "active"
    assert urlsplit(created["url"]).path == "/viewer/" and token not in urlsplit(
        created["url"]).path + urlsplit(created["url"]).query  # only in the fragment
    assert vkey == stack.client.get("/api/v1/log/key", headers=bearer(admin)).json[
        "verifier_key"]
    assert actions(stack, token) == ["user.login", "user.logout", "user.mfa.enabled"]
    assert actions(stack, token, "?action=user.mfa.*") == ["user.mfa.enabled"]
    assert actions(stack, token, "?actor_id=usr_0") == ["user.login"]
    for widened in ("?action=admin.*", "?action=admin.user.delete", "?action=*"):
        refused = stack.client.get(f"/api/v1/events{widened}", headers=bearer(token))
        assert refused.status_code == 400, widened
        assert refused.json["error"]["code"] == "invalid_parameter"
    total = stack.client.get("/api/v1/events", headers=bearer(token)).json["total_count"]
    assert total == 3  # the forced filter counts too
    assert stack.client.get(f"/api/v1/events/{ids['user.login']}",
                            headers=bearer(token)).status_code == 200
    hidden = ids["admin.user.delete"]
    assert stack.client.get(f"/api/v1/events/{hidden}", headers=bearer(token)).status_code \
        == 404
    assert stack.client.get(f"/api/v1/events/{hidden}/proof",
                            headers=bearer(token)).status_code == 404
    proof = _proof(stack, token, ids["user.login"])
    assert proof["event_id"] == ids["user.login"]
    for path in ("/api/v1/log/key", "/api/v1/log/checkpoint", "/api/v1/log/checkpoints"):
        assert stack.client.get(path, headers=bearer(token)).status_code == 200, path
    no_witness = stack.client.get("/api/v1/log/cosigned-checkpoint", headers=bearer(token))
    assert no_witness.json["error"]["code"] == "not_cosigned"  # allowed, none to show


def test_a_link_can_do_nothing_but_read(stack: Stack) -> None:
    _, admin = stack.new_workspace()
    _, token, _ = link(stack, admin, filters={})
    for method, path in (("get", "/api/v1/events/verify"), ("get", "/api/v1/workspace"),
                         ("get", "/api/v1/usage"), ("get", "/api/v1/api-keys"),
                         ("get", "/api/v1/viewer-links"), ("get", "/api/v1/exports"),
                         ("get", "/api/v1/streams"), ("get", "/api/v1/alerts"),
                         ("get", "/api/v1/log/witnesses"), ("get", "/api/v1/chain-check"),
                         ("post", "/api/v1/chain-check")):
        response = getattr(stack.client, method)(path, headers=bearer(token))
        assert response.status_code == 403, path
        assert response.json["error"]["code"] == "insufficient_scope"
        assert response.json["error"]["message"].startswith(
            "This viewer link does not allow 'exports'" if path == "/api/v1/exports"
            else "Viewer links cannot use this endpoint"), path
    written = stack.client.post("/api/v1/events", headers=bearer(token), json={
        "action": "user.login", "actor": {"id": "u", "type": "user"}})
    assert written.status_code == 403


def test_revocation_is_effective_at_once_and_expiry_ends_a_link(stack: Stack) -> None:
    _, admin = stack.new_workspace()
    created, token, _ = link(stack, admin, filters={})
    assert stack.client.get("/api/v1/events", headers=bearer(token)).status_code == 200
    revoked = stack.client.delete(f"/api/v1/viewer-links/{created['id']}",
                                  headers=bearer(admin))
    assert revoked.status_code == 200 and revoked.json["status"] == "revoked"
    assert stack.client.get("/api/v1/events", headers=bearer(token)).status_code == 401
    other, token2, _ = link(stack, admin, filters={})
    for update in ("UPDATE api_keys SET expires_at = :past WHERE id = :id",  # as if its
                   "UPDATE viewer_links SET expires_at = :past WHERE id = :id"):  # time passed
        stack.sql(update, past="2000-01-01 00:00:00", id=other["id"])
    expired = stack.client.get("/api/v1/events", headers=bearer(token2))
    assert expired.status_code == 401 and expired.json["error"]["code"] == "unauthenticated"
    listed = stack.client.get("/api/v1/viewer-links", headers=bearer(admin)).json
    assert {item["id"]: item["status"] for item in listed["data"]} == {
        created["id"]: "revoked", other["id"]: "expired"}


def test_links_are_checked_and_belong_to_their_workspace(stack: Stack) -> None:
    _, admin = stack.new_workspace()
    _, stranger = stack.new_workspace("Other")
    for body, field in (({"filters": {"action": "not an action"}}, "filters.action"),
                        ({"filters": {"actor": "usr_1"}}, "filters.actor"),  # a misspelling
                        ({"filters": {"actor_id": 5}}, "filters.actor_id"),
                        ({"expires_in_seconds": 59}, "expires_in_seconds"),
                        ({"expires_in_seconds": 86_401}, "expires_in_seconds"),
                        ({"filters": {}, "colour": "red"}, "colour"),
                        ({"allow_export": "sometimes"}, "allow_export"),
                        ({"allow_export": "yes"}, "allow_export"),
                        ({"allow_export": 1}, "allow_export")):
        refused = stack.client.post("/api/v1/viewer-links", headers=bearer(admin), json=body)
        assert refused.status_code == 422, body
        assert field in {d["field"] for d in refused.json["error"]["details"]}, refused.json
    created, _, _ = link(stack, admin, filters={})
    keys = stack.client.get("/api/v1/api-keys", headers=bearer(admin)).json
    assert created["id"] not in {key["id"] for key in keys["data"]} and keys["total_count"] == 1
    assert stack.client.delete(f"/api/v1/api-keys/{created['id']}",
                               headers=bearer(admin)).status_code == 404  # a link, not a key
    assert stack.client.get(f"/api/v1/viewer-links/{created['id']}",
                            headers=bearer(stranger)).status_code == 404
    assert stack.client.delete(f"/api/v1/viewer-links/{created['id']}",
                               headers=bearer(stranger)).status_code == 404


def test_a_link_that_allows_exports_exports_within_its_filters_and_sees_only_its_own(
        stack: Stack) -> None:
    workspace_id, admin = stack.new_workspace()
    seed(stack, admin, workspace_id)  # no export runs until drain(): the first is in flight
    created, token, _ = link(stack, admin, filters={"action": "user.*"}, allow_export=True)
    assert created["allow_export"] is True
    own = stack.client.post("/api/v1/exports", headers=bearer(admin), json={"format": "csv"})
    assert own.status_code == 202
    widened = stack.client.post("/api/v1/exports", headers=bearer(token),
                                json={"format": "ndjson", "filters": {"action": "admin.*"}})
    assert widened.status_code == 422
    assert widened.json["error"]["details"][0]["field"] == "filters.action"
    asked = stack.client.post("/api/v1/exports", headers=bearer(token),
                              json={"format": "ndjson", "filters": {"actor_id": "usr_0"}})
    assert asked.status_code == 202, asked.json
    export = asked.json
    assert export["filters"] == {"action": "user.*", "actor_id": "usr_0"}
    assert export["viewer_link_id"] == created["id"]
    second = stack.client.post("/api/v1/exports", headers=bearer(token), json={"format": "csv"})
    assert second.status_code == 409  # one at a time through a link
    stack.drain()
    listed = stack.client.get("/api/v1/exports", headers=bearer(token)).json
    assert [item["id"] for item in listed["data"]] == [export["id"]] \
        and listed["total_count"] == 1
    everything = stack.client.get("/api/v1/exports", headers=bearer(admin)).json
    assert everything["total_count"] == 2  # the workspace's owner sees the link's too
    for path in (f"/api/v1/exports/{own.json['id']}",
                 f"/api/v1/exports/{own.json['id']}/download",
                 f"/api/v1/exports/{own.json['id']}/evidence"):
        assert stack.client.get(path, headers=bearer(token)).status_code == 404, path
    done = stack.client.get(f"/api/v1/exports/{export['id']}", headers=bearer(token)).json
    assert done["status"] == "completed" and done["row_count"] == 1
    redirect = stack.client.get(f"/api/v1/exports/{export['id']}/download",
                                headers=bearer(token))
    assert redirect.status_code == 302
    parts = urlsplit(redirect.headers["Location"])
    rows = stack.client.get(f"{parts.path}?{parts.query}").get_data(as_text=True).splitlines()
    assert [json.loads(row)["action"] for row in rows] == ["user.login"]
    stack.container.transparency_log().sweep()
    evidence = stack.client.get(f"/api/v1/exports/{export['id']}/evidence",
                                headers=bearer(token))
    assert evidence.status_code == 200 and evidence.json["export_id"] == export["id"]


def test_a_link_without_exports_is_refused_them(stack: Stack) -> None:
    _, admin = stack.new_workspace()
    _, token, _ = link(stack, admin, filters={})
    refused = stack.client.post("/api/v1/exports", headers=bearer(token),
                                json={"format": "csv"})
    assert refused.status_code == 403
    assert refused.json["error"] == {**refused.json["error"], "code": "insufficient_scope",
                                     "message": "This viewer link does not allow 'exports'."}


def _proof(stack: Stack, token: str, event_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 15
    while True:
        stack.container.transparency_log().sweep()
        response = stack.client.get(f"/api/v1/events/{event_id}/proof", headers=bearer(token))
        if response.status_code == 200 or time.monotonic() > deadline:
            assert response.status_code == 200, response.json
            return response.json
        time.sleep(0.2)


def test_the_pages_files_are_named_by_their_digest_and_kept_for_a_year(
        stack_factory: Any) -> None:
    """Every file the page names is served, under the same policy as the page, for a year:
    a new release names new paths, and an old page's path is gone rather than mixed."""
    stack = stack_factory("embedded")
    page = stack.client.get("/viewer/").get_data(True)
    named = re.findall(r'(?:src|href)="(assets/[0-9a-f]{16}/[a-z.-]+)"', page)
    assert {name.rsplit("/", 1)[1] for name in named} == {
        "before-paint.js", "messages.js", "viewer.css", "viewer.js", "query.js", "proofs.js",
        "icon.svg"}
    kinds = set()
    for path in named:
        asset = stack.client.get(f"/viewer/{path}")
        assert asset.status_code == 200 and asset.data, path
        assert asset.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert "frame-ancestors 'none'" in asset.headers["Content-Security-Policy"]
        kinds.add(asset.mimetype)
    assert kinds == {"text/javascript", "text/css", "image/svg+xml"}
    version = named[0].split("/")[1]
    assert stack.client.get("/viewer/assets/0000000000000000/viewer.js").status_code == 404
    assert stack.client.get(f"/viewer/assets/{version}/index.html").status_code == 404
    assert stack.client.get(f"/viewer/assets/{version}/../viewer_page.py").status_code == 404


def test_the_page_is_framed_only_by_the_origins_the_operator_lists(stack_factory: Any) -> None:
    closed = stack_factory("embedded")
    policy = closed.client.get("/viewer/").headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    opened = stack_factory("embedded", viewer_frame_ancestors=(
        "https://app.example.com", "http://localhost:3000"))
    page = opened.client.get("/viewer/")
    assert "frame-ancestors https://app.example.com http://localhost:3000" in page.headers[
        "Content-Security-Policy"]
    assert page.headers["Cache-Control"] == "no-cache" and "<script" in page.get_data(True)
    assert "<script>" not in page.get_data(True)  # no inline script: every one has a src
    for bad in ("app.example.com", "https://app.example.com/path", "https://a.com;b",
                "javascript:alert(1)"):
        with pytest.raises(SettingsError, match="VIEWER_FRAME_ANCESTORS"):
            Settings.from_env({"AUDITRAIL_VIEWER_FRAME_ANCESTORS": bad})
