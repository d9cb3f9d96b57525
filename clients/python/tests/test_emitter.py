"""The emitter against a real server, through a proxy that fails on demand: every event
emitted is stored exactly once, or handed back with its reason."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from auditrail_client import Auditrail, ReceiptFolder


def marked(run: str, n: int, **extra: Any) -> dict[str, Any]:
    return {"action": f"test.{run}", "actor": {"id": f"usr_{n % 13}", "type": "user"},
            "metadata": {"n": n}, **extra}


def stored(client: Auditrail, run: str) -> list[Any]:
    return list(client.events.list(action=f"test.{run}", order="asc"))


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.delivered: list[tuple[int, str]] = []
        self.dropped: list[tuple[Mapping[str, Any], str]] = []
        self.invalid: list[tuple[Mapping[str, Any], Sequence[Mapping[str, Any]]]] = []

    def on_delivered(self, events: Sequence[Mapping[str, Any]], ids: Sequence[str]) -> None:
        with self.lock:
            self.delivered += [(e["metadata"]["n"], i) for e, i in zip(events, ids)]

    def on_drop(self, events: Sequence[Mapping[str, Any]], reason: str) -> None:
        with self.lock:
            self.dropped += [(e, reason) for e in events]

    def on_invalid(self, event: Mapping[str, Any], details: Sequence[Mapping[str, Any]]
                   ) -> None:
        with self.lock:
            self.invalid.append((event, details))

    def callbacks(self) -> dict[str, Any]:
        return {"on_delivered": self.on_delivered, "on_drop": self.on_drop,
                "on_invalid": self.on_invalid}


def test_eight_threads_through_failures_store_every_event_exactly_once(server, proxy) -> None:
    url, faults = proxy
    key, run = server.workspace(), uuid.uuid4().hex[:8]
    faults.planned = ["500", "drop", "lose", "500", "429", "lose", "drop"]
    recorder = Recorder()
    client = Auditrail(url, key)
    emitter = client.emitter(max_batch=200, flush_interval=0.05, min_backoff=0.05,
                             max_backoff=0.5, **recorder.callbacks())

    def emit_range(thread: int) -> None:
        for n in range(thread * 500, thread * 500 + 500):
            assert emitter.emit(marked(run, n))

    threads = [threading.Thread(target=emit_range, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    emitter.close()
    assert not recorder.dropped and not recorder.invalid
    assert faults.planned == []  # every fault met a request
    assert sorted(n for n, _ in recorder.delivered) == list(range(4000))
    events = stored(Auditrail(server.url, key), run)
    assert len(events) == 4000
    assert sorted(e.metadata["n"] for e in events) == list(range(4000))
    assert {e.id for e in events} == {i for _, i in recorder.delivered}
    stats = emitter.stats()
    assert (stats.emitted, stats.delivered, stats.dropped, stats.queued) == (4000, 4000, 0, 0)
    assert stats.retries >= 7


def test_compressed_batches_are_a_fraction_of_the_bytes_and_still_stored_once(
        server, proxy) -> None:
    """A retry after a lost answer is the same request under its key, compressed or not."""
    url, faults = proxy
    key, run = server.workspace(), uuid.uuid4().hex[:8]
    faults.planned = ["lose", "500"]
    recorder = Recorder()
    with Auditrail(url, key).emitter(max_batch=500, flush_interval=0.05, min_backoff=0.05,
                                     compress=True, **recorder.callbacks()) as emitter:
        for n in range(1000):
            emitter.emit(marked(run, n, targets=[{"id": f"doc_{n}", "type": "document"}]))
    assert faults.planned == [] and not recorder.dropped and not recorder.invalid
    events = stored(Auditrail(server.url, key), run)
    assert sorted(e.metadata["n"] for e in events) == list(range(1000))
    batches = [(coding, size) for path, coding, size in faults.bodies
               if path.endswith("/events/batch")]
    assert len(batches) >= 4 and {coding for coding, _ in batches} == {"gzip"}
    plain = sum(len(json.dumps(marked(run, n, targets=[{"id": f"doc_{n}", "type": "document"}])))
                for n in range(1000))
    sent = sum(size for _, size in batches)  # every batch once, and two of them again
    assert sent < plain / 5, (sent, plain)


def test_every_delivered_batch_hands_over_its_receipt_even_when_an_answer_is_lost(
        server, proxy, tmp_path) -> None:
    """Kept in a ReceiptFolder, then checked by the client and by the server's monitor."""
    url, faults = proxy
    key, run = server.workspace(), uuid.uuid4().hex[:8]
    faults.planned = ["lose", "500", "lose"]
    folder = ReceiptFolder(tmp_path / "receipts")
    with Auditrail(url, key).emitter(max_batch=40, flush_interval=0.05, min_backoff=0.05,
                                     on_receipt=folder) as emitter:
        for n in range(200):
            emitter.emit(marked(run, n))
    assert faults.planned == []
    client = Auditrail(server.url, key)
    vkey = client.log.key().verifier_key
    receipts = folder.receipts()
    promised = [event_id for note in receipts
                for event_id in client.events.verify_receipt(note, vkey, wait=15
                                                             ).receipt.event_ids]
    assert sorted(promised) == sorted(e.id for e in stored(client, run))
    assert len(promised) == 200
    said = server.cli("log", "monitor", "--url", server.url, "--key", key, "--state",
                      str(tmp_path / "monitor.json"), "--verifier-key", vkey,
                      "--receipts", str(tmp_path / "receipts"))
    assert f"{len(receipts)} receipt(s) honoured: their events are in it as accepted" in said


def test_a_429_is_retried_after_the_time_it_names(server, proxy) -> None:
    url, faults = proxy
    key, run = server.workspace(), uuid.uuid4().hex[:8]
    faults.planned = ["429"]
    with Auditrail(url, key).emitter(flush_interval=0) as emitter:
        emitter.emit(marked(run, 0))
        assert emitter.flush(timeout=10)
    batches = [(at, status) for at, path, status in faults.seen if path.endswith("/batch")]
    assert [status for _, status in batches] == [429, 202]
    assert batches[1][0] - batches[0][0] >= 0.95  # Retry-After: 1
    assert len(stored(Auditrail(server.url, key), run)) == 1


def test_close_sends_what_is_queued_without_waiting_for_the_interval(server) -> None:
    key, run = server.workspace(), uuid.uuid4().hex[:8]
    emitter = Auditrail(server.url, key).emitter(flush_interval=3600)
    for n in range(10):
        emitter.emit(marked(run, n))
    started = time.monotonic()
    emitter.close()
    assert time.monotonic() - started < 5
    assert len(stored(Auditrail(server.url, key), run)) == 10
    with pytest.raises(RuntimeError, match="closed"):
        emitter.emit(marked(run, 11))


def test_a_full_queue_drops_with_a_count_and_a_callback_when_asked(server, proxy) -> None:
    url, faults = proxy
    key, run = server.workspace(), uuid.uuid4().hex[:8]
    faults.planned = ["500"] * 1000  # the server is away for the whole test
    recorder = Recorder()
    emitter = Auditrail(url, key).emitter(max_batch=10, max_queue=10, overflow="drop",
                                          flush_interval=0, min_backoff=0.05,
                                          **recorder.callbacks())
    accepted = [emitter.emit(marked(run, n)) for n in range(50)]
    time.sleep(0.2)
    refused = accepted.count(False)
    assert refused > 0
    assert [r for _, r in recorder.dropped] == ["queue_full"] * refused
    emitter.close(timeout=0.5)
    reasons = [r for _, r in recorder.dropped]
    assert len(reasons) == 50 and set(reasons) == {"queue_full", "close_timeout"}
    assert emitter.stats().dropped == 50 and emitter.stats().delivered == 0


def test_a_full_queue_blocks_emit_until_there_is_room(server, proxy) -> None:
    url, faults = proxy
    key, run = server.workspace(), uuid.uuid4().hex[:8]
    faults.delay = 0.3  # a slow server: each batch takes 0.3 s
    emitter = Auditrail(url, key).emitter(max_batch=10, max_queue=10, flush_interval=0)
    waits = []
    for n in range(40):
        started = time.monotonic()
        assert emitter.emit(marked(run, n))
        waits.append(time.monotonic() - started)
    emitter.close()
    assert max(waits) >= 0.2 and sorted(waits)[len(waits) // 2] < 0.05
    assert len(stored(Auditrail(server.url, key), run)) == 40


def test_invalid_events_are_reported_and_the_rest_delivered(server) -> None:
    key, run = server.workspace(), uuid.uuid4().hex[:8]
    recorder = Recorder()
    with Auditrail(server.url, key).emitter(**recorder.callbacks()) as emitter:
        for n in range(6):
            emitter.emit(marked(run, n, action="not an action!") if n == 3
                         else marked(run, n))
    [(event, details)] = recorder.invalid
    assert event["metadata"]["n"] == 3
    assert details[0]["field"].startswith("events[3].action")
    assert sorted(n for n, _ in recorder.delivered) == [0, 1, 2, 4, 5]
    assert emitter.stats().invalid == 1
    with pytest.raises(TypeError):  # not JSON: refused to the caller at once
        Auditrail(server.url, key).emitter().emit({"action": "a", "when": object()})


def test_events_a_workspace_refuses_by_its_actions_or_schemas_are_handed_back(
        server) -> None:
    """What api.md tells an integrator to rely on when listing actions and schemas: a
    refused event reaches ``on_invalid`` with its reason, and the rest of its batch is
    stored."""
    key, run = server.workspace(), uuid.uuid4().hex[:8]
    Auditrail(server.url, key).workspace.update(
        accepted_actions=["test.*"],
        metadata_schemas={"test.*": {"required": ["n"], "properties": {
            "n": {"type": "integer"}}}})
    misspelt = {**marked(run, 1), "action": f"tset.{run}"}
    in_words = {**marked(run, 4), "metadata": {"n": "four"}}
    recorder = Recorder()
    with Auditrail(server.url, key).emitter(**recorder.callbacks()) as emitter:
        for event in (marked(run, 0), misspelt, marked(run, 2), marked(run, 3), in_words,
                      marked(run, 5)):
            emitter.emit(event)
    refused = {json.dumps(event["metadata"]): details[0] for event, details in recorder.invalid}
    assert refused['{"n": 1}']["field"] == "events[1].action"
    assert f"did you mean 'test.{run}'?" in refused['{"n": 1}']["message"]
    assert refused['{"n": "four"}'] == {"field": "events[4].metadata.n",
                                        "message": "'four' is not of type 'integer'"}
    assert sorted(n for n, _ in recorder.delivered) == [0, 2, 3, 5]
    assert [event.metadata["n"] for event in stored(Auditrail(server.url, key), run)] == [
        0, 2, 3, 5]


def test_a_revoked_key_hands_the_events_back(server) -> None:
    admin = server.workspace()
    client = Auditrail(server.url, admin)
    key = client.api_keys.create("soon revoked", ["events:write"])
    client.api_keys.revoke(key.id)
    recorder = Recorder()
    with Auditrail(server.url, key.secret).emitter(**recorder.callbacks()) as emitter:
        emitter.emit(marked("revoked", 1))
    [(_, reason)] = recorder.dropped
    assert reason.startswith("401 unauthenticated")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_fork_waits_for_a_client_another_thread_is_making(monkeypatch) -> None:
    """Making an HTTP client loads TLS certificates into OpenSSL; a child forked while
    another thread was inside that could inherit OpenSSL's locks held and hang making its
    own (seen: 2 children of 200, and once in CI as the test below)."""
    from auditrail_client import _transport
    making, made = threading.Event(), threading.Event()
    real = _transport.httpx.Client

    def slow_client(**kwargs: Any) -> Any:
        making.set()
        time.sleep(0.3)
        client = real(**kwargs)
        made.set()
        return client

    transport = _transport.Transport("http://127.0.0.1:9", "ak_test")
    monkeypatch.setattr(_transport.httpx, "Client", slow_client)
    sender = threading.Thread(target=lambda: transport.new_http_client().close())
    sender.start()
    assert making.wait(5)
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    forked_after_it_was_made = made.is_set()
    os.waitpid(pid, 0)
    sender.join()
    assert forked_after_it_was_made


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
@pytest.mark.parametrize("spooled", [False, True])
def test_a_forked_child_sends_its_own_events_and_not_its_parents(server, tmp_path,
                                                                 spooled) -> None:
    """With a spool, the child takes a slot of its own and leaves the parent's alone."""
    key, run = server.workspace(), uuid.uuid4().hex[:8]
    spool = tmp_path / "spool" if spooled else None
    emitter = Auditrail(server.url, key).emitter(flush_interval=3600, spool=spool)
    for n in range(5):
        emitter.emit(marked(run, n))  # queued in the parent, not sent yet
    report = tmp_path / "child.txt"
    pid = os.fork()
    if pid == 0:  # the child: a fresh, empty emitter
        try:
            for n in range(100, 103):
                emitter.emit(marked(run, n))
            emitter.close()
            report.write_text(repr(emitter.stats()))
            os._exit(0 if emitter.stats().delivered == 3 else 1)
        except BaseException as exc:
            report.write_text(repr(exc))
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0, report.read_text() if report.exists() else status
    emitter.close()
    numbers = sorted(e.metadata["n"] for e in stored(Auditrail(server.url, key), run))
    assert numbers == [0, 1, 2, 3, 4, 100, 101, 102]
    assert emitter.stats().recovered == 0
    if spool is not None:
        assert not list(spool.glob("*.sqlite3"))


_CRASHING = """
import sys, time
from auditrail_client import Auditrail, ReceiptFolder

url, key, run, spool = sys.argv[1:]
emitter = Auditrail(url, key).emitter(spool=spool, max_batch=20, flush_interval=0,
                                      min_backoff=0.05, max_backoff=0.2)
for n in range(50):
    emitter.emit({"action": f"test.{run}", "actor": {"id": "usr_1", "type": "user"},
                  "metadata": {"n": n}})
print("emitted", flush=True)
time.sleep(3600)  # killed here, its batches still failing
"""


def test_a_process_killed_outright_leaves_its_events_to_the_next_emitter(
        server, proxy, tmp_path) -> None:
    """The first batch reaches the server but its answer is lost, then every attempt
    fails; the process is SIGKILLed. The next emitter on the folder sends the batches
    under way under their keys (the server keeps the first one's answer) and the rest:
    every event stored once."""
    url, faults = proxy
    key, run = server.workspace(), uuid.uuid4().hex[:8]
    spool = tmp_path / "spool"
    faults.planned = ["lose"] + ["500"] * 10_000
    child = subprocess.Popen([sys.executable, "-c", _CRASHING, url, key, run, str(spool)],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline() == "emitted\n"
        deadline = time.monotonic() + 30
        while sum(status == -202 for _, _, status in faults.seen) < 1 or \
                sum(status == 500 for _, _, status in faults.seen) < 3:
            assert time.monotonic() < deadline, faults.seen
            time.sleep(0.05)
    finally:
        child.kill()
        child.wait()
    assert len(stored(Auditrail(server.url, key), run)) >= 1  # the lost answer's batch

    recorder = Recorder()
    with Auditrail(server.url, key).emitter(spool=spool, **recorder.callbacks()) as emitter:
        emitter.emit(marked(run, 50))
    stats = emitter.stats()
    assert (stats.recovered, stats.emitted, stats.delivered, stats.spooled) == (50, 1, 51, 0)
    assert not recorder.dropped and not recorder.invalid
    numbers = sorted(e.metadata["n"] for e in stored(Auditrail(server.url, key), run))
    assert numbers == list(range(51))
    assert not list(spool.glob("*.sqlite3"))  # delivered: an empty slot leaves no file


def test_what_close_cannot_send_stays_in_the_spool_for_the_next_emitter(
        server, proxy, tmp_path) -> None:
    url, faults = proxy
    key, run = server.workspace(), uuid.uuid4().hex[:8]
    spool = tmp_path / "spool"
    faults.planned = ["500"] * 10_000
    recorder = Recorder()
    down = Auditrail(url, key).emitter(spool=spool, flush_interval=0, min_backoff=0.05,
                                       max_backoff=0.1, **recorder.callbacks())
    for n in range(5):
        down.emit(marked(run, n))
    beside = Auditrail(server.url, key).emitter(spool=spool)  # another slot, its own events
    beside.emit(marked(run, 100))
    assert {oct(path.stat().st_mode & 0o777) for path in spool.glob("slot-*")} == {"0o600"}
    down.close(timeout=0.5)
    assert (down.stats().spooled, down.stats().dropped, recorder.dropped) == (5, 0, [])
    beside.close()
    assert sorted(e.metadata["n"] for e in stored(Auditrail(server.url, key), run)) == [100]

    with Auditrail(server.url, key).emitter(spool=spool, **recorder.callbacks()) as later:
        pass
    assert later.stats().recovered == 5 and later.stats().delivered == 5
    assert sorted(n for n, _ in recorder.delivered) == [0, 1, 2, 3, 4]
    numbers = sorted(e.metadata["n"] for e in stored(Auditrail(server.url, key), run))
    assert numbers == [0, 1, 2, 3, 4, 100]


_TWO_THEN_GONE = """
import os, sys
from auditrail_client import Auditrail, ReceiptFolder

url, key, run, spool = sys.argv[1:]
for first in (0, 100):  # two emitters, two slots, nothing sent yet
    emitter = Auditrail(url, key).emitter(spool=spool, flush_interval=3600)
    for n in range(first, first + 7):
        emitter.emit({"action": f"test.{run}", "actor": {"id": "usr_1", "type": "user"},
                      "metadata": {"n": n}})
os._exit(0)  # as a kill would: no flush, no close
"""


def test_one_emitter_takes_every_slot_dead_processes_left(server, tmp_path) -> None:
    """Two processes' worth of slots, and a restart with one: nothing waits for an emitter
    that never comes. The adopted events go out in batches within the emitter's limits."""
    key, run = server.workspace(), uuid.uuid4().hex[:8]
    spool = tmp_path / "spool"
    subprocess.run([sys.executable, "-c", _TWO_THEN_GONE, server.url, key, run, str(spool)],
                   check=True, timeout=60)
    assert len(list(spool.glob("*.sqlite3"))) == 2
    with Auditrail(server.url, key).emitter(spool=spool, max_batch=3) as emitter:
        assert len(list(spool.glob("*.sqlite3"))) == 1  # the other one moved into its own
    assert (emitter.stats().recovered, emitter.stats().delivered) == (14, 14)
    assert emitter.stats().batches >= 5  # 7 a slot, 3 a batch
    numbers = sorted(e.metadata["n"] for e in stored(Auditrail(server.url, key), run))
    assert numbers == [*range(7), *range(100, 107)]
    assert not list(spool.glob("*.sqlite3"))


def test_a_spool_that_must_survive_a_power_cut_syncs_each_commit(server, tmp_path) -> None:
    key, run = server.workspace(), uuid.uuid4().hex[:8]
    with pytest.raises(ValueError, match="spool_fsync needs a spool folder"):
        Auditrail(server.url, key).emitter(spool_fsync=True)
    plain = Auditrail(server.url, key).emitter(spool=tmp_path / "plain")
    synced = Auditrail(server.url, key).emitter(spool=tmp_path / "synced", spool_fsync=True)
    assert plain.spool is not None and not plain.spool.durable
    assert synced.spool is not None and synced.spool.durable
    for n in range(3):
        synced.emit(marked(run, n))
    plain.close()
    synced.close()
    assert sorted(e.metadata["n"] for e in stored(Auditrail(server.url, key), run)) == [0, 1, 2]

