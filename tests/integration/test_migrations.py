"""Upgrading a database that already holds events keeps them and fills in what newer
revisions add."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, text

from adapters.sql.engine import build_engine
from adapters.sql.migrate import missing_revisions, upgrade
from tests.integration.stacks import execute

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def database_at(tmp_path: Path, revision: str, action: str, body: dict) -> Engine:
    """A SQLite database at an older ``revision`` holding one workspace and one event."""
    engine = build_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, revision)
    with engine.begin() as connection:
        execute(connection,
            "INSERT INTO workspaces (id, name, plan, ip_allowlist, created_at) "
            "VALUES ('ws_1', 'old', 'free', '[]', :now)", now=NOW)
        execute(connection,
            "INSERT INTO events (id, workspace_id, status, action, occurred_at, received_at, "
            "actor_id, actor_type, body) VALUES ('evt_1', 'ws_1', 'pending', :action,"
            " :now, :now, 'u', 'user', :body)", now=NOW, action=action, body=json.dumps(body))
    return engine


def test_search_terms_are_backfilled(tmp_path: Path) -> None:
    body = {"actor": {"id": "u", "type": "user"},
            "targets": [{"id": "doc_1", "type": "document"}], "context": {}, "metadata": {}}
    engine = database_at(tmp_path, "0002", "admin.user.delete", body)
    upgrade(engine)
    with engine.connect() as connection:
        terms = [row[0] for row in connection.execute(
            text("SELECT term FROM event_terms WHERE event_id = 'evt_1' ORDER BY term"))]
    assert terms == ["action:admin.", "action:admin.user.", "target_id:doc_1",
                     "target_type:document"]
    engine.dispose()


def test_terms_survive_dropping_their_foreign_key(tmp_path: Path) -> None:
    """0006 rebuilds SQLite's event_terms table (batch mode) without losing its rows."""
    engine = database_at(tmp_path, "0005", "user.login", {})
    with engine.begin() as connection:
        execute(connection,
            "INSERT INTO event_terms (workspace_id, term, occurred_at, event_id) "
            "VALUES ('ws_1', 'action:user.', :now, 'evt_1')", now=NOW)
    assert inspect(engine).get_foreign_keys("event_terms") != []
    upgrade(engine)
    assert inspect(engine).get_foreign_keys("event_terms") == []
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT term, event_id FROM event_terms")).all()
    assert [tuple(row) for row in rows] == [("action:user.", "evt_1")]
    engine.dispose()


def test_mapped_addresses_are_rewritten_in_rfc_5952_form(tmp_path: Path) -> None:
    """0007: the search column only; the hashed body keeps what the chain covers."""
    engine = database_at(tmp_path, "0006", "user.login", {"context": {"ip_address": "x"}})
    with engine.begin() as connection:
        connection.execute(text("UPDATE events SET ip_address = '::ffff:c000:201'"))
        execute(connection,
            "INSERT INTO events (id, workspace_id, status, action, occurred_at, received_at, "
            "actor_id, actor_type, ip_address, body) VALUES ('evt_2', 'ws_1', 'pending', "
            "'a', :now, :now, 'u', 'user', '2001:db8::1', '{}')", now=NOW)
    upgrade(engine)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT id, ip_address, body FROM events ORDER BY id"))
        stored = [tuple(row) for row in rows]
    assert stored == [("evt_1", "::ffff:192.0.2.1", '{"context": {"ip_address": "x"}}'),
                      ("evt_2", "2001:db8::1", "{}")]
    engine.dispose()


def test_alerts_whose_events_retention_removed_go_with_the_index(tmp_path: Path) -> None:
    """0027: what retention cut before the release that removes alerts with their events."""
    engine = database_at(tmp_path, "0026", "user.login", {})
    with engine.begin() as connection:
        execute(connection,
            "INSERT INTO workspaces (id, name, plan, ip_allowlist, created_at) "
            "VALUES ('ws_2', 'other', 'free', '[]', :now)", now=NOW)
        connection.execute(text(
            "INSERT INTO chain_heads (workspace_id, sequence, hash, anchor_sequence, "
            "anchor_hash) VALUES ('ws_1', 9, :h, 5, :h), ('ws_2', 9, :h, 0, :h)"),
            {"h": "0" * 64})
        for n, (workspace, trigger, status) in enumerate([
                ("ws_1", 3, "delivered"), ("ws_1", 5, "cancelled"), ("ws_1", 4, "pending"),
                ("ws_1", 6, "delivered"), ("ws_2", 3, "delivered")]):
            execute(connection,
                "INSERT INTO alerts (id, workspace_id, rule_id, group_key, event_ids, "
                "first_sequence, trigger_sequence, rule, triggered_at, status, attempts) "
                "VALUES (:id, :w, 'alr_1', 'workspace', '[]', :t, :t, '{}', :now, :s, 1)",
                id=f"alt_{n}", w=workspace, t=trigger, s=status, now=NOW)
    upgrade(engine)
    with engine.connect() as connection:
        kept = connection.execute(text(
            "SELECT workspace_id, trigger_sequence FROM alerts ORDER BY id")).all()
    assert [tuple(row) for row in kept] == [("ws_1", 4), ("ws_1", 6), ("ws_2", 3)]
    assert "ix_alerts_trigger" in {index["name"] for index in inspect(engine).get_indexes(
        "alerts")}
    engine.dispose()


def test_missing_revisions_name_what_db_upgrade_would_apply(tmp_path: Path) -> None:
    engine = build_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    assert missing_revisions(engine) == ["0001", "0002", "0003", "0004", "0005", "0006",
                                         "0007", "0008", "0009", "0010", "0011", "0012",
                                         "0013", "0014", "0015", "0016", "0017", "0018",
                                         "0019", "0020", "0021", "0022", "0023",
                                         "0024", "0025", "0026", "0027", "0028", "0029"]
    upgrade(engine, "0005")
    assert missing_revisions(engine) == ["0006", "0007", "0008", "0009", "0010", "0011",
                                         "0012", "0013", "0014", "0015", "0016",
                                         "0017", "0018", "0019", "0020", "0021", "0022", "0023",
                                         "0024", "0025", "0026", "0027", "0028", "0029"]
    upgrade(engine)
    assert missing_revisions(engine) == []
    with engine.begin() as connection:  # as a newer release leaves it: old code still runs
        connection.execute(text("UPDATE alembic_version SET version_num = '0042'"))
    assert missing_revisions(engine) == []
    engine.dispose()


def test_chains_linked_before_the_log_get_their_tree_and_a_signed_anchor(
        tmp_path: Path) -> None:
    """0010 builds each chain's tree from its stored events (a removed event's leaf is a
    placeholder); the first checkpoint then signs the anchor retention had left, so the
    upgraded chain verifies rather than reporting an unsigned anchor."""
    from alembic import command

    from adapters.sql.migrate import _config
    from domain.hash_chain import ChainHead
    from domain.tiles import HASH_SIZE
    from tests.integration.stacks import bearer, embedded_stack

    stack = embedded_stack(tmp_path)
    workspace_id, key = stack.new_workspace()
    for _ in range(2):  # 600 events: two full tiles of leaves and a partial third
        assert stack.client.post("/api/v1/events/batch", headers=bearer(key), json={
            "events": [{"action": "user.login", "actor": {"id": "u", "type": "user"}}] * 300,
        }).status_code == 202
    stack.drain()
    stack.close()
    leaves = b"".join(row[0] for row in stack.sql(
        "SELECT hashes FROM tree_tiles WHERE level = 0 ORDER BY tile"))
    with stack.container.uow() as uow:  # retention as it was before the log
        [last] = uow.events.iter_chain(workspace_id, 300, 300, 1)
        uow.events.delete_linked(workspace_id, 300)
        uow.chains.save_anchor(workspace_id, ChainHead(300, last.hash), None)
        uow.commit()
    config = _config()
    with stack.container.engine().begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0009")
    stack.container.engine().dispose()

    stack = embedded_stack(tmp_path)  # upgrades to the newest revision as serve does
    rebuilt = b"".join(row[0] for row in stack.sql(
        "SELECT hashes FROM tree_tiles WHERE level = 0 ORDER BY tile"))
    placeholder = rebuilt[:HASH_SIZE]
    assert len(rebuilt) == 600 * HASH_SIZE and placeholder != leaves[:HASH_SIZE]
    assert rebuilt[:300 * HASH_SIZE] == placeholder * 300
    assert rebuilt[300 * HASH_SIZE:] == leaves[300 * HASH_SIZE:]
    assert stack.client.get("/api/v1/log/checkpoint", headers=bearer(key)).status_code == 200
    report = stack.client.get("/api/v1/events/verify", headers=bearer(key)).json
    assert report["valid"] and report["anchor"]["sequence"] == 300, report
    stack.close()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_each_workspaces_latest_checkpoint_is_filled_in(
        tmp_path: Path, kind: str, request: pytest.FixtureRequest) -> None:
    """0013: the largest checkpoint of each workspace that has one, with its time."""
    from sqlalchemy import insert, select

    from adapters.sql import tables as t
    url = (f"sqlite:///{tmp_path / 'old.db'}" if kind == "sqlite"
           else request.getfixturevalue("empty_postgres"))
    engine = build_engine(url)
    upgrade(engine, "0012")
    times = [datetime(2026, 11, day, tzinfo=UTC) for day in (1, 2, 3)]
    with engine.begin() as connection:
        for workspace_id in ("ws_1", "ws_2", "ws_3"):
            connection.execute(insert(t.workspaces).values(
                id=workspace_id, name="old", plan="free", ip_allowlist=[], created_at=times[0]))
        connection.execute(insert(t.checkpoints), [
            {"workspace_id": workspace_id, "tree_size": size, "root_hash": "r", "note": "n",
             "created_at": at}
            for workspace_id, size, at in (("ws_1", 7, times[1]), ("ws_1", 3, times[2]),
                                           ("ws_2", 5, times[0]))])
    upgrade(engine)
    with engine.connect() as connection:
        rows = connection.execute(select(t.latest_checkpoints)
                                  .order_by(t.latest_checkpoints.c.workspace_id)).all()
    assert [tuple(row) for row in rows] == [("ws_1", 7, times[1]), ("ws_2", 5, times[0])]
    engine.dispose()


def test_alert_window_pages_keep_room_for_in_place_updates(empty_postgres: str) -> None:
    """0014: each chunk rewrites the window states it counts; a fill of 70 % lets
    PostgreSQL do it on the same page (HOT)."""
    engine = build_engine(empty_postgres)
    query = text("SELECT reloptions FROM pg_class WHERE relname = 'alert_windows'")
    upgrade(engine, "0013")
    with engine.connect() as connection:
        assert connection.execute(query).scalar_one() is None
    upgrade(engine)
    with engine.connect() as connection:
        assert connection.execute(query).scalar_one() == ["fillfactor=70"]
    engine.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_alert_window_states_learn_when_they_were_last_touched(
        tmp_path: Path, kind: str, request: pytest.FixtureRequest) -> None:
    """0015: a state written before records its last write as its last arrival, and is
    kept eight days from then; one that already records it is left as it is."""
    from sqlalchemy import insert, select

    from adapters.sql import tables as t
    from adapters.sql.alert_windows import SqlAlertWindowRepository
    from domain.timestamps import to_micros
    url = (f"sqlite:///{tmp_path / 'old.db'}" if kind == "sqlite"
           else request.getfixturevalue("empty_postgres"))
    engine = build_engine(url)
    upgrade(engine, "0014")
    written = datetime(2026, 11, 20, 8, 30, 15, 123456, tzinfo=UTC)
    old = {"events": [[1, "evt_1", 1]], "newest": 1, "quiet_until": None}
    new = {**old, "touched": 42}
    with engine.begin() as connection:
        connection.execute(insert(t.alert_windows), [
            {"rule_id": "alr_1", "group_key": key, "workspace_id": "ws_1", "state": state,
             "horizon": datetime(1970, 1, 8, tzinfo=UTC), "updated_at": written}
            for key, state in (("old", old), ("new", new))])
    upgrade(engine)
    with engine.connect() as connection:
        rows = dict(connection.execute(select(t.alert_windows.c.group_key,
                                              t.alert_windows.c.horizon)).all())
        states = SqlAlertWindowRepository(connection).load("ws_1", [("alr_1", "old"),
                                                                    ("alr_1", "new")])
    assert rows == {"old": written + timedelta(days=8),
                    "new": datetime(1970, 1, 8, tzinfo=UTC)}
    assert states[("alr_1", "old")].touched == to_micros(written)
    assert states[("alr_1", "new")].touched == 42
    engine.dispose()
