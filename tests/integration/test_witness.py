"""``auditrail witness serve`` (a real C2SP tlog-witness process) and ``auditrail log
monitor --witness``: the witness remembers the latest checkpoint for every monitor that
submits to it, so a log that rewrote its history is caught even by an auditor who never
saw the old one."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from adapters.security.signing import Ed25519Verifier
from domain.cosignatures import cosigned_at, parse_cosigner_key
from domain.signed_notes import parse_checkpoint, parse_note
from domain.witnessing import add_checkpoint_body
from entrypoints import log_monitor
from entrypoints.cli import main
from tests.integration.processes import AUDITRAIL, environment, free_port, start, stop
from tests.integration.stacks import Stack
from tests.integration.test_observability import series_read
from tests.integration.test_transparency_log import (
    go_checker,
    ingest,
    log_key,
    rewrite_history,
    signed,
)

CHECK = Ed25519Verifier().verify
NAME = "witness.test/w1"


class RunningWitness:
    def __init__(self, process: subprocess.Popen, url: str, key: str, log: Path) -> None:
        self.process, self.url, self.key, self.log = process, url, key, log

    def checkpoint(self, origin: str) -> httpx.Response:
        return httpx.get(f"{self.url}/{hashlib.sha256(origin.encode()).hexdigest()}"
                         "/checkpoint")


def run_witness(folder: Path, *logs: str, logs_file: Path | None = None) -> RunningWitness:
    env = environment(witness_name=NAME)
    state = folder / "witness.sqlite3"
    assert AUDITRAIL, "the auditrail console script is not installed"
    printed = subprocess.run([AUDITRAIL, "witness", "verifier-key", "--state", str(state)],
                             env=env, capture_output=True, text=True, check=True)
    port = free_port()
    args = ["witness", "serve", "--state", str(state), "--port", str(port)]
    for key in logs:
        args += ["--log", key]
    if logs_file is not None:
        args += ["--logs-file", str(logs_file)]
    log = folder / "witness.log"
    process = start(*args, env=env, log=log)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1):
                return RunningWitness(process, url, printed.stdout.strip(), log)
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise AssertionError("the witness did not come up")


@pytest.fixture
def patched_log(stack: Stack) -> Iterator[None]:
    """The log through httpx's WSGI transport (as the other monitor tests); witnesses over
    real HTTP."""
    original = httpx.Client

    def client(**kwargs: Any) -> httpx.Client:
        if str(kwargs.get("base_url", "")).startswith("http://log"):
            return original(transport=httpx.WSGITransport(app=stack.app), **kwargs)
        return original(**kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(log_monitor.httpx, "Client", client)
        yield


def monitor(key: str, state: Path, vkey: str | None, witness: RunningWitness) -> str:
    target = log_monitor.witness_target(witness.key, witness.url)
    return log_monitor.run_monitor("http://log", key, state, vkey, CHECK, (), [target])


def test_a_witness_cosigns_what_extends_and_refuses_a_rewritten_history(
        stack: Stack, patched_log: None, tmp_path: Path) -> None:
    workspace_id, key = stack.new_workspace()
    ingest(stack, key, 12)
    signed(stack, key, 12)
    info = log_key(stack, key)
    witness = run_witness(tmp_path, info["verifier_key"])
    try:
        first = tmp_path / "first.json"
        assert monitor(key, first, info["verifier_key"], witness).endswith(
            f"at size 12; cosigned by {NAME}")
        kept = json.loads(first.read_text())
        assert kept["witnessed"] == {witness.key: 12}
        cosigner = parse_cosigner_key(witness.key)
        assert cosigned_at(parse_note(kept["checkpoint"]), cosigner, CHECK)
        served = witness.checkpoint(info["origin"])
        assert served.status_code == 200 and cosigned_at(parse_note(served.text), cosigner,
                                                         CHECK)

        ingest(stack, key, 8)
        signed(stack, key, 20)
        second = tmp_path / "second.json"  # another auditor, new: the witness says 409
        assert monitor(key, second, info["verifier_key"], witness).endswith(
            f"at size 20; cosigned by {NAME}")
        assert "consistent with size 12; cosigned" in monitor(key, first, None, witness)

        rewrite_history(stack, workspace_id, key, 21)
        late = tmp_path / "late.json"  # an auditor who never saw the honest history
        with pytest.raises(log_monitor.MonitorFailed, match=f"witness {NAME} refused to "
                           "cosign the log's checkpoint of size 21: .*split view"):
            monitor(key, late, info["verifier_key"], witness)
        assert not late.exists()
        tree = parse_checkpoint(parse_note(witness.checkpoint(info["origin"]).text).text)
        assert tree.tree_size == 20  # what it remembers is the honest state
        # What its operator sees: the refusal counted (to alert on), the size held.
        # Each later monitor first learnt the size held from a 409 (stale).
        metrics = httpx.get(f"{witness.url}/metrics").text
        for outcome, count in (("cosigned", 3), ("stale", 3), ("inconsistent", 1),
                               ("not_signed", 0)):
            assert f'auditrail_witness_add_checkpoint_total{{outcome="{outcome}"}} ' \
                   f'{count}.0' in metrics
        assert f'auditrail_witness_tree_size{{origin="{info["origin"]}"}} 20.0' in metrics
        state = str(tmp_path / "witness.sqlite3")
        listed = CliRunner().invoke(main, ["witness", "list", "--state", state, "--json"])
        assert listed.exit_code == 0, listed.output
        [held] = [json.loads(line) for line in listed.output.splitlines()]
        assert (held["origin"], held["tree_size"], held["root_hash"]) == \
            (info["origin"], 20, base64.b64encode(tree.root_hash).decode())

        # Its operator accepts the log's explanation (say, a restore) and forgets it:
        forgot = CliRunner().invoke(main, ["witness", "forget", "--state", state,
                                           info["origin"]])
        assert forgot.exit_code == 0, forgot.output
        assert parse_checkpoint(parse_note(forgot.output).text).tree_size == 20
        assert witness.checkpoint(info["origin"]).status_code == 404
        assert monitor(key, late, info["verifier_key"], witness).endswith(
            f"at size 21; cosigned by {NAME}")
        again = CliRunner().invoke(main, ["witness", "forget", "--state", state, "other/x"])
        assert again.exit_code == 1 and "holds nothing of other/x" in again.output
    finally:
        stop(witness.process)
    assert "refused to cosign" in witness.log.read_text()


def test_a_log_that_serves_an_older_state_than_a_witness_cosigned_is_caught(
        stack: Stack, patched_log: None, tmp_path: Path) -> None:
    """A log that rolls back what it serves (or freezes one reader at an old state) has
    signed the newer checkpoint already, and the witness holds it with both signatures."""
    workspace_id, key = stack.new_workspace()
    ingest(stack, key, 4)
    signed(stack, key, 4)
    info = log_key(stack, key)
    witness = run_witness(tmp_path, info["verifier_key"])
    try:
        ingest(stack, key, 6)
        signed(stack, key, 10)
        monitor(key, tmp_path / "one.json", info["verifier_key"], witness)
        stack.sql("DELETE FROM checkpoints WHERE workspace_id = :w AND tree_size > 4",
                  w=workspace_id)
        with pytest.raises(log_monitor.MonitorFailed, match="the log serves an older "
                           "checkpoint than the one of size 10 it signed and a witness "
                           "cosigned"):
            monitor(key, tmp_path / "two.json", info["verifier_key"], witness)
    finally:
        stop(witness.process)


def test_a_witness_that_cannot_help_leaves_the_logs_check_done(
        stack: Stack, patched_log: None, tmp_path: Path) -> None:
    _, key = stack.new_workspace()
    ingest(stack, key, 3)
    signed(stack, key, 3)
    info = log_key(stack, key)
    _, other = stack.new_workspace()
    stranger = run_witness(tmp_path, log_key(stack, other)["verifier_key"])
    state = tmp_path / "state.json"
    try:
        with pytest.raises(log_monitor.WitnessesUnavailable) as caught:
            monitor(key, state, info["verifier_key"], stranger)
        assert caught.value.checked.startswith(f"ok: {info['origin']} at size 3")
        assert caught.value.problems == [
            f"witness {NAME}: does not follow {info['origin']} (start it with --log and "
            "this log's verifier key)"]
        assert json.loads(state.read_text())["tree_size"] == 3  # the log was checked
    finally:
        stop(stranger.process)
    with pytest.raises(log_monitor.WitnessesUnavailable, match="could not reach witness"):
        monitor(key, state, None, stranger)
    runner = CliRunner()
    result = runner.invoke(main, ["log", "monitor", "--url", "http://log", "--key", key,
                                  "--state", str(state), "--witness", stranger.key,
                                  stranger.url])
    assert result.exit_code == 2, result.output
    assert "ok: " in result.stdout and "could not get a cosignature" in result.stderr
    result = runner.invoke(main, ["log", "monitor", "--url", "http://log", "--key", key,
                                  "--state", str(state), "--witness", info["verifier_key"],
                                  stranger.url])
    assert result.exit_code == 2 and "type 0x04" in result.output


def test_racing_submissions_move_the_witness_once(stack: Stack, tmp_path: Path) -> None:
    """Checking the old size and recording the new one is one step: of eight requests
    from the same old size, one is cosigned and the others told the size it moved to."""
    _, key = stack.new_workspace()
    ingest(stack, key, 2)
    note = signed(stack, key, 2)
    witness = run_witness(tmp_path, log_key(stack, key)["verifier_key"])
    try:
        body = add_checkpoint_body(0, [], note).encode()
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda _: httpx.post(f"{witness.url}/add-checkpoint",
                                                         content=body), range(8)))
        statuses = sorted(answer.status_code for answer in answers)
        assert statuses == [200] + [409] * 7, [a.text for a in answers]
        refused = next(answer for answer in answers if answer.status_code == 409)
        assert refused.text == "2\n"
        assert refused.headers["content-type"] == "text/x.tlog.size"
        again = httpx.post(f"{witness.url}/add-checkpoint", content=add_checkpoint_body(
            2, [], note).encode())
        assert again.status_code == 200 and again.text.startswith(f"\u2014 {NAME} ")
        assert httpx.post(f"{witness.url}/add-checkpoint", content=b"old 0\n").status_code \
            == 400
        assert httpx.post(f"{witness.url}/add-checkpoint",
                          content=b"x" * 70_000).status_code == 413
        assert httpx.get(f"{witness.url}/{'0' * 64}/checkpoint").status_code == 404
    finally:
        stop(witness.process)


def test_go_verifies_the_cosigned_checkpoint(stack: Stack, patched_log: None,
                                            tmp_path: Path) -> None:
    """golang.org/x/mod/sumdb/note opens the note the monitor keeps, with the log's key
    and a cosignature/v1 verifier written in Go from the specification alone."""
    checker = go_checker(tmp_path, Path(__file__).parent / "interop" / "cosignature" /
                         "main.go")
    _, key = stack.new_workspace()
    ingest(stack, key, 5)
    signed(stack, key, 5)
    info = log_key(stack, key)
    witness = run_witness(tmp_path, info["verifier_key"])
    state = tmp_path / "state.json"
    try:
        monitor(key, state, info["verifier_key"], witness)
        served = witness.checkpoint(info["origin"]).text
    finally:
        stop(witness.process)
    for note in (json.loads(state.read_text())["checkpoint"], served):
        checked = subprocess.run([str(checker)], input=json.dumps({
            "log_key": info["verifier_key"], "witness_key": witness.key, "note": note}),
            capture_output=True, text=True)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert checked.stdout == f"ok verified by {info['origin']} and {NAME}\n"
    kept = json.loads(state.read_text())["checkpoint"]
    head, _, line = kept.rstrip("\n").rpartition(f"\u2014 {NAME} ")
    raw = bytearray(base64.b64decode(line))
    raw[11] ^= 0x01  # the cosignature's time, one second off: the log's signature holds
    for tampered in (kept.replace("\n5\n", "\n6\n", 1),
                     f"{head}\u2014 {NAME} {base64.b64encode(raw).decode()}\n"):
        refused = subprocess.run([str(checker)], input=json.dumps({
            "log_key": info["verifier_key"], "witness_key": witness.key,
            "note": tampered}), capture_output=True, text=True)
        assert refused.returncode == 1 and refused.stdout.startswith("FAIL note"), tampered


def test_the_witness_commands_name_what_is_wrong(tmp_path: Path) -> None:
    runner = CliRunner()
    state = str(tmp_path / "w.sqlite3")
    bad_name = runner.invoke(main, ["witness", "verifier-key", "--name", "a b",
                                    "--state", state])
    assert bad_name.exit_code == 2 and "no spaces" in bad_name.output
    bad_log = runner.invoke(main, ["witness", "serve", "--name", NAME, "--state", state,
                                   "--log", "not+a+key"])
    assert bad_log.exit_code == 2 and "not+a+key" in bad_log.output
    no_log = runner.invoke(main, ["witness", "serve", "--name", NAME, "--state", state],
                           env={"AUDITRAIL_WITNESS_LOGS": ""})
    assert no_log.exit_code == 2 and "--logs-file FILE" in no_log.output
    listed = tmp_path / "logs"
    listed.write_text("# one log\nauditrail.localhost/ws_1+00000000+AAAA\n")
    bad_file = runner.invoke(main, ["witness", "serve", "--name", NAME, "--state", state,
                                    "--logs-file", str(listed)])
    assert bad_file.exit_code == 2 and "line 2" in bad_file.output
    bad_key = runner.invoke(main, ["witness", "verifier-key", "--name", NAME, "--state",
                                   state], env={"AUDITRAIL_WITNESS_KEY": "c2hvcnQ="})
    assert bad_key.exit_code == 1 and "AUDITRAIL_WITNESS_KEY is unusable" in bad_key.output
    made = runner.invoke(main, ["witness", "verifier-key", "--name", NAME, "--state", state])
    assert made.exit_code == 0 and parse_cosigner_key(made.output.strip()).name == NAME
    assert (tmp_path / "witness.key").stat().st_mode & 0o077 == 0
    again = runner.invoke(main, ["witness", "verifier-key", "--name", NAME, "--state", state])
    assert again.output == made.output  # the key generated once is kept
    empty = runner.invoke(main, ["witness", "list", "--state", state])
    assert empty.exit_code == 0 and "holds no checkpoint yet" in empty.output
    missing = runner.invoke(main, ["witness", "list", "--state", str(tmp_path / "none")])
    assert missing.exit_code == 2 and "does not exist" in missing.output


def test_the_ledger_records_only_from_the_size_it_holds(tmp_path: Path) -> None:
    from adapters.sql.engine import build_engine
    from adapters.sql.witness_ledger import SqlWitnessLedger
    from domain.witnessing import Witnessed
    ledger = SqlWitnessLedger(build_engine(f"sqlite:///{tmp_path / 'w.sqlite3'}"))
    origin, five, nine = "log.test/ws_1", Witnessed(5, b"5" * 32), Witnessed(9, b"9" * 32)
    assert ledger.advance(origin, None, five, "note 5")
    assert not ledger.advance(origin, None, nine, "note 9")  # the first one is taken
    assert not ledger.advance(origin, Witnessed(3, b"3" * 32), nine, "note 9")  # not held
    assert not ledger.advance(origin, Witnessed(5, b"x" * 32), nine, "note 9")  # nor this
    assert ledger.latest(origin) == five
    assert ledger.advance(origin, five, nine, "note 9")
    assert not ledger.advance(origin, five, Witnessed(7, b"7" * 32), "note 7")  # a late one
    assert ledger.latest(origin) == nine
    [held] = ledger.held()
    assert (held.origin, held.witnessed) == (origin, nine)
    assert abs(time.time() - held.cosigned_at.timestamp()) < 60  # UTC, read back as UTC
    assert ledger.note(hashlib.sha256(origin.encode()).hexdigest()) == "note 9"
    assert ledger.latest("log.test/ws_2") is None


def test_the_documented_witness_alerts_parse_and_name_metrics_it_exports(
        tmp_path: Path) -> None:
    """operations.md's witness rules, parsed as Prometheus would, read only series the
    witness exports: a rename cannot leave an alert silently watching nothing."""
    import yaml

    from entrypoints.container.witness import WitnessContainer
    from entrypoints.witness_http import create_witness_app

    document = (Path(__file__).parents[2] / "docs" / "operations.md").read_text()
    block = document.split("  - name: auditrail-witness\n", 1)[1].split("```", 1)[0]
    rules = yaml.safe_load(block)["rules"]
    witness = WitnessContainer(name=NAME, key="", key_file=str(tmp_path / "witness.key"),
                               database_url=f"sqlite:///{tmp_path / 'w.sqlite3'}",
                               logs={}).witness()
    scraped = create_witness_app(witness).test_client().get("/metrics")
    assert scraped.status_code == 200 and scraped.mimetype == "text/plain"
    exported = set(re.findall(r"^# TYPE (\w+) ", scraped.get_data(as_text=True), re.M))
    read = series_read(rules, "AuditrailWitness")
    assert read and read <= exported, read - exported


def test_a_logs_file_is_read_again_when_it_changes(stack: Stack, tmp_path: Path) -> None:
    """Following one more log is a line added to the file, not a restart; a line that is
    not a key leaves the witness following what it did."""
    first, second = (stack.new_workspace()[1] for _ in range(2))
    notes = {}
    for key in (first, second):
        ingest(stack, key, 3)
        notes[key] = signed(stack, key, 3)
    keys = {key: log_key(stack, key)["verifier_key"] for key in (first, second)}
    listed = tmp_path / "logs"
    listed.write_text(f"# the logs this witness follows\n{keys[first]}\n")
    witness = run_witness(tmp_path, logs_file=listed)

    def submit(key: str) -> int:
        return httpx.post(f"{witness.url}/add-checkpoint", content=add_checkpoint_body(
            0, [], notes[key]).encode()).status_code

    try:
        assert submit(first) == 200
        assert submit(second) == 404  # not followed (yet)
        listed.write_text(listed.read_text() + f"{keys[second]}\n")
        assert submit(second) == 200
        listed.write_text(listed.read_text() + "not a key\n")
        assert submit(second) == 409  # still followed: it holds size 3 now
        assert "not reloading the logs to follow" in witness.log.read_text()
        assert "line 4" in witness.log.read_text()
    finally:
        stop(witness.process)
