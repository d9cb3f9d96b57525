"""The log as C2SP tlog-tiles on both stacks: every tile of a signed tree and every entry
bundle, checked here against the checkpoint's root by an RFC 9162 hash of our own (and by
Go's sumdb/tlog in the interop test); what no signed tree has, paths spelled otherwise,
retention and a tree cut behind the service's back."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from domain.signed_notes import parse_anchor, parse_checkpoint, parse_note
from domain.tile_paths import TilePath, split_bundle, within
from domain.timestamps import format_timestamp
from tests.integration.log_transport import Meanwhile, monitor_through
from tests.integration.stacks import Stack, bearer
from tests.integration.test_transparency_log import go_checker, ingest, log_key, signed

SIZE = 600  # two full leaf tiles and one of 88; a level-1 tile of 2


def tree_hash(leaves: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1, as plainly as it is written there."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    split = 1 << (len(leaves) - 1).bit_length() - 1
    return hashlib.sha256(b"\x01" + tree_hash(leaves[:split]) + tree_hash(leaves[split:])
                          ).digest()


def tiles_of(size: int) -> list[TilePath]:
    """Every tile of a tree of ``size``, as a client mirroring it fetches them: each level
    while it has a hash, its full tiles and the partial one at its edge."""
    paths, level = [], 0
    while count := size >> (8 * level):
        paths += [TilePath(level, index) for index in range(count // 256)]
        if count % 256:
            paths.append(TilePath(level, count // 256, count % 256))
        level += 1
    assert all(within(tile, size) for tile in paths)
    return paths


def hashes(data: bytes) -> list[bytes]:
    return [data[i:i + 32] for i in range(0, len(data), 32)]


def get(stack: Stack, key: str, path: str, **headers: str):  # type: ignore[no-untyped-def]
    return stack.client.get(f"/api/v1/log/tile/{path}", headers={**bearer(key), **headers})


@pytest.fixture
def stack(stack: Stack) -> Stack:
    stack.container.transparency_log().cadence = timedelta(0)  # a checkpoint at each sweep
    return stack


@pytest.fixture
def log(stack: Stack) -> tuple[str, str, list[str], str]:
    workspace_id, key = stack.new_workspace()
    ids = ingest(stack, key, SIZE)
    return workspace_id, key, ids, signed(stack, key, SIZE)


def test_every_tile_and_bundle_of_the_signed_tree_gives_its_root(
        stack: Stack, log: tuple[str, str, list[str], str]) -> None:
    _, key, ids, note = log
    checkpoint = parse_checkpoint(parse_note(note).text)
    assert checkpoint.tree_size == SIZE
    tiles = {}
    for tile in tiles_of(SIZE):
        answer = get(stack, key, str(tile))
        assert answer.status_code == 200, (str(tile), answer.json)
        assert answer.content_type == "application/octet-stream"
        assert answer.headers["Cache-Control"] == "no-store"  # as every API answer
        tiles[str(tile)] = hashes(answer.data)
    assert sorted(tiles) == ["0/000", "0/001", "0/002.p/88", "1/000.p/2"]
    leaves = tiles["0/000"] + tiles["0/001"] + tiles["0/002.p/88"]
    assert tree_hash(leaves) == checkpoint.root_hash
    assert tiles["1/000.p/2"] == [tree_hash(tiles["0/000"]), tree_hash(tiles["0/001"])]
    entries = []
    for bundle in ("000", "001", "002.p/88"):
        answer = get(stack, key, f"entries/{bundle}")
        assert answer.status_code == 200 and "Content-Encoding" not in answer.headers
        entries += split_bundle(answer.data)
    assert [hashlib.sha256(b"\x00" + entry).digest() for entry in entries] == leaves
    event = stack.client.get(f"/api/v1/events/{ids[300]}", headers=bearer(key)).json
    core = {k: v for k, v in event.items() if k not in ("status", "prev_hash", "hash")}
    assert json.loads(entries[300]) == core and core["sequence"] == 301
    proof = stack.client.get(f"/api/v1/events/{ids[300]}/proof", headers=bearer(key)).json
    assert base64.b64decode(proof["leaf_hash"]) == leaves[300]


def test_a_narrower_partial_tile_is_the_same_bytes_and_bundles_come_gzipped(
        stack: Stack, log: tuple[str, str, list[str], str]) -> None:
    _, key, _, _ = log
    wide = get(stack, key, "0/002.p/88").data
    assert get(stack, key, "0/002.p/10").data == wide[:320]  # a smaller signed tree's
    plain = get(stack, key, "entries/001").data
    zipped = get(stack, key, "entries/001", **{"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.data) == plain and len(zipped.data) < len(plain) / 4


NOT_FOUND = [
    "0/002", "0/002.p/89", "1/000", "2/000.p/1", "entries/002", "entries/002.p/89",
    "entries/003.p/1",  # past the signed tree
    "0/2", "0/0002", "0/x000/002", "00/000", "64/000", "-1/000", "0/000.p/0",
    "0/000.p/256", "0/000.p/07", "0/000.p/", "0/x001", "entries/x1/000", "0/abc"]


def test_what_no_signed_tree_has_and_other_spellings_are_not_found(
        stack: Stack, log: tuple[str, str, list[str], str]) -> None:
    _, key, _, _ = log
    for path in NOT_FOUND:
        answer = get(stack, key, path)
        assert answer.status_code == 404, (path, answer.status_code)
        assert answer.json["error"]["code"] == "not_found"


def test_a_workspace_reads_its_own_tree_only(
        stack: Stack, log: tuple[str, str, list[str], str]) -> None:
    _, other = stack.new_workspace("Other")
    assert get(stack, other, "0/000").status_code == 404  # its tree is empty
    assert get(stack, other, "entries/000").status_code == 404
    viewer = stack.client.post("/api/v1/viewer-links", headers=bearer(log[1]),
                               json={"expires_in_seconds": 600}).json
    token = viewer["url"].split("token=")[1].split("&")[0]
    refused = get(stack, token, "entries/000")  # a bundle would bypass the link's filters
    assert refused.status_code == 403 and refused.json["error"]["code"] == "insufficient_scope"


def test_retention_prunes_bundles_but_not_tiles(stack: Stack) -> None:
    _, key = stack.new_workspace("R", plan="starter")  # 90 days
    now = datetime.now(UTC)
    old = [{"action": "user.login", "actor": {"id": "u", "type": "user"},
            "occurred_at": format_timestamp(now - timedelta(days=200))}] * 300
    fresh = [{**old[0], "occurred_at": format_timestamp(now)}] * 300
    for events in (old, fresh):
        assert stack.client.post("/api/v1/events/batch", headers=bearer(key),
                                 json={"events": events}).status_code == 202
    stack.drain()
    signed(stack, key, 600)
    unset = stack.client.get("/api/v1/log/anchor", headers=bearer(key))
    assert unset.status_code == 404 and unset.json["error"]["code"] == "not_found"
    assert stack.container.apply_retention().execute() == 300
    anchor = stack.client.get("/api/v1/log/anchor", headers=bearer(key))
    assert anchor.content_type == "text/plain; charset=utf-8"
    assert parse_anchor(parse_note(anchor.data.decode()).text).sequence == 300
    gone = get(stack, key, "entries/000")
    assert gone.status_code == 404 and "retention" in gone.json["error"]["message"]
    assert get(stack, key, "entries/001").status_code == 404  # 301-512: 301 itself was kept
    assert len(split_bundle(get(stack, key, "entries/002.p/88").data)) == 88
    assert len(get(stack, key, "0/000").data) == 8192  # the tree keeps every leaf hash


def test_a_tree_cut_behind_the_services_back_is_said_so(
        stack: Stack, log: tuple[str, str, list[str], str]) -> None:
    workspace_id, key, _, _ = log
    stack.sql("UPDATE tree_tiles SET hashes = :cut WHERE workspace_id = :w AND level = 0 "
              "AND tile = 1", cut=b"\0" * 64, w=workspace_id)
    answer = get(stack, key, "0/001")
    assert (answer.status_code, answer.json["error"]["code"]) == (500, "log_diverged")
    assert "lacks hashes it signed (tile 0/001)" in answer.json["error"]["message"]
    stack.sql("DELETE FROM events WHERE workspace_id = :w AND sequence = 300", w=workspace_id)
    bundle = get(stack, key, "entries/001")
    assert (bundle.status_code, bundle.json["error"]["code"]) == (500, "log_diverged")
    assert "lack entries it signed (bundle 001)" in bundle.json["error"]["message"]


def test_go_reads_the_log_as_tiles_unchanged(stack: Stack, tmp_path: Path,
                                             log: tuple[str, str, list[str], str]) -> None:
    """golang.org/x/mod/sumdb/tlog's TileHashReader checks each tile against the signed
    tree; each entry hashes to its leaf; records are proved from the tiles alone."""
    _, key, _, note = log
    checker = go_checker(tmp_path, Path(__file__).parent / "interop" / "tiles" / "main.go")
    paths = [str(t) for t in tiles_of(SIZE)]
    paths += [f"entries/{tile.bundle_path}" for tile in tiles_of(SIZE) if tile.level == 0]
    document = {"verifier_key": log_key(stack, key)["verifier_key"], "checkpoint": note,
                "tiles": {path: base64.b64encode(get(stack, key, path).data).decode()
                          for path in paths}}
    run = subprocess.run([str(checker)], input=json.dumps(document), capture_output=True,
                         text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.count("ok ") == 1 + 1 + 1 + 3  # signature, root, records, bundles
    for path, at, failure in (("0/001", 40, "FAIL record 25"),  # a bit of leaf 257
                              ("1/000.p/2", 3, "FAIL tree hash from the tiles"),
                              ("entries/001", 9, "FAIL entry 0 of entries/001")):
        altered = dict(document["tiles"])
        data = bytearray(base64.b64decode(altered[path]))
        data[at] ^= 1
        altered[path] = base64.b64encode(data).decode()
        refused = subprocess.run([str(checker)], input=json.dumps({**document,
                                                                   "tiles": altered}),
                                 capture_output=True, text=True)
        assert refused.returncode == 1 and failure in refused.stdout, (path, refused.stdout)


def test_the_monitor_reads_new_entries_and_all_of_them_when_asked(
        stack: Stack, tmp_path: Path, log: tuple[str, str, list[str], str]) -> None:
    """``auditrail log monitor --entries``: each run reads the bundles added since the
    last, each held to the checked tree by one proof; ``--entries all`` reads every one,
    and finds an event changed after it was linked, long after it was first read."""
    import httpx

    from adapters.security.signing import Ed25519Verifier
    from entrypoints import log_monitor

    workspace_id, key, _, _ = log
    vkey, original, asked = log_key(stack, key)["verifier_key"], httpx.Client, []

    def client(**kwargs: Any) -> httpx.Client:
        return original(transport=httpx.WSGITransport(app=stack.app),
                        event_hooks={"request": [lambda r: asked.append(r.url.path)]},
                        **kwargs)

    def run(entries: str | None = "new") -> str:
        asked.clear()
        return log_monitor.run_monitor("http://log", key, tmp_path / "state.json", vkey,
                                       Ed25519Verifier().verify, entries=entries)

    def bundles() -> list[str]:
        return [path.split("/entries/")[1] for path in asked if "/entries/" in path]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(log_monitor.httpx, "Client", client)
        assert "entries 1-600 read, as it holds them" in run()
        assert bundles() == ["000", "001", "002.p/88"]
        assert "no new entries" in run() and bundles() == []
        ingest(stack, key, 100)
        signed(stack, key, 700)
        assert "entries 601-700 read" in run() and bundles() == ["002.p/188"]  # from 513
        stack.sql("UPDATE events SET action = 'user.logout' WHERE workspace_id = :w AND "
                  "sequence = 10", w=workspace_id)
        assert "no new entries" in run()  # read before: not read again
        with pytest.raises(log_monitor.MonitorFailed,
                           match="entry bundle 000 is not what its signed tree of size 700 "
                                 "holds there: events it holds were changed after"):
            run("all")
        assert "entries" not in run(None)  # not asked: not read
        ingest(stack, key, 100)
        signed(stack, key, 800)
        stack.sql("DELETE FROM events WHERE workspace_id = :w AND sequence = 750",
                  w=workspace_id)
        with pytest.raises(log_monitor.MonitorFailed,
                           match=r"says it no longer holds what it signed \(GET "
                                 r"/api/v1/log/tile/entries/002: The log's stored "
                                 r"events lack entries") as alarm:
            run()
        assert not isinstance(alarm.value, log_monitor.LogUnreachable)  # ALERT, not exit 2


def test_the_monitor_reads_past_what_retention_removed_but_not_past_its_anchor(
        stack: Stack, tmp_path: Path) -> None:
    """Bundles below the signed retention anchor may be gone; one above it not served is
    the log withholding events, an alarm (a server made to answer 404 for it)."""
    import httpx

    from adapters.security.signing import Ed25519Verifier
    from entrypoints import log_monitor

    # 90 days kept, without a small plan's rate limit: checking a receipt of 300 events
    # asks twice for each, and this test is not about waiting out the limit
    _, key = stack.new_workspace("R")
    assert stack.client.patch("/api/v1/workspace", headers=bearer(key),
                              json={"retention_days": 90}).status_code == 200
    now = datetime.now(UTC)
    old = [{"action": "user.login", "actor": {"id": "u", "type": "user"},
            "occurred_at": format_timestamp(now - timedelta(days=200))}] * 300
    receipts = []
    for events in (old, [{**old[0], "occurred_at": format_timestamp(now)}] * 300):
        answer = stack.client.post("/api/v1/events/batch", json={"events": events},
                                   headers={**bearer(key), "Prefer": "receipt"})
        assert answer.status_code == 202
        receipts.append(answer.json)
    stack.drain()
    signed(stack, key, 600)
    assert stack.container.apply_retention().execute() == 300
    vkey, original, withheld = log_key(stack, key)["verifier_key"], httpx.Client, []

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        if withheld and environ["PATH_INFO"].endswith(f"/tile/entries/{withheld[-1]}"):
            start_response("404 NOT FOUND", [("Content-Type", "application/json")])
            return [b'{"error": {"code": "not_found", "message": "pruned"}}']
        return stack.app(environ, start_response)

    def client(**kwargs: Any) -> httpx.Client:
        return original(transport=httpx.WSGITransport(app=app), **kwargs)

    def run(state: str, receipts: tuple[str, ...] = ()) -> str:
        return log_monitor.run_monitor("http://log", key, tmp_path / state, vkey,
                                       Ed25519Verifier().verify, entries="all",
                                       receipts=receipts)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(log_monitor.httpx, "Client", client)
        assert "(2 bundle(s) below the retention anchor at sequence 300, whose events " \
               "retention removed)" in run("honest.json")
        withheld.append("002.p/88")
        with pytest.raises(log_monitor.MonitorFailed,
                           match=r"serves no entry bundle 002.p/88, above the retention "
                                 r"anchor it signed \(sequence 300\): it withholds"):
            run("withheld.json")
        withheld.clear()
        stack.sql("DELETE FROM events WHERE id = :e", e=receipts[1]["ids"][-1])
        with pytest.raises(log_monitor.MonitorFailed,  # an event above it: a drop, or not?
                           match=r"holds no event .*: dropped before it was linked, or "
                                 r"removed by retention since \(which removed events up to "
                                 r"sequence 300\)"):
            run("receipts.json", (receipts[1]["receipt"],))


def test_the_monitor_holds_retention_to_the_days_agreed(stack: Stack, tmp_path: Path) -> None:
    """The operator's own key signs the retention anchor: an anchor past an event that
    occurred within the days the auditor agreed to (by the events the monitor read) is
    an alarm, from the CLI as from the function."""
    import httpx
    from click.testing import CliRunner

    from adapters.security.signing import Ed25519Verifier
    from entrypoints import log_monitor
    from entrypoints.cli import main

    _, key = stack.new_workspace("R", plan="starter")  # keeps 90 days
    now = datetime.now(UTC)
    old = [{"action": "user.login", "actor": {"id": "u", "type": "user"},
            "occurred_at": format_timestamp(now - timedelta(days=200))}] * 300
    for events in (old, [{**old[0], "occurred_at": format_timestamp(now)}] * 300):
        assert stack.client.post("/api/v1/events/batch", headers=bearer(key),
                                 json={"events": events}).status_code == 202
    stack.drain()
    signed(stack, key, 600)
    vkey, original, state = log_key(stack, key)["verifier_key"], httpx.Client, tmp_path / "s"

    def client(**kwargs: Any) -> httpx.Client:
        return original(transport=httpx.WSGITransport(app=stack.app), **kwargs)

    def run(days: int, at: Path = state) -> str:
        return log_monitor.run_monitor("http://log", key, at, vkey, Ed25519Verifier().verify,
                                       entries="new", retention_days=days)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(log_monitor.httpx, "Client", client)
        assert "retention held to 365 days (nothing removed, by what was read)" in run(365)
        assert stack.container.apply_retention().execute() == 300
        cli = CliRunner().invoke(main, ["log", "monitor", "--url", "http://log", "--key", key,
                                        "--state", str(state), "--entries",
                                        "--retention-days", "90"])
        assert cli.exit_code == 0, cli.output
        assert "retention held to 90 days (events up to sequence 300 removed, none younger " \
               "than 90 days, by what was read)" in cli.output
        said = format_timestamp((now - timedelta(days=200)).replace(
            minute=0, second=0, microsecond=0))
        with pytest.raises(log_monitor.MonitorFailed,
                           match=f"removed events up to sequence 300 as retention, among "
                                 f"them the event at sequence 1, which occurred at "
                                 f"{said[:19]}Z or later: within the 365 days they were to "
                                 f"be kept, so before their time"):
            run(365)
        late = CliRunner().invoke(main, ["log", "monitor", "--url", "http://log", "--key",
                                         key, "--state", str(state), "--entries",
                                         "--retention-days", "365"])
        assert late.exit_code == 1 and "ALERT: the log removed events" in late.output
        # a monitor that first reads after the removal has nothing to hold it to
        assert "retention held to 365 days" in run(365, tmp_path / "late.json")
    refused = CliRunner().invoke(main, ["log", "monitor", "--url", "http://log", "--key", key,
                                        "--state", str(state), "--retention-days", "90"])
    assert refused.exit_code == 2 and "needs --entries" in refused.output


def cli_monitor(key: str, vkey: str, tmp_path: Path, **options: Any) -> str:
    """A run of ``auditrail log monitor``'s function, the log reached as patched."""
    from adapters.security.signing import Ed25519Verifier
    from entrypoints import log_monitor
    return log_monitor.run_monitor("http://log", key, tmp_path / "state.json", vkey,
                                   Ed25519Verifier().verify, **options)


def client_monitor(key: str, vkey: str, tmp_path: Path, transport: Any) -> Any:
    """The Python client's ``Monitor``, reaching the log through ``transport``."""
    client = pytest.importorskip("auditrail_client")
    return client.Monitor(client.Auditrail("http://log", key, http_transport=transport),
                          vkey, tmp_path / "client-state.json")


@pytest.mark.parametrize("monitor", ["cli", "client"])
def test_retention_running_on_while_the_monitor_reads_raises_no_alarm(
        stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, monitor: str) -> None:
    """Old events linked and removed while a run reads put the signed anchor past the tree
    the run checked: that tree must be in the anchor's history, and no alarm is raised
    for it being older. The CLI's monitor and the Python client's alike."""
    _, key = stack.new_workspace("R", plan="starter")  # keeps 90 days
    hold = stack.client.patch("/api/v1/workspace", headers=bearer(key),
                              json={"legal_hold": True})
    assert hold.status_code == 200
    old = [{"action": "user.login", "actor": {"id": "u", "type": "user"},
            "occurred_at": format_timestamp(datetime.now(UTC) - timedelta(days=200))}]
    assert stack.client.post("/api/v1/events/batch", headers=bearer(key),
                             json={"events": old * 300}).status_code == 202
    stack.drain()
    signed(stack, key, 300)

    def retention_meanwhile() -> None:  # after the run was served the checkpoint of 300
        assert stack.client.post("/api/v1/events/batch", headers=bearer(key),
                                 json={"events": old * 100}).status_code == 202
        stack.drain()
        signed(stack, key, 400)
        assert stack.client.patch("/api/v1/workspace", headers=bearer(key),
                                  json={"legal_hold": False}).status_code == 200
        assert stack.container.apply_retention().execute() == 400

    meanwhile = Meanwhile(stack.app, "/api/v1/log/checkpoint", retention_meanwhile)
    vkey = log_key(stack, key)["verifier_key"]
    if monitor == "client":
        result = client_monitor(key, vkey, tmp_path, meanwhile).check(entries="all",
                                                                     retention_days=90)
        assert meanwhile.happened and result.tree_size == 300
        assert (result.entries_pruned, result.retention_anchor) == (2, 400)
        return
    monitor_through(monkeypatch, meanwhile)
    said = cli_monitor(key, vkey, tmp_path, entries="all", retention_days=90)
    assert meanwhile.happened and "at size 300" in said
    assert "(2 bundle(s) below the retention anchor at sequence 400" in said
    assert "retention held to 90 days (events up to sequence 400 removed" in said


@pytest.mark.parametrize("monitor", ["cli", "client"])
def test_retention_moving_on_during_a_read_is_no_withholding(
        stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, monitor: str) -> None:
    """A bundle not served above the anchor the run fetched first is asked about again:
    retention may have moved on while the run read (a million events take a minute)."""
    _, key = stack.new_workspace()

    def patch(days: int) -> None:
        assert stack.client.patch("/api/v1/workspace", headers=bearer(key),
                                  json={"retention_days": days}).status_code == 200

    patch(150)
    now = datetime.now(UTC)
    for age, count in ((200, 300), (100, 300), (0, 100)):
        event = {"action": "user.login", "actor": {"id": "u", "type": "user"},
                 "occurred_at": format_timestamp(now - timedelta(days=age))}
        assert stack.client.post("/api/v1/events/batch", headers=bearer(key),
                                 json={"events": [event] * count}).status_code == 202
    stack.drain()
    signed(stack, key, 700)
    assert stack.container.apply_retention().execute() == 300  # 150 days: the first 300

    def retention_moves_on() -> None:  # once the run knows of the anchor at 300
        patch(90)
        assert stack.container.apply_retention().execute() == 300  # up to 600

    meanwhile = Meanwhile(stack.app, "/api/v1/log/anchor", retention_moves_on)
    vkey = log_key(stack, key)["verifier_key"]
    if monitor == "client":
        result = client_monitor(key, vkey, tmp_path, meanwhile).check(entries="all")
        assert meanwhile.happened and result.entries_pruned == 3
        return
    monitor_through(monkeypatch, meanwhile)
    said = cli_monitor(key, vkey, tmp_path, entries="all")
    assert meanwhile.happened
    assert "(3 bundle(s) below the retention anchor at sequence 600" in said
