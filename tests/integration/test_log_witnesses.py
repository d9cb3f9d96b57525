"""The log submitting its own checkpoints to witnesses (real ``auditrail witness serve``
processes over HTTP), on both stacks: each new checkpoint cosigned, the cosigned
checkpoint served (and opened by Go's sumdb/note), a rewritten log refused by the witness
and shown as such; what readers do with it - a proof in the cosigned tree, a monitor
demanding it (``--cosigned-by``), an export proved offline against it; and production
processes (``serve`` and RQ ``worker``s), where the workers' every-second sweep does the
submitting."""

from __future__ import annotations

import base64
import json
import re
import subprocess
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from adapters.sql import tables as t
from adapters.sql.engine import build_engine
from adapters.sql.migrate import upgrade
from domain.cosignatures import cosigned_at, parse_cosigner_key
from domain.signed_notes import (
    Note,
    parse_checkpoint,
    parse_note,
    parse_verifier_key,
    signature_by,
)
from entrypoints import log_monitor
from entrypoints.cli import main
from tests.integration.log_transport import Meanwhile, monitor_through
from tests.integration.processes import environment, start_servers, start_workers, stop, wait_for
from tests.integration.stacks import (
    Stack,
    bearer,
    point_the_cli_at,
    production_stack,
    stack_of_its_own,
)
from tests.integration.test_transparency_log import (
    go_checker,
    ingest,
    log_key,
    rewrite_history,
    signed,
)
from tests.integration.test_witness import (  # noqa: F401 (patched_log: a fixture)
    CHECK,
    NAME,
    RunningWitness,
    patched_log,
    run_witness,
)


@pytest.fixture(params=["embedded", "production"])
def stack(request: pytest.FixtureRequest, stack_factory: Any) -> Stack:
    """Witnesses run on this machine, so private destinations are allowed."""
    return stack_factory(request.param, allow_private_destinations=True)


@pytest.fixture
def witness_of(tmp_path: Path) -> Iterator[Callable[[str], RunningWitness]]:
    started: list[RunningWitness] = []

    def run(verifier_key: str) -> RunningWitness:
        started.append(run_witness(tmp_path / f"witness{len(started)}", verifier_key))
        return started[-1]

    yield run
    for witness in started:
        stop(witness.process)


def add(stack: Stack, key: str, witness: RunningWitness) -> dict[str, Any]:
    response = stack.client.post("/api/v1/log/witnesses", headers=bearer(key),
                                 json={"url": witness.url, "verifier_key": witness.key})
    assert response.status_code == 201, response.json
    return response.json


def state(stack: Stack, key: str, witness_id: str) -> dict[str, Any]:
    return stack.client.get(f"/api/v1/log/witnesses/{witness_id}", headers=bearer(key)).json


def submitted_until(stack: Stack, condition: Callable[[], bool]) -> bool:
    """Run the every-second sweep and the queue until ``condition()`` holds."""
    def swept() -> bool:
        stack.container.wake_witnesses().execute()
        return condition()
    return stack.deliver_until(swept)


def witnessed_log(stack: Stack, witness_of: Callable[[str], RunningWitness], size: int
                  ) -> tuple[str, str, dict[str, Any], RunningWitness, dict[str, Any]]:
    """A new workspace whose log submits to a witness of its own, grown to ``size`` events
    and cosigned there: its id, its key, its log key, the witness, and the witness as the
    log added it."""
    workspace_id, key = stack.new_workspace()
    info = log_key(stack, key)
    witness = witness_of(info["verifier_key"])
    added = add(stack, key, witness)
    grow_cosigned(stack, key, added, size, size)
    return workspace_id, key, info, witness, added


def grow_cosigned(stack: Stack, key: str, added: dict[str, Any], events: int,
                  size: int) -> None:
    """Ingest ``events`` more, to a tree of ``size``, sign it and wait for the witness to
    cosign it."""
    ingest(stack, key, events)
    signed(stack, key, size)
    assert submitted_until(stack, lambda: state(stack, key, added["id"])["cosigned_size"]
                           == size)


def cosigned(stack: Stack, key: str, **params: Any) -> Note:
    response = stack.client.get("/api/v1/log/cosigned-checkpoint", headers=bearer(key),
                                query_string=params)
    assert response.status_code == 200, response.json
    assert response.content_type == "text/plain; charset=utf-8"
    return parse_note(response.data.decode())


def test_each_checkpoint_is_cosigned_by_the_witness_and_served_cosigned(
        stack: Stack, witness_of: Callable[[str], RunningWitness]) -> None:
    workspace_id, key = stack.new_workspace()
    reader = stack.new_key(workspace_id, "events:read")
    info = log_key(stack, key)
    witness = witness_of(info["verifier_key"])
    added = add(stack, key, witness)
    assert (added["name"], added["status"], added["cosigned_size"]) == (NAME, "pending", None)

    ingest(stack, key, 12)
    signed(stack, key, 12)
    assert submitted_until(stack, lambda: state(stack, reader, added["id"])["cosigned_size"]
                           == 12), state(stack, reader, added["id"])
    ingest(stack, key, 8)
    signed(stack, key, 20)
    assert submitted_until(stack, lambda: state(stack, reader, added["id"])["cosigned_size"]
                           == 20)
    assert state(stack, reader, added["id"])["status"] == "ok"

    note = cosigned(stack, reader)
    assert parse_checkpoint(note.text).tree_size == 20
    assert cosigned_at(note, parse_cosigner_key(witness.key), CHECK) is not None
    log = parse_verifier_key(info["verifier_key"])
    assert CHECK(log.public_key, note.text.encode(), signature_by(note, log))
    held = parse_note(witness.checkpoint(info["origin"]).text)  # what the witness keeps
    assert held.text == note.text
    # the cosignatures below the newest every witness cosigned are not kept
    assert stack.sql("SELECT tree_size FROM cosignatures WHERE workspace_id = :w",
                     w=workspace_id) == [(20,)]
    listed = stack.client.get("/api/v1/log/witnesses", headers=bearer(reader)).json
    assert [w["id"] for w in listed["data"]] == [added["id"]]
    assert 'auditrail_log_witness_submissions_total{outcome="cosigned"}' in \
        stack.client.get("/metrics").data.decode()


def test_a_rewritten_log_is_refused_and_gets_no_cosigned_checkpoint(
        stack: Stack, witness_of: Callable[[str], RunningWitness]) -> None:
    workspace_id, key = stack.new_workspace()
    witness = witness_of(log_key(stack, key)["verifier_key"])
    added = add(stack, key, witness)
    ingest(stack, key, 12)
    signed(stack, key, 12)
    assert submitted_until(stack, lambda: state(stack, key, added["id"])["status"] == "ok")

    rewrite_history(stack, workspace_id, key, 13)
    assert submitted_until(stack, lambda: state(stack, key, added["id"])["status"] ==
                           "refused")
    refused = state(stack, key, added["id"])
    assert "refused to cosign" in refused["last_error"]
    assert "does not extend the one of size 12" in refused["last_error"]
    assert refused["cosigned_size"] == 12
    metrics = stack.client.get("/metrics").data.decode()
    assert re.search(r'^auditrail_log_witnesses\{status="refused"\} [1-9][0-9]*\.0$',
                     metrics, re.M), metrics[-3000:]
    assert re.search(r'^auditrail_log_witness_submissions_total\{outcome="refused"\} '
                     r'[1-9]', metrics, re.M)
    # The rewrite dropped the checkpoints the witness cosigned, and none of the new
    # history gets a cosignature: a reader who demands one gets none; the witness keeps
    # the checkpoint of the history it saw.
    none = stack.client.get("/api/v1/log/cosigned-checkpoint", headers=bearer(key))
    assert (none.status_code, none.json["error"]["code"]) == (409, "not_cosigned")
    held = parse_note(witness.checkpoint(log_key(stack, key)["origin"]).text)
    assert parse_checkpoint(held.text).tree_size == 12


@pytest.fixture(params=["embedded", "production"])
def own_stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stack]:
    """A database of the test's own: the lag is that of the witness furthest behind in the
    whole database, and the session's shared one holds every other test's witnesses."""
    built = stack_of_its_own(request, tmp_path / "var", allow_private_destinations=True)
    yield built
    built.close()


def test_the_lag_shows_how_long_the_witness_furthest_behind_has_owed_a_cosignature(
        own_stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    """Failing and refused witnesses have their alarms; this one is for submissions not
    made at all (workers of an older release, or too busy linking to deliver)."""
    from domain.cosignatures import cosigner_key

    stack = own_stack
    workspace_id, key = stack.new_workspace()
    ingest(stack, key, 3)
    signed(stack, key, 3)
    assert stack.container.witness_health().execute().lag_seconds == 0.0  # none to owe
    added = stack.client.post("/api/v1/log/witnesses", headers=bearer(key), json={
        "url": "https://w.example", "verifier_key": cosigner_key("witness.example/w",
                                                                 bytes(range(32)))})
    assert added.status_code == 201, added.json
    now = datetime.now(UTC)

    def dated(table: Any, when: datetime, *where: Any) -> None:
        column = "created_at" if table is not t.log_witnesses else "cosigned_at"
        with stack.container.engine().begin() as connection:
            connection.execute(table.update().values({column: when}).where(
                table.c.workspace_id == workspace_id, *where))

    def lag() -> float:
        return stack.container.witness_health().execute().lag_seconds

    dated(t.checkpoints, now - timedelta(hours=2))
    dated(t.latest_checkpoints, now - timedelta(hours=2))
    stack.sql("UPDATE log_witnesses SET created_at = :at WHERE id = :id",
              at=now - timedelta(hours=1), id=added.json["id"])
    assert 3600 <= lag() < 3660  # since it was added: an older log's past is not its debt
    stack.sql("UPDATE log_witnesses SET held_size = 3, cosigned_size = 3 WHERE id = :id",
              id=added.json["id"])
    dated(t.log_witnesses, now - timedelta(minutes=20))
    assert lag() == 0.0

    ingest(stack, key, 2)
    signed(stack, key, 5)
    dated(t.checkpoints, now - timedelta(minutes=5), t.checkpoints.c.tree_size > 3)
    assert 300 <= lag() < 360  # since the log signed what it has not cosigned
    metrics = stack.client.get("/metrics").get_data(as_text=True)
    gauge = re.search(r"^auditrail_log_witness_lag_seconds (\S+)$", metrics, re.M)
    assert gauge is not None and 300 <= float(gauge.group(1)) < 360, metrics[-2000:]
    point_the_cli_at(stack, monkeypatch)
    report = json.loads(CliRunner().invoke(main, ["status", "--json"]).output)
    assert 300 <= report["log_witness_lag_seconds"] < 360
    [behind] = report["log_witnesses_behind"]
    assert (behind["witness_id"], behind["workspace_id"], behind["name"], behind["status"]) \
        == (added.json["id"], workspace_id, "witness.example/w", "ok")
    text = CliRunner().invoke(main, ["status"]).output
    assert re.search(r"^log witnesses: 0 pending, 1 ok, 0 failing, 0 refused \(a "
                     r"cosignature owed for 3\d\d\.\d s\)$", text, re.M)  # ok, yet behind
    assert re.search(rf"^  {added.json['id']}  {workspace_id}  ok      witness.example/w: a "
                     r"cosignature owed for 3\d\d\.\d s$", text, re.M), text

    stack.sql("UPDATE log_witnesses SET cosigned_size = NULL WHERE id = :id",
              id=added.json["id"])
    assert 3600 <= lag() < 3660  # owed since the first it has not cosigned, not the latest
    stack.sql("UPDATE log_witnesses SET cosigned_size = 3 WHERE id = :id", id=added.json["id"])

    dated(t.checkpoints, now + timedelta(days=365), t.checkpoints.c.tree_size > 3)
    assert 1200 <= lag() < 1260  # a year ahead is not believed: since its last cosignature
    stack.sql("UPDATE log_witnesses SET held_size = 5, cosigned_size = 5 WHERE id = :id",
              id=added.json["id"])
    assert lag() == 0.0


def test_witnesses_are_validated_scoped_and_removed(stack: Stack) -> None:
    workspace_id, key = stack.new_workspace()
    reader = stack.new_key(workspace_id, "events:read")
    log_vkey = log_key(stack, key)["verifier_key"]
    bad = stack.client.post("/api/v1/log/witnesses", headers=bearer(key),
                            json={"url": "ftp://w.example", "verifier_key": log_vkey})
    assert bad.status_code == 422
    assert [d["field"] for d in bad.json["error"]["details"]] == ["url", "verifier_key"]

    none = stack.client.get("/api/v1/log/cosigned-checkpoint", headers=bearer(reader))
    assert (none.status_code, none.json["error"]["code"]) == (409, "not_cosigned")
    wkey = "witness.example/w+" + _cosigner_key_tail()
    assert stack.client.post("/api/v1/log/witnesses", headers=bearer(reader), json={
        "url": "https://w.example", "verifier_key": wkey}).status_code == 403
    created = stack.client.post("/api/v1/log/witnesses", headers=bearer(key), json={
        "url": "https://w.example", "verifier_key": wkey})
    assert created.status_code == 201, created.json
    again = stack.client.post("/api/v1/log/witnesses", headers=bearer(key), json={
        "url": "https://w2.example", "verifier_key": wkey})
    assert (again.status_code, again.json["error"]["code"]) == (409, "conflict")
    assert stack.client.get("/api/v1/log/cosigned-checkpoint?witnesses=0",
                            headers=bearer(reader)).status_code == 400
    witness_id = created.json["id"]
    assert stack.client.post(f"/api/v1/log/witnesses/{witness_id}/retry",
                             headers=bearer(reader)).status_code == 403
    retried = stack.client.post(f"/api/v1/log/witnesses/{witness_id}/retry",
                                headers=bearer(key))
    assert retried.status_code == 200 and retried.json["id"] == witness_id
    assert retried.json["next_attempt_at"] is None
    assert stack.client.delete(f"/api/v1/log/witnesses/{witness_id}",
                               headers=bearer(reader)).status_code == 403
    assert stack.client.delete(f"/api/v1/log/witnesses/{witness_id}",
                               headers=bearer(key)).status_code == 204
    assert stack.client.get(f"/api/v1/log/witnesses/{witness_id}",
                            headers=bearer(key)).status_code == 404
    assert stack.client.post(f"/api/v1/log/witnesses/{witness_id}/retry",
                             headers=bearer(key)).status_code == 404


def _cosigner_key_tail() -> str:
    """The key id and key of a cosigner key named witness.example/w."""
    from domain.cosignatures import cosigner_key
    return cosigner_key("witness.example/w", bytes(range(32))).split("+", 1)[1]


def test_production_workers_submit_every_new_checkpoint(
        empty_postgres: str, redis_url: str, tmp_path: Path,
        witness_of: Callable[[str], RunningWitness]) -> None:
    """On a database of its own: the workers' sweep wakes every witness it holds."""
    engine = build_engine(empty_postgres)
    upgrade(engine)
    engine.dispose()
    stack = production_stack(empty_postgres, redis_url, allow_private_destinations=True,
                             data_dir=tmp_path / "var")
    env = environment(database_url=empty_postgres, redis_url=redis_url,
                      queue_name=stack.settings.queue_name, data_dir=str(tmp_path / "var"),
                      allow_private_destinations="1", checkpoint_seconds="1")
    try:
        _, key = stack.new_workspace()
        witness = witness_of(log_key(stack, key)["verifier_key"])
        [(server, base)] = start_servers(1, env, tmp_path)
        workers = start_workers(2, env, tmp_path)
        try:
            import httpx
            headers = bearer(key)
            assert httpx.post(f"{base}/api/v1/log/witnesses", headers=headers, json={
                "url": witness.url, "verifier_key": witness.key}).status_code == 201
            for size in (25, 50):
                assert httpx.post(f"{base}/api/v1/events/batch", headers=headers, json={
                    "events": [{"action": "user.login", "actor": {"id": "u", "type": "user"}}
                               ] * 25}).status_code == 202

                def cosigned_at_size(size: int = size) -> bool:
                    answer = httpx.get(f"{base}/api/v1/log/cosigned-checkpoint",
                                       headers=headers)
                    return answer.status_code == 200 and parse_checkpoint(
                        parse_note(answer.text).text).tree_size == size
                assert wait_for(cosigned_at_size, timeout=60), \
                    [p.read_text()[-2000:] for p in tmp_path.glob("*.log")]
        finally:
            codes = [stop(w) for w in workers] + [stop(server)]
        assert codes == [0, 0, 0]
    finally:
        stack.close()


def test_a_proof_in_the_cosigned_tree_carries_the_cosignatures(
        stack: Stack, witness_of: Callable[[str], RunningWitness]) -> None:
    _, key = stack.new_workspace()
    info = log_key(stack, key)
    witness = witness_of(info["verifier_key"])
    added = add(stack, key, witness)
    first = ingest(stack, key, 5)
    signed(stack, key, 5)
    assert submitted_until(stack, lambda: state(stack, key, added["id"])["cosigned_size"] == 5)
    stop(witness.process)  # the embedded worker submits every second: none may cosign 8
    later = ingest(stack, key, 3)
    signed(stack, key, 8)  # the cosigned tree stays of size 5

    proof = stack.client.get(f"/api/v1/events/{first[2]}/proof?witnesses=1",
                             headers=bearer(key))
    assert proof.status_code == 200, proof.json
    assert proof.json["tree_size"] == 5
    note = parse_note(proof.json["checkpoint"])
    assert cosigned_at(note, parse_cosigner_key(witness.key), CHECK) is not None
    newer = stack.client.get(f"/api/v1/events/{later[0]}/proof?witnesses=1",
                             headers=bearer(key))
    assert (newer.status_code, newer.json["error"]["code"]) == (409, "not_checkpointed")
    assert "cosigned" in newer.json["error"]["message"] and newer.headers["Retry-After"]
    both = stack.client.get(f"/api/v1/events/{first[2]}/proof?witnesses=1&tree_size=5",
                            headers=bearer(key))
    assert (both.status_code, both.json["error"]["code"]) == (400, "invalid_parameter")
    too_many = stack.client.get(f"/api/v1/events/{first[2]}/proof?witnesses=2",
                                headers=bearer(key))
    assert (too_many.status_code, too_many.json["error"]["code"]) == (409, "not_cosigned")


def test_go_opens_the_cosigned_checkpoint_the_log_serves(
        stack: Stack, witness_of: Callable[[str], RunningWitness], tmp_path: Path) -> None:
    """golang.org/x/mod/sumdb/note opens GET /log/cosigned-checkpoint with the log's key and
    a cosignature/v1 verifier written in Go from the specification alone."""
    checker = go_checker(tmp_path, Path(__file__).parent / "interop" / "cosignature" /
                         "main.go")
    _, key, info, witness, _ = witnessed_log(stack, witness_of, 6)
    note = stack.client.get("/api/v1/log/cosigned-checkpoint", headers=bearer(key)).data
    checked = subprocess.run([str(checker)], input=json.dumps({
        "log_key": info["verifier_key"], "witness_key": witness.key,
        "note": note.decode()}), capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout == f"ok verified by {info['origin']} and {NAME}\n"


@pytest.mark.usefixtures("patched_log")
def test_a_monitor_trusting_the_logs_witness_catches_a_history_shown_to_it_alone(
        stack: Stack, witness_of: Callable[[str], RunningWitness], tmp_path: Path) -> None:
    """`auditrail log monitor --cosigned-by`: the checkpoint the log's witness cosigned must
    be in the history the monitor is served. A log holding its key shows the witness its
    history and a new auditor a rewritten one: the auditor's first run alarms."""
    workspace_id, key, info, witness, _ = witnessed_log(stack, witness_of, 5)
    cosigner = parse_cosigner_key(witness.key)
    said = log_monitor.run_monitor("http://log", key, tmp_path / "first.json",
                                   info["verifier_key"], CHECK, cosigners=[cosigner])
    assert said.endswith(f"the checkpoint its witnesses cosigned (size 5, by {NAME}) is in "
                         "its history")

    [kept] = stack.sql("SELECT note, root_hash, created_at FROM checkpoints WHERE "
                       "workspace_id = :w AND tree_size = 5", w=workspace_id)
    rewrite_history(stack, workspace_id, key, 6)  # re-signed, grown to 6
    stack.sql("INSERT INTO checkpoints (workspace_id, tree_size, root_hash, note, created_at)"
              " VALUES (:w, 5, :r, :n, :c)", w=workspace_id, r=kept[1], n=kept[0], c=kept[2])
    with pytest.raises(log_monitor.MonitorFailed, match=r"does not extend the one of size 5 "
                       r"cosigned by the log's witnesses: its history was rewritten, or it "
                       r"shows other readers another history"):
        log_monitor.run_monitor("http://log", key, tmp_path / "late.json",
                                info["verifier_key"], CHECK, cosigners=[cosigner])
    assert not (tmp_path / "late.json").exists()  # nothing kept of that run

    other = parse_cosigner_key(_cosigner_key_of("witness.test/other"))
    with pytest.raises(log_monitor.WitnessesUnavailable) as missing:
        log_monitor.run_monitor("http://log", key, tmp_path / "other.json",
                                info["verifier_key"], CHECK, cosigners=[other])
    assert missing.value.problems == [
        "the log's cosigned checkpoint of size 5 carries no valid cosignature by "
        "witness.test/other"]


@pytest.mark.usefixtures("patched_log")
@pytest.mark.parametrize("monitor", ["cli", "client"])
def test_a_log_cosigned_further_while_the_monitor_reads_raises_no_alarm(
        stack: Stack, witness_of: Callable[[str], RunningWitness], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, monitor: str) -> None:
    """The log's witness may cosign a newer checkpoint while a run reads (``--entries`` of
    a large log takes a minute): the monitor asks for the cosigned checkpoint before the
    latest one, so that one is never newer than the tree it checks - which would read as
    the log showing this reader a stale history. The CLI's monitor and the client's."""
    _, key, info, witness, added = witnessed_log(stack, witness_of, 5)
    meanwhile = Meanwhile(stack.app, "/api/v1/log/checkpoint",  # the log grows meanwhile
                          lambda: grow_cosigned(stack, key, added, 2, 7))
    if monitor == "client":
        client = pytest.importorskip("auditrail_client")
        result = client.Monitor(client.Auditrail("http://the-log", key,  # not patched_log's
                                                 http_transport=meanwhile),
                                info["verifier_key"], tmp_path / "client-state.json",
                                cosigned_by=[witness.key]).check()
        assert meanwhile.happened and (result.tree_size, result.log_cosigned_size) == (5, 5)
        assert result.witness_problems == ()
        return
    monitor_through(monkeypatch, meanwhile)
    said = log_monitor.run_monitor("http://log", key, tmp_path / "state.json",
                                   info["verifier_key"], CHECK,
                                   cosigners=[parse_cosigner_key(witness.key)])
    assert meanwhile.happened
    assert said.startswith(f"ok: {info['verifier_key'].split('+')[0]} at size 5")
    assert "the checkpoint its witnesses cosigned (size 5" in said


def _cosigner_key_of(name: str) -> str:
    from domain.cosignatures import cosigner_key
    return cosigner_key(name, bytes(range(32)))


def test_the_monitor_refuses_a_cosigned_by_that_is_not_a_cosigner_key(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from domain.signed_notes import verifier_key
    from entrypoints.cli import main
    log_vkey = verifier_key("auditrail.localhost/ws_1", bytes(range(32)))  # type 0x01
    refused = CliRunner().invoke(main, ["log", "monitor", "--url", "http://log", "--key",
                                        "k", "--state", str(tmp_path / "s.json"),
                                        "--cosigned-by", log_vkey])
    assert refused.exit_code == 2 and "--cosigned-by" in refused.output
    assert "type 0x04" in refused.output


def test_an_export_is_proved_offline_in_the_history_its_witness_cosigned(
        stack: Stack, witness_of: Callable[[str], RunningWitness], tmp_path: Path) -> None:
    """The evidence carries the checkpoint the log's witnesses cosigned and the proof that
    it extends the export's: `auditrail verify --cosigned-by` checks both, offline."""
    _, key = stack.new_workspace()
    info = log_key(stack, key)
    witness = witness_of(info["verifier_key"])
    added = add(stack, key, witness)
    ingest(stack, key, 5)
    export = stack.client.post("/api/v1/exports", headers=bearer(key),
                               json={"format": "ndjson"}).json
    stack.drain()
    ingest(stack, key, 6)
    signed(stack, key, 11)
    assert submitted_until(stack, lambda: state(stack, key, added["id"])["cosigned_size"]
                           == 11)
    evidence = export_file_and_evidence(stack, key, export["id"], tmp_path / "all.ndjson")
    assert evidence["last_sequence"] == 5
    cosigned = evidence["cosigned"]
    assert parse_checkpoint(parse_note(cosigned["checkpoint"]).text).tree_size == 11
    assert cosigned["consistency"]

    def offline(evidence: dict[str, Any], *cosigners: str) -> Any:
        from click.testing import CliRunner

        from entrypoints.cli import main
        (tmp_path / "evidence.json").write_text(json.dumps(evidence))
        args = ["verify", str(tmp_path / "all.ndjson"), "--evidence",
                str(tmp_path / "evidence.json"), "--verifier-key", info["verifier_key"]]
        for cosigner in cosigners:
            args += ["--cosigned-by", cosigner]
        return CliRunner().invoke(main, args)

    proved = offline(evidence, witness.key)
    assert proved.exit_code == 0, proved.output
    assert f"cosigned: {NAME} cosigned the log's tree of size 11, which extends it" in \
        proved.output
    bent = [*cosigned["consistency"]]
    bent[0] = base64.b64encode(bytes(32)).decode()
    broken = offline({**evidence, "cosigned": {**cosigned, "consistency": bent}}, witness.key)
    assert broken.exit_code == 1 and "does not extend the export's, of size 5" in \
        broken.output
    stranger = offline(evidence, _cosigner_key_of("witness.test/other"))
    assert stranger.exit_code == 1 and "no valid cosignature by witness.test/other" in \
        stranger.output
    # as evidence fetched before the witnesses cosigned what the export holds reads
    early = offline({k: v for k, v in evidence.items() if k != "cosigned"}, witness.key)
    assert early.exit_code == 1 and "fetch it again" in early.output
    assert offline(evidence).exit_code == 0  # without --cosigned-by, as before


def export_file_and_evidence(stack: Stack, key: str, export_id: str,
                             path: Path) -> dict[str, Any]:
    from urllib.parse import urlsplit
    location = stack.client.get(f"/api/v1/exports/{export_id}/download",
                                headers=bearer(key)).headers["Location"]
    parts = urlsplit(location)
    path.write_bytes(stack.client.get(f"{parts.path}?{parts.query}").data)
    return stack.client.get(f"/api/v1/exports/{export_id}/evidence", headers=bearer(key)).json


def test_the_channel_says_why_a_witness_gave_no_answer() -> None:
    """The witness channel on the same guard and failure wording as deliveries."""
    from adapters.webhooks.witness_channel import HttpWitnessChannel
    from application.ports.witnesses import WitnessUnreachable
    from tests.integration.processes import free_port

    nowhere = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with pytest.raises(WitnessUnreachable, match=r"^Connection failed \(ConnectError"):
        HttpWitnessChannel(True, 2, "test").add_checkpoint(nowhere, "old 0\n\n")
    with pytest.raises(WitnessUnreachable, match=r"^Refused: .*only public destinations"):
        HttpWitnessChannel(False, 2, "test").add_checkpoint(nowhere, "old 0\n\n")
