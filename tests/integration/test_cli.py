"""The operator CLI against an embedded data folder and against PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from entrypoints.cli import main
from tests.integration.stacks import bearer, embedded_stack


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AUDITRAIL_DATA_DIR", str(tmp_path / "var"))
    for name in ("DATABASE_URL", "REDIS_URL"):
        monkeypatch.delenv(f"AUDITRAIL_{name}", raising=False)
    runner = CliRunner()

    def invoke(*args: str, code: int = 0) -> str:
        result = runner.invoke(main, list(args), catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output
    return invoke


def test_workspaces_create_json_is_exactly_the_contract(run) -> None:  # type: ignore[no-untyped-def]
    created = json.loads(run("workspaces", "create", "--name", "Acme", "--json"))
    assert set(created) == {"workspace_id", "api_key"}
    assert created["workspace_id"].startswith("ws_") and created["api_key"].startswith("ak_")
    assert len(created["api_key"]) >= 35


def test_created_key_works_against_the_api(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    created = json.loads(run("workspaces", "create", "--name", "Acme", "--json"))
    stack = embedded_stack(tmp_path / "var")
    try:
        response = stack.client.get("/api/v1/events/verify",
                                    headers=bearer(created["api_key"]))
        assert response.status_code == 200 and response.json["checked"] == 0
    finally:
        stack.close()


def test_update_and_list(run) -> None:  # type: ignore[no-untyped-def]
    workspace_id = json.loads(run("workspaces", "create", "--name", "Acme", "--json"))[
        "workspace_id"]
    assert "1000 requests/min" in run("workspaces", "update", workspace_id, "--plan", "pro")
    run("workspaces", "update", workspace_id, "--rate-limit", "5000", code=1)
    assert "5000 requests/min" in run("workspaces", "update", workspace_id, "--plan",
                                      "enterprise", "--rate-limit", "5000")
    [row] = [json.loads(line) for line in run("workspaces", "list", "--json").splitlines()]
    assert row["id"] == workspace_id and row["rate_limit_per_minute"] == 5000
    assert "Acme" in run("workspaces", "list")
    run("workspaces", "update", "ws_missing", "--plan", "pro", code=1)


def test_plan_choices_are_checked(run) -> None:  # type: ignore[no-untyped-def]
    run("workspaces", "create", "--name", "Acme", "--plan", "platinum", code=2)
    run("workspaces", "create", "--name", "Acme", "--rate-limit", "99", code=1)


def test_keys_create(run) -> None:  # type: ignore[no-untyped-def]
    workspace_id = json.loads(run("workspaces", "create", "--name", "A", "--json"))[
        "workspace_id"]
    created = json.loads(run("keys", "create", "--workspace", workspace_id, "--scopes",
                             "events:write,events:read", "--json"))
    assert created["workspace_id"] == workspace_id
    run("keys", "create", "--workspace", workspace_id, "--scopes", "events:nuke", code=1)
    run("keys", "create", "--workspace", "ws_missing", "--scopes", "admin", code=1)
    run("keys", "create", "--workspace", workspace_id, "--scopes", "admin",
        "--expires-at", "2001-01-01T00:00:00Z", code=1)


def test_db_upgrade_is_idempotent(run) -> None:  # type: ignore[no-untyped-def]
    assert "up to date" in run("db", "upgrade")
    assert "up to date" in run("db", "upgrade")


def test_worker_refuses_embedded_mode(run) -> None:  # type: ignore[no-untyped-def]
    assert "AUDITRAIL_REDIS_URL" in run("worker", code=1)


def test_bad_settings_are_named(run, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AUDITRAIL_TRUSTED_PROXIES", "many")
    assert "AUDITRAIL_TRUSTED_PROXIES" in run("workspaces", "list", code=1)


def test_db_upgrade_on_postgres(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDITRAIL_DATABASE_URL", postgres_url)
    result = CliRunner().invoke(main, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
