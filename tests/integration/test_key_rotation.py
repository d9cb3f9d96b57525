"""Rotating the log's signing key (operations.md, "Rotating keys") on both stacks: what was
signed before still verifies, the old key co-signs and hands each log over to the new one,
a monitor pinned to the old key follows the hand-over with its history intact, and Go
reads the rotation note as the signed note it is."""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from adapters.security.signing import Ed25519Verifier, new_seed
from domain.signed_notes import parse_checkpoint, parse_note, parse_verifier_key, signature_by
from entrypoints import log_monitor
from entrypoints.cli import main
from tests.integration.stacks import Stack, bearer, embedded_stack, production_stack
from tests.integration.test_transparency_log import (
    export_file,
    go_checker,
    ingest,
    log_key,
    offline,
    signed,
    verify_report,
)

CHECK = Ed25519Verifier().verify


def signed_by(note: str, vkey: str) -> bool:
    key = parse_verifier_key(vkey)
    parsed = parse_note(note)
    return CHECK(key.public_key, parsed.text.encode(), signature_by(parsed, key)) \
        if any(s.key_id == key.key_id for s in parsed.signatures) else False


def size_of(note: str) -> int:
    return parse_checkpoint(parse_note(note).text).tree_size


def restarted(stack: Stack, signing_key: str, *previous: str) -> Stack:
    """The same installation (database, data folder, queue) started with other keys."""
    settings = replace(stack.settings, signing_key=signing_key,
                       previous_signing_keys=previous)
    return Stack(stack.name, settings)


@contextmanager
def monitoring(app: list[Any]) -> Iterator[None]:
    """``run_monitor`` against whichever app is ``app[0]`` now, through httpx's WSGI
    transport."""
    import httpx
    original = httpx.Client

    def client(**kwargs: Any) -> httpx.Client:
        return original(transport=httpx.WSGITransport(app=app[0]), **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(log_monitor.httpx, "Client", client)
        yield


def retention_anchored(stack: Stack) -> tuple[str, str]:
    """A workspace whose two oldest events retention removed: its anchor is signed."""
    from datetime import UTC, datetime, timedelta

    from domain.timestamps import format_timestamp
    workspace_id, key = stack.new_workspace("Retained", plan="starter")  # 90 days
    old = format_timestamp(datetime.now(UTC) - timedelta(days=100))
    response = stack.client.post("/api/v1/events/batch", headers=bearer(key), json={
        "events": [{"action": "a.b", "actor": {"id": "u", "type": "user"},
                    "occurred_at": old}] * 2})
    assert response.status_code == 202
    ingest(stack, key, 3)
    signed(stack, key, 5)
    assert stack.container.apply_retention().execute() == 2
    assert verify_report(stack, key)["anchor"]["sequence"] == 2
    return workspace_id, key


@pytest.fixture(params=["embedded", "production"])
def first(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stack]:
    """Production on a database of its own: what other keys sign here must not be the
    session database's latest checkpoint, which ``serve`` and ``worker`` check at start."""
    if request.param == "embedded":
        stack = embedded_stack(tmp_path / "var", checkpoint_seconds=1)
    else:
        stack = production_stack(request.getfixturevalue("empty_postgres"),
                                 request.getfixturevalue("redis_url"),
                                 data_dir=tmp_path / "var", checkpoint_seconds=1)
        stack.container.upgrade_database()
    yield stack
    stack.close()


def test_a_rotated_key_keeps_what_was_signed_and_hands_the_log_over(
        first: Stack, tmp_path: Path) -> None:
    new = new_seed()
    workspace_id, key = first.new_workspace()
    ingest(first, key, 10)
    before = signed(first, key, 10)
    idle, idle_key = first.new_workspace("Idle")  # nothing read or written after the rotation
    ingest(first, idle_key, 3)
    signed(first, idle_key, 3)
    retained, retained_key = retention_anchored(first)
    # embedded: the key generated into the data folder at first use
    old_seed = first.settings.signing_key or first.settings.signing_key_file.read_text()
    old = log_key(first, key)["verifier_key"]
    state, app = tmp_path / "monitor.json", [first.app]
    with monitoring(app):
        log_monitor.run_monitor("http://log", key, state, old, CHECK)
    first.close()  # every process restarts with the new key, the old one listed

    second = restarted(first, new, old_seed.strip())
    try:
        published = log_key(second, key)
        new_vkey = published["verifier_key"]
        assert new_vkey != old and [k["verifier_key"] for k in published["previous_keys"]] \
            == [old]
        # The latest checkpoint, signed before, now carries both signatures, and is kept so.
        latest = second.client.get("/api/v1/log/checkpoint", headers=bearer(key)).data.decode()
        assert size_of(latest) == 10 and latest.startswith(before)
        assert signed_by(latest, old) and signed_by(latest, new_vkey)
        assert second.sql("SELECT note FROM checkpoints WHERE workspace_id = :w AND "
                          "tree_size = 10", w=workspace_id) == [(latest,)]
        assert verify_report(second, key)["valid"] is True
        ingest(second, key, 5)
        grown = signed(second, key, 15)
        assert signed_by(grown, old) and signed_by(grown, new_vkey)
        evidence = export_file(second, key, tmp_path / "all.ndjson")
        for vkey in (old, new_vkey):  # whichever key an auditor pinned
            assert offline(tmp_path / "all.ndjson", evidence, vkey).exit_code == 0

        app[0] = second.app
        with monitoring(app):
            said = log_monitor.run_monitor("http://log", key, state, None, CHECK)
            assert "consistent with size 10" in said and f"now pinned {new_vkey}" in said
            kept = json.loads(state.read_text())
            assert (kept["verifier_key"], kept["rotated_from"]) == (new_vkey, [old])
            # the cron line still names the key pinned first: accepted
            log_monitor.run_monitor("http://log", key, state, old, CHECK)
        outcome = second.container.countersign_log().execute()
        assert outcome.unreadable == [] and outcome.anchors >= 1 and outcome.checkpoints >= 2
        stored = second.sql("SELECT workspace_id, note FROM checkpoints WHERE workspace_id "
                            "IN (:a, :b, :c)", a=workspace_id, b=idle, c=retained)
        current = {w: log_key(second, k)["verifier_key"] for w, k in (
            (workspace_id, key), (idle, idle_key), (retained, retained_key))}
        assert stored and all(signed_by(note, current[w]) for w, note in stored)
    finally:
        second.close()

    third = restarted(first, new)  # the old key dropped from the settings
    try:
        ingest(third, key, 5)
        latest = signed(third, key, 20)
        assert signed_by(latest, new_vkey) and not signed_by(latest, old)
        # Its rotation note was kept by countersign: still served, as signed then.
        assert log_key(third, key)["previous_keys"] == published["previous_keys"]
        for each in (key, idle_key, retained_key):  # nothing stored needs the old key now
            assert verify_report(third, each)["valid"] is True, verify_report(third, each)
        assert verify_report(third, retained_key)["anchor"]["sequence"] == 2
        app[0] = third.app
        with monitoring(app):
            said = log_monitor.run_monitor("http://log", key, state, None, CHECK)
            assert "consistent with size 15" in said and "rotated" not in said
            # A monitor that pinned the old key and slept through it all follows too.
            late = log_monitor.run_monitor("http://log", key, tmp_path / "late.json", old,
                                           CHECK)
            assert f"now pinned {new_vkey}" in late
        # So does an auditor proving a new export with the key pinned before.
        evidence = export_file(third, key, tmp_path / "later.ndjson")
        assert "rotations" in evidence
        proved = offline(tmp_path / "later.ndjson", evidence, old)
        assert proved.exit_code == 0, proved.output
        assert "the verifier key given has since been replaced" in proved.output
        assert f"rotation notes lead to {new_vkey}" in proved.output
        # And the whole chain (as an S3 archive holds it) against the latest checkpoint,
        # signed by the new key alone, from the old key and the log's rotation notes.
        checkpoint, keys = tmp_path / "checkpoint.txt", tmp_path / "key.json"
        checkpoint.write_text(latest)
        keys.write_text(json.dumps(log_key(third, key)))
        whole = ["verify", str(tmp_path / "later.ndjson"), "--signed-checkpoint",
                 str(checkpoint), "--verifier-key", old]
        refused = CliRunner().invoke(main, whole)
        assert refused.exit_code == 1 and "no signature by" in refused.output
        followed = CliRunner().invoke(main, [*whole, "--rotations", str(keys)])
        assert followed.exit_code == 0, followed.output
        assert "the first 20 rows rebuild the signed tree of size 20" in followed.output
        assert f"rotation notes lead to {new_vkey}" in followed.output
        misplaced = CliRunner().invoke(main, ["verify", str(tmp_path / "later.ndjson"),
                                              "--rotations", str(keys)])
        assert misplaced.exit_code == 2 and "--rotations goes with --signed-checkpoint" in \
            misplaced.output
        keys.write_text("[]")
        wrong = CliRunner().invoke(main, [*whole, "--rotations", str(keys)])
        assert wrong.exit_code == 2 and "not GET /log/key's answer" in wrong.output
    finally:
        third.close()


def test_countersigned_and_dropped_at_once_the_new_key_alone_signs_on(first: Stack) -> None:
    """The whole rotation in one maintenance window, nothing signed in between: the latest
    checkpoint is still first-signed by the old key, countersigned by the new one."""
    _, key = first.new_workspace()
    ingest(first, key, 3)
    signed(first, key, 3)
    old_seed = first.settings.signing_key or first.settings.signing_key_file.read_text()
    first.close()
    new = new_seed()
    second = restarted(first, new, old_seed.strip())
    try:
        outcome = second.container.countersign_log().execute()
        assert (outcome.checkpoints, outcome.rotations) == (1, 1)
        assert second.container.countersign_log().execute().rotations == 0  # kept already
        kept = log_key(second, key)["previous_keys"]
    finally:
        second.close()
    third = restarted(first, new)
    try:
        assert third.container.transparency_log().stranger() is None  # would start
        assert log_key(third, key)["previous_keys"] == kept
        assert third.container.transparency_log().keys.previous == ()
    finally:
        third.close()
    stale = restarted(first, new_seed(), new)  # rotated again; then a machine left on `new`
    try:
        stale.container.countersign_log().execute()
    finally:
        stale.close()
    assert restarted(first, new).container.transparency_log().stranger() is not None


def test_a_monitor_does_not_follow_a_key_the_pinned_one_did_not_name(
        first: Stack, tmp_path: Path) -> None:
    """An installation started with another key, the old one not listed: nothing hands the
    log over, and the monitor says the checkpoint is not one its key signed."""
    _, key = first.new_workspace()
    ingest(first, key, 3)
    signed(first, key, 3)
    state, app = tmp_path / "monitor.json", [first.app]
    with monitoring(app):
        log_monitor.run_monitor("http://log", key, state, log_key(first, key)["verifier_key"],
                                CHECK)
    first.close()
    other = restarted(first, new_seed())
    try:
        ingest(other, key, 2)
        signed(other, key, 5)
        app[0] = other.app
        with monitoring(app), pytest.raises(log_monitor.MonitorFailed,
                                            match="not one the pinned key signed"):
            log_monitor.run_monitor("http://log", key, state, None, CHECK)
        assert json.loads(state.read_text())["tree_size"] == 3
    finally:
        other.close()


def test_go_reads_the_rotation_and_both_signatures(tmp_path: Path) -> None:
    """golang.org/x/mod/sumdb/note: the rotation note verifies with the old verifier key,
    a checkpoint signed after the rotation with either key."""
    checker = go_checker(tmp_path)
    stack = embedded_stack(tmp_path / "var", checkpoint_seconds=1, signing_key=new_seed())
    _, key = stack.new_workspace()
    old, old_seed = log_key(stack, key)["verifier_key"], stack.settings.signing_key
    stack.close()
    assert old_seed is not None
    rotated = restarted(stack, new_seed(), old_seed)
    try:
        ingest(rotated, key, 4)
        checkpoint = signed(rotated, key, 4)
        published = log_key(rotated, key)
        rotation = published["previous_keys"][0]["rotation"]
        for vkey, notes in ((old, [rotation, checkpoint]),
                            (published["verifier_key"], [checkpoint])):
            run = subprocess.run([str(checker)], input=json.dumps({
                "verifier_key": vkey, "notes": notes, "records": [], "trees": []}),
                capture_output=True, text=True)
            assert run.returncode == 0, run.stdout + run.stderr
            assert run.stdout.count("ok note") == len(notes)
        assert parse_note(rotation).text.splitlines()[1:] == ["key rotation",
                                                               published["verifier_key"]]
    finally:
        rotated.close()


def test_previous_keys_are_checked_at_start_and_never_echoed() -> None:
    from entrypoints.settings import Settings, SettingsError
    current, old = new_seed(), new_seed()
    settings = Settings.from_env({"AUDITRAIL_SIGNING_KEY": current,
                                  "AUDITRAIL_PREVIOUS_SIGNING_KEYS": f" {old}  {new_seed()} "})
    assert settings.previous_signing_keys[0] == old and len(settings.previous_signing_keys) == 2
    for listed, says in ((f"{old} {old[:-4]}", "AUDITRAIL_PREVIOUS_SIGNING_KEYS must be base64"),
                         (f"{old} {current}", "holds AUDITRAIL_SIGNING_KEY itself")):
        with pytest.raises(SettingsError, match=says) as refused:
            Settings.from_env({"AUDITRAIL_SIGNING_KEY": current,
                               "AUDITRAIL_PREVIOUS_SIGNING_KEYS": listed})
        assert old not in str(refused.value) and current not in str(refused.value)


def test_an_embedded_rotation_that_forgot_the_new_key_is_refused_at_start(
        tmp_path: Path) -> None:
    """``make run``'s key is a file; listing it as previous without setting a new key in
    AUDITRAIL_SIGNING_KEY would rotate to itself: ``serve`` and ``worker`` say so."""
    from entrypoints.settings import Settings, SettingsError
    old = new_seed()
    (tmp_path / "signing_key").write_text(old + "\n")
    forgot = Settings.from_env({"AUDITRAIL_DATA_DIR": str(tmp_path),
                                "AUDITRAIL_PREVIOUS_SIGNING_KEYS": old})
    with pytest.raises(SettingsError, match="set the new one in AUDITRAIL_SIGNING_KEY"):
        forgot.check_production_secrets()
    Settings.from_env({"AUDITRAIL_DATA_DIR": str(tmp_path), "AUDITRAIL_SIGNING_KEY": new_seed(),
                       "AUDITRAIL_PREVIOUS_SIGNING_KEYS": old}).check_production_secrets()


def test_the_operator_prints_the_key_to_publish_and_countersigns(tmp_path: Path) -> None:
    """``auditrail signing-key verifier-key``, from the configured keys rather than the
    network, and ``auditrail signing-key countersign``, as an operator runs them."""
    from click.testing import CliRunner

    from entrypoints.cli import main
    old, new = new_seed(), new_seed()
    stack = embedded_stack(tmp_path / "var", checkpoint_seconds=1, signing_key=old)
    try:
        workspace_id, key = stack.new_workspace()
        ingest(stack, key, 2)
        signed(stack, key, 2)
        old_vkey = log_key(stack, key)["verifier_key"]
    finally:
        stack.close()
    env = {"AUDITRAIL_DATA_DIR": str(tmp_path / "var"), "AUDITRAIL_SIGNING_KEY": new,
           "AUDITRAIL_PREVIOUS_SIGNING_KEYS": old}

    def run(*args: str) -> Any:
        return CliRunner().invoke(main, ["signing-key", *args], env=env)

    shown = run("verifier-key", "--workspace", workspace_id)
    assert shown.exit_code == 0, shown.output
    current, previous = shown.output.splitlines()
    assert previous == f"previous {old_vkey}" and current != old_vkey
    assert parse_verifier_key(current).name == parse_verifier_key(old_vkey).name
    unknown = run("verifier-key", "--workspace", "ws_nope")
    assert unknown.exit_code == 1 and "No workspace with id 'ws_nope'" in unknown.output
    assert new not in shown.output + unknown.output and old not in shown.output
    with pytest.MonkeyPatch.context() as patch:
        # say how far it got at once
        patch.setattr("entrypoints.server_keys_cli.PROGRESS_SECONDS", 0.0)
        first = run("countersign")
    assert first.exit_code == 0, first.output
    assert "countersigned 1 checkpoint(s) and 0 retention anchor(s)" in first.output
    assert "… 1 note(s) read, 1 checkpoint(s) countersigned so far" in first.output
    assert "kept 1 rotation note(s)" in first.output
    again = run("countersign").output
    assert "countersigned 0 checkpoint(s)" in again and "kept 0 rotation" in again  # done


def test_after_a_key_lost_for_good_countersign_adopts_a_quiet_log(tmp_path: Path) -> None:
    """AUDITRAIL_SIGNING_KEY_LOST=1: a workspace that sends nothing more keeps a latest
    checkpoint signed by the lost key alone, which fails its chain check under the new key
    until the log grows; ``countersign`` signs it, once the stored tree gives its root."""
    old, new = new_seed(), new_seed()
    stack = embedded_stack(tmp_path / "var", checkpoint_seconds=1, signing_key=old)
    try:
        _, key = stack.new_workspace()
        ingest(stack, key, 3)
        signed(stack, key, 3)
    finally:
        stack.close()

    def verified() -> dict[str, Any]:
        after = embedded_stack(tmp_path / "var", checkpoint_seconds=1, signing_key=new)
        try:
            return after.client.get("/api/v1/events/verify", headers=bearer(key)).json
        finally:
            after.close()

    before = verified()
    assert (before["valid"], before["reason"]) == (False, "checkpoint_mismatch")
    env = {"AUDITRAIL_DATA_DIR": str(tmp_path / "var"), "AUDITRAIL_SIGNING_KEY": new}
    refused = CliRunner().invoke(main, ["signing-key", "countersign"], env=env)
    assert refused.exit_code == 1
    assert "checkpoint of size 3 is signed by no key in AUDITRAIL_SIGNING_KEY" in \
        refused.output
    lost = CliRunner().invoke(main, ["signing-key", "countersign"],
                              env={**env, "AUDITRAIL_SIGNING_KEY_LOST": "1"})
    assert lost.exit_code == 0, lost.output
    assert "countersigned 1 checkpoint(s)" in lost.output
    assert "of those, 1 were signed by a key lost for good" in lost.output
    assert verified()["valid"] is True


def test_after_a_lost_key_the_monitor_pins_the_new_one_and_keeps_the_history(
        first: Stack, tmp_path: Path) -> None:
    """The operator lost the signing key for good: an auditor pins the new key with
    ``--key-lost``, and the log it signs must still extend what the lost key signed (a
    key loss is no cover for a rewrite); the lost key is trusted no more."""
    _, key = first.new_workspace()
    ingest(first, key, 3)
    signed(first, key, 3)
    old = log_key(first, key)["verifier_key"]
    state, app = tmp_path / "monitor.json", [first.app]
    with monitoring(app):
        log_monitor.run_monitor("http://log", key, state, old, CHECK)
    first.close()
    second = restarted(first, new_seed())  # the old key listed nowhere: it is gone
    try:
        assert second.container.countersign_log().execute(adopt=True).adopted >= 1
        ingest(second, key, 2)
        signed(second, key, 5)
        new = log_key(second, key)["verifier_key"]
        rewritten = tmp_path / "rewritten.json"  # as if the log had signed another root
        rewritten.write_text(json.dumps({**json.loads(state.read_text()),
                                         "root_hash": base64.b64encode(bytes(32)).decode()}))
        app[0] = second.app
        with monitoring(app):
            with pytest.raises(log_monitor.MonitorFailed, match="add --key-lost"):
                log_monitor.run_monitor("http://log", key, state, new, CHECK)
            with pytest.raises(log_monitor.MonitorFailed, match="does not extend the one of "
                                                                "size 3 kept last time"):
                log_monitor.run_monitor("http://log", key, rewritten, new, CHECK,
                                        key_lost=True)
            said = log_monitor.run_monitor("http://log", key, state, new, CHECK,
                                           key_lost=True)
            assert "at size 5, consistent with size 3" in said
            assert said.endswith(f"; pinned in place of the lost key {old}")
            assert json.loads(state.read_text())["verifier_key"] == new
            assert log_monitor.run_monitor("http://log", key, state, None, CHECK) \
                .startswith("ok:")
            with pytest.raises(log_monitor.MonitorFailed, match="differs from the key"):
                log_monitor.run_monitor("http://log", key, state, old, CHECK)
    finally:
        second.close()
    refused = CliRunner().invoke(main, ["log", "monitor", "--url", "http://log", "--key", key,
                                        "--state", str(state), "--key-lost"])
    assert refused.exit_code == 2 and "needs --verifier-key" in refused.output


def test_serve_and_worker_refuse_to_sign_on_a_log_another_key_signed(
        tmp_path: Path, empty_postgres: str, redis_url: str) -> None:
    """A key lost, mistyped or differing between machines, or a log name changed: signed
    on, the log would fail every pinned key from then on, and nothing would say why."""
    from tests.integration.processes import (
        AUDITRAIL,
        environment,
        free_port,
        start_server,
        stop,
    )
    assert AUDITRAIL is not None
    stack = embedded_stack(tmp_path / "var", checkpoint_seconds=1)
    _, key = stack.new_workspace()
    ingest(stack, key, 2)
    signed(stack, key, 2)
    stack.close()
    old = (tmp_path / "var" / "signing_key").read_text().strip()

    def refused(**settings: str) -> str:
        run = subprocess.run([AUDITRAIL, "serve", "--port", str(free_port())],
                             capture_output=True, text=True, timeout=60,
                             env=environment(data_dir=str(tmp_path / "var"), **settings))
        assert run.returncode == 1, run.stdout + run.stderr
        return run.stderr

    said = refused(signing_key=new_seed())
    assert "was signed by a key this installation does not have under the log name " \
           "auditrail.localhost" in said and "AUDITRAIL_SIGNING_KEY_LOST=1" in said
    assert old not in said
    refused(log_name="audit.example.com")  # the same key under another name
    new = new_seed()
    for settings in ({"signing_key": new, "previous_signing_keys": old},  # a rotation
                     {"signing_key": new, "signing_key_lost": "1"}):  # said out loud
        server, _ = start_server(environment(data_dir=str(tmp_path / "var"), **settings),
                                 tmp_path / "serve.log")
        stop(server)

    production = production_stack(empty_postgres, redis_url, data_dir=tmp_path / "prod",
                                  signing_key=new_seed(), checkpoint_seconds=1)
    try:
        production.container.upgrade_database()
        _, key = production.new_workspace()
        ingest(production, key, 2)
        signed(production, key, 2)
    finally:
        production.close()
    worker = subprocess.run([AUDITRAIL, "worker", "--burst"], capture_output=True, text=True,
                            timeout=60, env=environment(
                                database_url=empty_postgres, redis_url=redis_url,
                                data_dir=str(tmp_path / "prod")))
    assert worker.returncode == 1 and "was signed by a key" in worker.stderr, worker.stderr
