"""The operator CLI against an embedded data folder and against PostgreSQL."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import click
import pytest
from click.testing import CliRunner
from redis import Redis
from redis.exceptions import RedisError

from adapters.sql.engine import build_engine
from adapters.sql.migrate import missing_revisions, upgrade
from domain.timestamps import parse_timestamp
from entrypoints.cli import main
from tests.integration.processes import AUDITRAIL, environment, free_port, wait_for
from tests.integration.stacks import TEST_SIGNING_KEY, bearer, embedded_stack
from tests.queues import throwaway_queue_name


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AUDITRAIL_DATA_DIR", str(tmp_path / "var"))
    for name in ("DATABASE_URL", "REDIS_URL"):
        monkeypatch.delenv(f"AUDITRAIL_{name}", raising=False)
    runner = CliRunner()

    def invoke(*args: str, code: int = 0, typed: str | None = None) -> str:
        result = runner.invoke(main, list(args), input=typed, catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output
    return invoke


def test_workspaces_create_json_is_exactly_the_contract(run) -> None:  # type: ignore[no-untyped-def]
    created = json.loads(run("workspaces", "create", "--name", "Acme", "--json"))
    assert set(created) == {"workspace_id", "api_key"}
    assert created["workspace_id"].startswith("ws_") and created["api_key"].startswith("ak_")
    assert len(created["api_key"]) >= 35


def test_workspaces_create_env_can_be_evaluated_by_a_shell(run) -> None:  # type: ignore[no-untyped-def]
    output = run("workspaces", "create", "--name", "Acme", "--env")
    shell = subprocess.run(["bash", "-c", f'eval "{output}"; echo "$WORKSPACE $KEY"'],
                           capture_output=True, text=True, check=True)
    workspace_id, key = shell.stdout.split()
    assert workspace_id.startswith("ws_") and key.startswith("ak_") and len(key) >= 35


def test_created_key_works_against_the_api(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    created = json.loads(run("workspaces", "create", "--name", "Acme", "--json"))
    stack = embedded_stack(tmp_path / "var")
    try:
        response = stack.client.get("/api/v1/events/verify",
                                    headers=bearer(created["api_key"]))
        assert response.status_code == 200 and response.json["checked"] == 0
    finally:
        stack.close()


def test_list_shows_each_workspaces_linked_events(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    busy = json.loads(run("workspaces", "create", "--name", "Busy", "--json"))
    run("workspaces", "create", "--name", "Idle")
    stack = embedded_stack(tmp_path / "var")
    try:
        assert stack.client.post("/api/v1/events/batch", headers=bearer(busy["api_key"]), json={
            "events": [{"action": "user.login", "actor": {"id": "u", "type": "user"}}] * 3,
        }).status_code == 202
        stack.drain()
    finally:
        stack.close()
    rows = {row["name"]: row["linked_events"] for row in map(
        json.loads, run("workspaces", "list", "--json").splitlines())}
    assert rows == {"Busy": 3, "Idle": 0}
    assert re.search(rf"^{busy['workspace_id']} .*  +3 events  ", run("workspaces", "list"),
                     re.M)


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


def test_a_workspace_under_a_legal_hold_cannot_be_deleted_until_released(run) -> None:  # type: ignore[no-untyped-def]
    workspace_id = json.loads(run("workspaces", "create", "--name", "Held", "--json"))[
        "workspace_id"]
    said = run("workspaces", "update", workspace_id, "--legal-hold")
    assert said.strip().endswith("records no changes, under a legal hold")
    assert run("workspaces", "list").strip().endswith("Held  (legal hold)")
    assert json.loads(run("workspaces", "list", "--json"))["legal_hold"] is True
    refused = run("workspaces", "delete", workspace_id, "--yes", code=1)
    assert f"{workspace_id} is under a legal hold" in refused
    assert f"auditrail workspaces update {workspace_id} --no-legal-hold" in refused
    assert "holds 0 events" not in refused  # refused before the question
    assert json.loads(run("keys", "list", "--workspace", workspace_id, "--json").splitlines()[
        0])["revoked_at"] is None  # nothing was touched
    run("workspaces", "update", workspace_id, "--no-legal-hold")
    assert "deleted" in run("workspaces", "delete", workspace_id, "--yes")


def test_workspaces_delete_asks_for_the_name_and_names_what_goes(run) -> None:  # type: ignore[no-untyped-def]
    doomed, kept = (json.loads(run("workspaces", "create", "--name", name, "--json"))
                    for name in ("Acme Corp", "Other"))
    run("keys", "create", "--workspace", doomed["workspace_id"], "--scopes", "events:read")
    refused = run("workspaces", "delete", doomed["workspace_id"], typed="Acme\n", code=1)
    assert f"{doomed['workspace_id']} (Acme Corp) holds 0 events, 2 API keys, 0 viewer " \
           "links, 0 log streams, 0 alert rules and 0 exports." in refused
    assert "nothing was deleted" in refused
    run("workspaces", "delete", doomed["workspace_id"], code=1)  # no answer: no deletion
    assert len(run("workspaces", "list").splitlines()) == 2
    deleted = run("workspaces", "delete", doomed["workspace_id"], typed="Acme Corp\n")
    # 2 keys, the chain's head and its scheduled check, and the workspace
    assert f"deleted {doomed['workspace_id']} (Acme Corp): 5 rows" in deleted
    assert [json.loads(line)["id"] for line in run("workspaces", "list", "--json")
            .splitlines()] == [kept["workspace_id"]]
    assert "No workspace" in run("workspaces", "delete", doomed["workspace_id"], code=1)
    assert "deleted" in run("workspaces", "delete", kept["workspace_id"], "--yes")


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
    assert "--expires-at" in run("keys", "create", "--workspace", workspace_id, "--scopes",
                                 "admin", "--expires-at", "next year", code=2)


def test_keys_list_and_revoke_by_id(run) -> None:  # type: ignore[no-untyped-def]
    workspace_id = json.loads(run("workspaces", "create", "--name", "A", "--json"))[
        "workspace_id"]
    other = json.loads(run("workspaces", "create", "--name", "B", "--json"))["workspace_id"]
    run("keys", "create", "--workspace", workspace_id, "--scopes", "events:write",
        "--name", "ingest")
    rows = [json.loads(line) for line in
            run("keys", "list", "--workspace", workspace_id, "--json").splitlines()]
    assert [(row["name"], row["scopes"], row["revoked_at"]) for row in rows] == [
        ("ingest", ["events:write"], None), ("admin", ["admin"], None)]  # newest first
    ingest = rows[0]["id"]
    assert re.search(rf"^{ingest}  ak_\S{{5}}…  active   events:write +last used never  "
                     r"ingest$", run("keys", "list", "--workspace", workspace_id), re.M)
    run("keys", "revoke", ingest, "--workspace", other, code=1)  # not that workspace's
    assert f"{ingest} (ingest, " in run("keys", "revoke", ingest, "--workspace", workspace_id)
    assert "already revoked at" in run("keys", "revoke", ingest, "--workspace", workspace_id)
    assert " revoked " in run("keys", "list", "--workspace", workspace_id).splitlines()[0]
    run("keys", "list", "--workspace", "ws_missing", code=1)
    for wrong in ((), (ingest,), ("--workspace", workspace_id), (ingest, "--stdin")):
        assert "give KEY_ID with --workspace, or --stdin" in run("keys", "revoke", *wrong,
                                                                 code=2)


def test_keys_roll_replaces_a_key_the_old_one_working_for_its_grace(  # type: ignore[no-untyped-def]
        run, tmp_path: Path) -> None:
    created = json.loads(run("workspaces", "create", "--name", "A", "--json"))
    workspace_id, admin = created["workspace_id"], created["api_key"]
    ingest = json.loads(run("keys", "create", "--workspace", workspace_id, "--scopes",
                            "events:write,events:read", "--name", "ingest", "--json"))
    ingest_id = json.loads(run("keys", "list", "--workspace", workspace_id,
                               "--json").splitlines()[0])["id"]
    before = datetime.now(UTC)
    rolled = json.loads(run("keys", "roll", ingest_id, "--workspace", workspace_id,
                            "--grace", "3600", "--json"))
    after = datetime.now(UTC)
    assert rolled["replaces"] == ingest_id and rolled["workspace_id"] == workspace_id
    hour = timedelta(seconds=3600)
    assert before + hour <= parse_timestamp(rolled["replaced_expires_at"]) <= after + hour
    rows = {row["id"]: row for row in map(json.loads, run(
        "keys", "list", "--workspace", workspace_id, "--json").splitlines())}
    successor = rows[rolled["key_id"]]
    assert (successor["name"], successor["scopes"], successor["expires_at"]) == (
        "ingest", ["events:write", "events:read"], None)
    assert rows[ingest_id]["expires_at"] == rolled["replaced_expires_at"]
    assert re.search(rf"^{ingest_id}  ak_\S{{5}}…  active .* last used never  expires "
                     rf"{re.escape(rolled['replaced_expires_at'])}  ingest$",
                     run("keys", "list", "--workspace", workspace_id), re.M)

    plain = run("keys", "roll", rolled["key_id"], "--workspace", workspace_id)  # a leak
    assert re.search(rf"^key:     key_\w+\napi key: ak_\S+  \(shown once\)\nreplaces "
                     rf"{rolled['key_id']} \(ingest, ak_\S{{5}}…\): stopped at \S+Z$",
                     plain, re.MULTILINE)
    latest = re.search(r"^api key: (ak_\S+)", plain, re.MULTILINE).group(1)
    stack = embedded_stack(tmp_path / "var")
    try:
        for secret, status in ((ingest["api_key"], 200), (rolled["api_key"], 401),
                               (latest, 200), (admin, 200)):
            assert stack.client.get("/api/v1/events", headers=bearer(secret)).status_code \
                == status, secret[:8]
    finally:
        stack.close()

    assert "nothing to roll" in run("keys", "roll", rolled["key_id"], "--workspace",
                                    workspace_id, code=1)
    run("keys", "roll", ingest_id, "--workspace", "ws_missing", code=1)
    assert "--grace" in run("keys", "roll", ingest_id, "--workspace", workspace_id,
                            "--grace", "604801", code=2)
    assert "--expires-at" in run("keys", "roll", ingest_id, "--workspace", workspace_id,
                                 "--expires-at", "soon", code=2)


def test_a_leaked_key_or_link_is_revoked_from_the_secret_alone(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    created = json.loads(run("workspaces", "create", "--name", "A", "--json"))
    stack = embedded_stack(tmp_path / "var")
    try:
        link = stack.client.post("/api/v1/viewer-links", headers=bearer(created["api_key"]),
                                 json={"filters": {}}).json
        token = parse_qs(urlsplit(link["url"]).fragment)["token"][0]
        for secret in (token, created["api_key"]):  # the link's first: the key is needed
            assert stack.client.get("/api/v1/events",
                                    headers=bearer(secret)).status_code == 200
            revoked = run("keys", "revoke", "--stdin", typed=secret + "\n")
            assert f"of {created['workspace_id']}: revoked at " in revoked
            assert secret not in revoked
            assert stack.client.get("/api/v1/events",
                                    headers=bearer(secret)).status_code == 401
        assert "already revoked" in run("keys", "revoke", "--stdin", typed=token + "\n")
        refused = run("keys", "revoke", "--stdin", typed="ak_" + "x" * 40 + "\n", code=1)
        assert "no key has that secret" in refused and "xxxx" not in refused
    finally:
        stack.close()


def test_output_cut_short_by_its_reader_is_no_error(tmp_path: Path) -> None:
    """``auditrail workspaces list | head -1`` on many workspaces: the reader leaves early."""
    env = environment(data_dir=str(tmp_path / "var"))
    subprocess.run([AUDITRAIL, "workspaces", "create", "--name", "A"], env=env, check=True,
                   capture_output=True)
    listing = subprocess.Popen([AUDITRAIL, "workspaces", "list"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    listing.stdout.close()  # type: ignore[union-attr]  # before it writes a line
    assert listing.wait(timeout=30) == 1
    assert listing.stderr.read() == b""  # type: ignore[union-attr]


def test_plain_output_shows_each_secret_once_and_says_so(run) -> None:  # type: ignore[no-untyped-def]
    created = run("workspaces", "create", "--name", "A")
    workspace_id = re.search(r"^workspace: (ws_\w+)$", created, re.MULTILINE).group(1)
    assert re.search(r"^api key:   ak_\S+  \(admin; shown once\)$", created, re.MULTILINE)
    key = run("keys", "create", "--workspace", workspace_id, "--scopes", "events:read")
    assert re.search(r"^key:     key_\w+\napi key: ak_\S+  \(shown once\)$", key, re.MULTILINE)
    assert "give --plan, --rate-limit, --[no-]record-activity and/or --[no-]legal-hold" in run(
        "workspaces", "update", workspace_id, code=2)


def test_db_upgrade_is_idempotent(run) -> None:  # type: ignore[no-untyped-def]
    assert "applied 29 migration(s)" in run("db", "upgrade")  # a new embedded database
    assert "nothing to apply" in run("db", "upgrade")


def test_worker_refuses_embedded_mode(run) -> None:  # type: ignore[no-untyped-def]
    assert "AUDITRAIL_REDIS_URL" in run("worker", code=1)


@pytest.mark.parametrize(("name", "value"), [
    ("TRUSTED_PROXIES", "many"), ("DATABASE_URL", "garbage"),
    ("DATABASE_URL", "mysql://root:hunter2@db/audit"), ("REDIS_URL", "localhost:6379"),
    ("PUBLIC_URL", "audit.example.com"), ("EXPORT_TTL_SECONDS", "0"),
    ("LOG_LEVEL", "verbose"),
])
def test_bad_settings_are_named(run, monkeypatch: pytest.MonkeyPatch, name: str,  # type: ignore[no-untyped-def]
                                value: str) -> None:
    monkeypatch.setenv(f"AUDITRAIL_{name}", value)
    output = run("workspaces", "list", code=1)
    assert f"AUDITRAIL_{name}" in output and "Traceback" not in output
    assert "hunter2" not in output  # a database URL may carry a password


def test_a_short_secret_key_stops_a_process_that_signs(  # type: ignore[no-untyped-def]
        run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDITRAIL_SECRET_KEY", "hunter2")
    output = run("worker", code=1)  # checked before anything else, even the profile
    assert "AUDITRAIL_SECRET_KEY must be at least 16" in output and "hunter2" not in output


def test_an_unmigrated_database_is_named_with_the_fix(  # type: ignore[no-untyped-def]
        run, postgres_url: str, empty_postgres: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """It used to surface as a traceback about a missing table, from any command."""
    monkeypatch.setenv("AUDITRAIL_DATABASE_URL", empty_postgres)
    output = run("workspaces", "list", code=1)
    assert "lacks 29 migration(s)" in output and "auditrail db upgrade" in output
    assert "database is up to date: applied 29 migration(s) (0001-0029)" in run("db", "upgrade")
    assert "nothing to apply" in run("db", "upgrade")
    assert run("workspaces", "list") == ""


def test_an_unreachable_database_is_one_line(run, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AUDITRAIL_DATABASE_URL",
                       "postgresql+psycopg://auditrail:hunter2@127.0.0.1:1/audit")
    output = run("workspaces", "list", code=1)
    assert output.startswith("Error: the database could not be used: ")
    assert "Connection refused" in output and "hunter2" not in output
    assert len(output.strip().splitlines()) == 1


def test_a_worker_refuses_a_geo_database_it_cannot_read(  # type: ignore[no-untyped-def]
        run, postgres_url: str, redis_url: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Otherwise it starts, and every event's processing fails: the chains stall."""
    (tmp_path / "City.mmdb").write_text("not a database")
    for name, value in (("DATABASE_URL", postgres_url), ("REDIS_URL", redis_url),
                        ("SECRET_KEY", "test-secret-key-not-for-production"),
                        ("SIGNING_KEY", TEST_SIGNING_KEY),
                        ("QUEUE_NAME", throwaway_queue_name()),
                        ("GEOIP_DB", str(tmp_path / "City.mmdb"))):
        monkeypatch.setenv(f"AUDITRAIL_{name}", value)
    output = run("worker", "--burst", code=1)
    assert "not a MaxMind database (AUDITRAIL_GEOIP_DB)" in output


def test_serve_will_not_count_metrics_apart_when_prometheus_client_came_first(
        tmp_path: Path) -> None:
    """Its storage is chosen when it is imported: loaded before ``serve`` names the
    multi-process folder, each worker would count alone and a scrape see one of them."""
    import prometheus_client  # noqa: F401 - loaded, as something imported too early would

    from entrypoints.serve_cli import _count_across_processes
    from entrypoints.settings import Settings

    with pytest.raises(RuntimeError, match="each worker would count alone"):
        _count_across_processes(Settings(data_dir=tmp_path, redis_url="redis://127.0.0.1:1"))
    assert not (tmp_path / "prometheus").exists()


def test_serve_refuses_a_missing_geo_database(run, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    def must_not_start(*_: object) -> None:
        raise AssertionError("serve started despite an unusable geo database")

    monkeypatch.setattr("entrypoints.server.serve", must_not_start)
    monkeypatch.setenv("AUDITRAIL_GEOIP_DB", "/nonexistent/City.mmdb")
    output = run("serve", code=1)
    assert "No such file or directory (AUDITRAIL_GEOIP_DB)" in output


def test_an_unusable_data_folder_is_one_line(run, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AUDITRAIL_DATA_DIR", "/proc/auditrail/var")
    output = run("workspaces", "list", code=1)
    assert output.startswith("Error: cannot use /proc/auditrail") and "Traceback" not in output


def test_db_upgrade_on_postgres(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDITRAIL_DATABASE_URL", postgres_url)
    result = CliRunner().invoke(main, ["db", "upgrade"])
    assert result.exit_code == 0, result.output


def test_upgrades_started_together_take_turns(empty_postgres: str, tmp_path: Path) -> None:
    """An upgrade step on every replica's start-up: all but one used to fail on
    PostgreSQL's catalogue (duplicate key in pg_type) in three runs out of four."""
    env = environment(database_url=empty_postgres, data_dir=str(tmp_path / "var"))
    upgrades = [subprocess.Popen([AUDITRAIL, "db", "upgrade"], env=env, text=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                for _ in range(4)]
    outputs = [(upgrade.wait(120), upgrade.stdout.read()) for upgrade in upgrades]  # type: ignore[union-attr]
    assert all(code == 0 for code, _ in outputs), outputs
    engine = build_engine(empty_postgres)
    assert missing_revisions(engine) == []
    engine.dispose()


@pytest.mark.parametrize("kind", ["embedded", "production"])
def test_status_names_the_workspaces_furthest_behind(  # type: ignore[no-untyped-def]
        run, stack_factory, kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    stack = stack_factory(kind, checkpoint_seconds=60)  # one checkpoint a drain, at most
    settings = stack.container.settings()
    monkeypatch.setenv("AUDITRAIL_DATA_DIR", str(settings.data_dir))
    if kind == "production":
        for name in ("database_url", "redis_url", "queue_name"):
            monkeypatch.setenv(f"AUDITRAIL_{name.upper()}", getattr(settings, name))
    late, late_key = stack.new_workspace("late")
    done, done_key = stack.new_workspace("done")
    event = {"action": "user.login", "actor": {"id": "u", "type": "user"}}
    stack.client.post("/api/v1/events/batch", json={"events": [event] * 3},
                      headers=bearer(late_key))
    stack.client.post("/api/v1/events/batch", json={"events": [event] * 650},
                      headers=bearer(done_key))
    stack.container.process_pending_events().execute(done)  # 500 signed, 150 too soon
    asked = stack.client.post("/api/v1/exports", json={"format": "ndjson"},
                              headers=bearer(late_key))  # no worker takes it here
    assert asked.status_code == 202
    report = json.loads(run("status", "--workspaces", "1000", "--json"))
    behind = {row["workspace_id"]: row for row in report["behind"]}
    assert behind[late]["pending_events"] == 3 and behind[late]["lag_seconds"] >= 0
    assert done not in behind
    assert report["pending_events"] >= 3
    assert (report["queued_jobs"] is None) == (kind == "embedded")
    unsigned = {row["workspace_id"]: row for row in report["unsigned"]}
    assert unsigned[done]["unsigned_events"] == 150 and late not in unsigned
    assert report["unsigned_events"] >= 150 and report["checkpoint_lag_seconds"] >= 0
    assert report["exports_queued"] >= 1 and report["export_wait_seconds"] > 0
    text = run("status", "--workspaces", "1000")
    assert re.search(r"exports queued: \d+ \(the oldest waiting [\d.,]+ s\)", text), text
    assert f"{late}          3 pending" in text and "furthest behind:" in text
    assert f"{done}        150 unsigned" in text and "waiting longest for a checkpoint" in text
    metrics = stack.client.get("/metrics").data.decode()
    gauges = dict(re.findall(r"^(auditrail_exports?_\w+) (\S+)$", metrics, re.MULTILINE))
    assert float(gauges["auditrail_exports_queued"]) >= 1
    assert float(gauges["auditrail_export_wait_seconds"]) > 0
    if kind == "embedded":  # its worker is a thread of serve
        assert report["workers"] is None and "workers: in the serve process" in text
        assert "auditrail_workers" not in metrics
        return
    assert report["workers"] == 0 and "workers: 0" in text and "auditrail_workers 0.0" in metrics
    from rq import Worker
    listening = Worker(stack.container.job_queue().queues, connection=stack.container.redis())
    listening.register_birth()  # as `auditrail worker` does when it starts
    try:
        assert json.loads(run("status", "--workspaces", "0", "--json"))["workers"] == 1
        assert "auditrail_workers 1.0" in stack.client.get("/metrics").data.decode()
    finally:
        listening.register_death()
    assert "workers: 0" in run("status", "--workspaces", "0")


def test_status_names_the_streams_behind_and_the_notifications_owed(  # type: ignore[no-untyped-def]
        run, stack_factory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Events that do not arrive: which destination to look at, from the command line."""
    stack = stack_factory("production", allow_private_destinations=True)
    settings = stack.container.settings()
    for name in ("data_dir", "database_url", "redis_url", "queue_name"):
        monkeypatch.setenv(f"AUDITRAIL_{name.upper()}", str(getattr(settings, name)))
    workspace, key = stack.new_workspace()
    nowhere = "http://127.0.0.1:9/hook"  # nothing listens: nothing is ever accepted
    stream = stack.client.post("/api/v1/streams", headers=bearer(key), json={
        "name": "siem", "type": "webhook", "config": {"url": nowhere}}).json["id"]
    rule = stack.client.post("/api/v1/alert-rules", headers=bearer(key), json={
        "name": "any", "match": {"actions": ["user.*"]},
        "notify": {"webhook_url": nowhere}}).json["id"]
    event = {"action": "user.login", "actor": {"id": "u", "type": "user"}}
    stack.client.post("/api/v1/events/batch", json={"events": [event] * 4},
                      headers=bearer(key))
    stack.container.process_pending_events().execute(workspace)  # no delivery runs here
    # as many as it lists: other tests' rules, on this process's database, waited longer
    report = json.loads(run("status", "--workspaces", "1000", "--json"))
    assert report["alert_notifications_pending"] >= 4
    [behind] = [row for row in report["streams_behind"] if row["stream_id"] == stream]
    assert (behind["workspace_id"], behind["status"], behind["backlog"]) == \
        (workspace, "active", 4)
    assert behind["lag_seconds"] >= 0
    [owed] = [row for row in report["alert_rules_behind"] if row["rule_id"] == rule]
    assert (owed["workspace_id"], owed["status"], owed["pending"]) == (workspace, "active", 4)
    assert owed["lag_seconds"] >= 0
    text = run("status", "--workspaces", "1000")
    assert "alert notifications pending: " in text and "log streams behind:" in text
    assert f"{stream}  {workspace}  active          4 undelivered" in text
    assert f"{rule}  {workspace}  active          4 pending, the oldest waiting" in text


def test_status_names_the_log_witnesses_refusing_or_failing(  # type: ignore[no-untyped-def]
        run, stack_factory, monkeypatch: pytest.MonkeyPatch) -> None:
    """A witness that refuses the log's checkpoint, as a refusal leaves it: the operator's
    page, from the command line."""
    from datetime import UTC, datetime

    from domain.cosignatures import cosigner_key
    from domain.log_witnesses import LogWitness
    from domain.sending import Sending

    stack = stack_factory("production")
    settings = stack.container.settings()
    for name in ("data_dir", "database_url", "redis_url", "queue_name"):
        monkeypatch.setenv(f"AUDITRAIL_{name.upper()}", str(getattr(settings, name)))
    workspace, _ = stack.new_workspace()
    refusal = "The witness refused to cosign: the tree of size 9 does not extend the one"
    witness = LogWitness(f"wit_{uuid.uuid4().hex[:26]}", workspace, "https://w.example",
                         cosigner_key("witness.example/w", bytes(range(32))),
                         datetime.now(UTC), held_size=4, cosigned_size=4, refused=True,
                         sending=Sending(failures=1, last_error=refusal))
    with stack.container.uow() as uow:
        uow.log_witnesses.add(witness)
        uow.commit()
    report = json.loads(run("status", "--workspaces", "1000", "--json"))
    assert report["log_witnesses"]["refused"] >= 1
    [row] = [row for row in report["log_witnesses_troubled"]
             if row["witness_id"] == witness.id]
    assert (row["workspace_id"], row["status"], row["last_error"]) == (
        workspace, "refused", refusal)
    text = run("status", "--workspaces", "1000")
    assert "log witnesses refusing or failing:" in text
    assert f"{witness.id}  {workspace}  refused witness.example/w: {refusal}" in text
    with stack.container.uow() as uow:
        uow.log_witnesses.delete(workspace, witness.id)
        uow.commit()


def test_status_says_when_the_queue_cannot_be_seen(  # type: ignore[no-untyped-def]
        run, postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """An unreachable Redis is not an empty queue."""
    monkeypatch.setenv("AUDITRAIL_DATABASE_URL", postgres_url)
    monkeypatch.setenv("AUDITRAIL_REDIS_URL", "redis://127.0.0.1:1/0")
    text = run("status", "--workspaces", "0")
    assert "queued jobs: unknown, Redis is unreachable" in text
    assert "workers: unknown, Redis is unreachable" in text
    report = json.loads(run("status", "--workspaces", "0", "--json"))
    assert report["queued_jobs"] is None and report["workers"] is None


def _signed_embedded_log(data_dir: Path) -> str:
    """A data folder whose log was signed (with the key the folder generated)."""
    stack = embedded_stack(data_dir)
    try:
        workspace_id, key = stack.new_workspace()
        assert stack.client.post("/api/v1/events", headers=bearer(key), json={
            "action": "user.login", "actor": {"id": "u", "type": "user"}}).status_code == 202
        stack.drain()
        stack.container.transparency_log().sweep()
        return workspace_id
    finally:
        stack.close()


def test_check_on_a_fresh_machine_passes_and_creates_nothing(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    said = run("check")
    assert "FAIL" not in said
    assert re.search(r"^ok +database +none yet: `auditrail serve` creates .*auditrail.db$",
                     said, re.M), said
    assert re.search(r"^ok +geo database +none", said, re.M)
    assert not (tmp_path / "var").exists()  # no database, no key generated


def test_check_leaves_an_older_embedded_database_to_serve_to_migrate(  # type: ignore[no-untyped-def]
        run, tmp_path: Path) -> None:
    """A release behind, its log unreadable until migrated: what serve does first, so no
    failure - and the check migrates nothing itself."""
    (tmp_path / "var").mkdir(mode=0o700)
    engine = build_engine(f"sqlite:///{tmp_path / 'var' / 'auditrail.db'}")
    upgrade(engine, "0012")
    said = run("check")
    assert re.search(r"^ok +database +17 migration\(s\) to apply, which `auditrail serve` "
                     r"does as it starts$", said, re.M), said
    assert re.search(r"^ok +signing key +checked by `auditrail serve` once", said, re.M)
    assert missing_revisions(engine) == ["0013", "0014", "0015", "0016", "0017", "0018",
                                         "0019", "0020", "0021", "0022", "0023",
                                         "0024", "0025", "0026", "0027", "0028", "0029"]
    engine.dispose()


def test_check_names_a_lost_or_replaced_signing_key_with_the_fix(  # type: ignore[no-untyped-def]
        run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    workspace_id = _signed_embedded_log(tmp_path / "var")
    said = run("check")
    assert re.search(r"^ok +signing key +the log's latest checkpoint, if any, is signed by "
                     r"it", said, re.M), said
    kept = (tmp_path / "var" / "signing_key").read_text()
    (tmp_path / "var" / "signing_key").unlink()  # a restore that left the key behind
    said = run("check", code=1)
    assert re.search(rf"^FAIL +signing key +.*signing_key is missing, but the log was signed "
                     rf"\(the latest checkpoint of {workspace_id}\): restore the key", said,
                     re.M), said
    assert not (tmp_path / "var" / "signing_key").exists()  # the check generated none
    (tmp_path / "var" / "signing_key").write_text(kept)
    monkeypatch.setenv("AUDITRAIL_SIGNING_KEY", run("signing-key", "generate").strip())
    said = run("check", code=1)  # another machine's key: serve would refuse to start
    assert "signed by a key this installation does not have" in said
    assert "AUDITRAIL_PREVIOUS_SIGNING_KEYS" in said


def test_check_names_every_problem_of_a_production_setup_at_once(  # type: ignore[no-untyped-def]
        run, empty_postgres: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "City.mmdb").write_text("not a database")
    for name, value in (("DATABASE_URL", empty_postgres),
                        ("REDIS_URL", "redis://:hunter2@127.0.0.1:1/3"),
                        ("SECRET_KEY", "test-secret-key-not-for-production"),
                        ("SIGNING_KEY", TEST_SIGNING_KEY),
                        ("GEOIP_DB", str(tmp_path / "City.mmdb")),
                        ("DATA_DIR", "/proc/auditrail/var")):
        monkeypatch.setenv(f"AUDITRAIL_{name}", value)
    said = run("check", code=1)
    assert re.search(r"^FAIL +database +the database lacks 29 migration\(s\) .* run "
                     r"`auditrail db upgrade` first$", said, re.M), said
    assert re.search(r"^FAIL +queue +Redis unreachable at 127.0.0.1:1/3 ", said, re.M)
    assert re.search(r"^FAIL +geo database +.*not a MaxMind database", said, re.M)
    assert re.search(r"^FAIL +exports folder +/proc/auditrail/var/exports cannot be written",
                     said, re.M)  # even for root, whom permission bits never refuse
    assert "signing key" not in said  # not asked of a database that is not ready
    assert "hunter2" not in said and "Traceback" not in said
    monkeypatch.setenv("AUDITRAIL_SECRET_KEY", "short")
    assert re.search(r"^FAIL +settings +AUDITRAIL_SECRET_KEY must be at least 16",
                     run("check", code=1), re.M)


def answers(redis: Redis) -> bool:
    try:
        return bool(redis.ping())
    except RedisError:
        return False


@pytest.fixture
def evicting_redis(tmp_path: Path) -> Iterator[tuple[str, Redis]]:
    """A Redis of the test's own, with a memory limit and a policy that evicts under it, as
    managed services are often set up (the session's shared Redis is left alone)."""
    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed")
    port = free_port()
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(tmp_path), "--maxmemory", "64mb",
         "--maxmemory-policy", "allkeys-lru"], stdout=subprocess.DEVNULL)
    client = Redis(port=port)
    try:
        assert wait_for(lambda: answers(client), timeout=10, interval=0.05), \
            "redis-server did not start"
        yield f"redis://127.0.0.1:{port}/0", client
    finally:
        client.close()
        server.terminate()
        server.wait(10)


def test_check_and_the_worker_warn_of_a_redis_that_evicts_jobs(  # type: ignore[no-untyped-def]
        run, empty_postgres: str, evicting_redis: tuple[str, Redis],
        monkeypatch: pytest.MonkeyPatch) -> None:
    url, redis = evicting_redis
    for name, value in (("DATABASE_URL", empty_postgres), ("REDIS_URL", url),
                        ("SECRET_KEY", "test-secret-key-not-for-production"),
                        ("SIGNING_KEY", TEST_SIGNING_KEY),
                        ("QUEUE_NAME", throwaway_queue_name())):
        monkeypatch.setenv(f"AUDITRAIL_{name}", value)
    run("db", "upgrade")
    where = url.removeprefix("redis://")
    said = run("check")  # a warning, not a failure: the database holds all the work
    assert re.search(rf"^WARN +queue +Redis reachable at {re.escape(where)}, but its "
                     r"maxmemory-policy is allkeys-lru: once full, it drops queued jobs .* "
                     r"Set maxmemory-policy noeviction", said, re.M), said
    assert "FAIL" not in said
    started = subprocess.run([AUDITRAIL, "worker", "--burst"], capture_output=True, text=True,
                             timeout=60, env=environment(
                                 database_url=empty_postgres, redis_url=url,
                                 queue_name=throwaway_queue_name()))
    assert started.returncode == 0, started.stderr
    assert "Redis's maxmemory-policy is allkeys-lru: once full" in started.stderr
    redis.config_set("maxmemory-policy", "noeviction")
    assert re.search(rf"^ok +queue +Redis reachable at {re.escape(where)}$", run("check"),
                     re.M)
    redis.config_set("maxmemory-policy", "volatile-lru")
    assert re.search(r"^WARN +queue +.* maxmemory-policy is volatile-lru:", run("check"),
                     re.M)
    redis.config_set("maxmemory", 0)  # no limit: nothing is ever evicted
    assert re.search(r"^ok +queue", run("check"), re.M)


def test_every_command_loads_by_its_name_and_says_what_it_does() -> None:
    """Commands are loaded when they run (``entrypoints.cli.COMMANDS``): a name pointing at
    nothing, or at a command of another name, would fail only when someone ran it."""
    from entrypoints.cli import COMMANDS

    listed = CliRunner().invoke(main, ["--help"])
    assert listed.exit_code == 0, listed.output
    for name, entry in COMMANDS.items():
        command = main.get_command(click.Context(main), name)
        assert command is not None and command.name == name
        assert re.search(rf"^  {re.escape(name)} +{re.escape(entry.summary)}$", listed.output,
                         re.M), name
        assert CliRunner().invoke(main, [name, "--help"]).exit_code == 0
    assert CliRunner().invoke(main, ["no-such-command"]).exit_code == 2


def test_the_list_of_commands_loads_none_of_them() -> None:
    """``auditrail --help`` is the first thing typed; loading every command for its summary
    took as long as importing the installation's libraries (two seconds and more)."""
    shown = subprocess.run(
        [sys.executable, "-c", "import sys\nfrom entrypoints.cli import main\n"
         "main(['--help'], standalone_mode=False)\n"
         "print(*sorted(m for m in sys.modules if m.startswith(('entrypoints.', 'adapters',"
         " 'sqlalchemy', 'flask'))))"],
        capture_output=True, text=True, check=True, env=environment())
    assert "Commands:" in shown.stdout and "  verify " in shown.stdout
    assert shown.stdout.splitlines()[-1] == "entrypoints.cli", shown.stdout
