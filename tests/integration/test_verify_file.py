"""``auditrail verify FILE`` on NDJSON written from a real processed chain."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from domain.hash_chain import document_core, event_hash
from entrypoints.cli import main
from tests.integration.stacks import Stack, bearer

EVENT = {"action": "user.login", "actor": {"id": "u1", "type": "user"},
         "metadata": {"n": 1.5, "s": "ünïcödé"}}


def export(stack: Stack, path: Path) -> list[dict]:
    _, secret = stack.new_workspace()
    ids = stack.client.post("/api/v1/events/batch", json={"events": [EVENT] * 5},
                            headers=bearer(secret)).json["ids"]
    stack.drain()
    documents = [stack.client.get(f"/api/v1/events/{i}", headers=bearer(secret)).json
                 for i in ids]
    documents.sort(key=lambda d: d["sequence"])
    path.write_text("".join(json.dumps(d) + "\n" for d in documents))
    return documents


def test_valid_export_exits_0(stack: Stack, tmp_path: Path) -> None:
    export(stack, tmp_path / "chain.ndjson")
    result = CliRunner().invoke(main, ["verify", str(tmp_path / "chain.ndjson")])
    assert result.exit_code == 0, result.output
    assert "valid (whole chain): 5 events" in result.output


def test_tampered_export_exits_1_with_the_reason(stack: Stack, tmp_path: Path) -> None:
    documents = export(stack, tmp_path / "chain.ndjson")
    documents[1]["metadata"]["n"] = 2.5
    (tmp_path / "bad.ndjson").write_text("".join(json.dumps(d) + "\n" for d in documents))
    result = CliRunner().invoke(main, ["verify", str(tmp_path / "bad.ndjson")])
    assert result.exit_code == 1
    assert "hash_mismatch at sequence 2" in result.output


def test_a_folder_of_archive_objects_is_read_in_name_order(stack: Stack,
                                                         tmp_path: Path) -> None:
    """An S3 stream's objects as downloaded, gzipped or not; other files and the test
    objects' folder are not the archive's; an object that does not read is named."""
    documents = export(stack, tmp_path / "chain.ndjson")
    bucket = tmp_path / "bucket"
    (bucket / "test").mkdir(parents=True)
    (bucket / "000000000001.ndjson.gz").write_bytes(gzip.compress(
        "".join(json.dumps(d) + "\n" for d in documents[:2]).encode()))
    (bucket / "000000000002.ndjson").write_text("".join(json.dumps(d) + "\n"
                                                        for d in documents[2:]))
    (bucket / "test" / "dlv_1.ndjson").write_text('{"sequence": 0}\n')
    (bucket / "README").write_text("kept by the operator")
    result = CliRunner().invoke(main, ["verify", str(bucket)])
    assert result.exit_code == 0 and "valid (whole chain): 5 events" in result.output, \
        result.output
    (bucket / "000000000002.ndjson").rename(bucket / "000000000000.ndjson")  # out of order
    reordered = CliRunner().invoke(main, ["verify", str(bucket)])
    assert reordered.exit_code == 1 and "sequence_gap" in reordered.output, reordered.output
    (bucket / "000000000000.ndjson").rename(bucket / "000000000002.ndjson")
    (bucket / "000000000003.ndjson.gz").write_bytes(b"\x1f\x8b cut short")
    unread = CliRunner().invoke(main, ["verify", str(bucket)])
    assert unread.exit_code == 1 and "000000000003.ndjson.gz: the gzip data is cut short" \
        in unread.output, unread.output
    empty = CliRunner().invoke(main, ["verify", str(bucket / "test")])
    assert empty.exit_code == 1 and "holds no archive objects" in empty.output
    (tmp_path / "evidence.json").write_text("{}")
    misused = CliRunner().invoke(main, ["verify", str(bucket), "--evidence",
                                        str(tmp_path / "evidence.json"), "--verifier-key", "k"])
    assert misused.exit_code == 2 and "not a folder" in misused.output


@pytest.mark.parametrize("status", ["pending", None, "absent"])
@pytest.mark.parametrize("partial", [False, True])
def test_an_event_whose_status_is_not_processed_is_reported(stack: Stack, tmp_path: Path,
                                                            status: str | None,
                                                            partial: bool) -> None:
    """``status`` is not hashed, yet only a linked event has a place in a chain: a row that
    says otherwise is no row of an export."""
    documents = export(stack, tmp_path / "chain.ndjson")
    if status == "absent":
        del documents[1]["status"]
    else:
        documents[1]["status"] = status
    (tmp_path / "odd.ndjson").write_text("".join(json.dumps(d) + "\n" for d in documents))
    result = CliRunner().invoke(main, ["verify", str(tmp_path / "odd.ndjson"),
                                       *(["--partial"] if partial else [])])
    assert result.exit_code == 1
    assert (f"hash_mismatch at sequence 2 (event {documents[1]['id']}): its hash matches, "
            "but its status is not processed") in result.output


def test_garbage_file_exits_1(tmp_path: Path) -> None:
    (tmp_path / "junk.ndjson").write_text('{"sequence": 1}\nnot json\n')
    result = CliRunner().invoke(main, ["verify", str(tmp_path / "junk.ndjson")])
    assert result.exit_code == 1


@pytest.mark.parametrize("line", ['{"n": ' + "9" * 5000 + "}", "[" * 100_000 + "]" * 100_000])
def test_a_line_python_cannot_read_is_reported_not_raised(tmp_path: Path, line: str) -> None:
    """More digits than Python reads, or nesting beyond its recursion limit: exit 1 and the
    line number, not a traceback."""
    (tmp_path / "odd.ndjson").write_text(line + "\n")
    result = CliRunner().invoke(main, ["verify", str(tmp_path / "odd.ndjson")])
    assert isinstance(result.exception, SystemExit)  # not an error escaping the command
    assert result.exit_code == 1 and "line 1 is not valid JSON" in result.output


def test_an_empty_file_says_so(tmp_path: Path) -> None:
    (tmp_path / "empty.ndjson").write_text("\n")
    result = CliRunner().invoke(main, ["verify", str(tmp_path / "empty.ndjson")])
    assert result.exit_code == 0 and "the file holds no events" in result.output
    assert "None" not in result.output  # it printed "sequences None-None, head hash None"


def test_an_event_without_a_sequence_is_located_in_the_file(tmp_path: Path) -> None:
    (tmp_path / "odd.ndjson").write_text('{"sequence": "1"}\n')
    result = CliRunner().invoke(main, ["verify", str(tmp_path / "odd.ndjson")])
    assert result.exit_code == 1 and "None" not in result.output
    assert "at the file's event 1, which has no whole-number sequence" in result.output


def rewritten(documents: list[dict]) -> list[dict]:
    """The chain as someone with the database would forge it: event 2 changed and every
    hash from there recomputed, so the chain itself verifies."""
    forged = [dict(d) for d in documents]
    forged[1]["metadata"] = {"n": 1.5, "s": "rewritten"}
    for index in range(1, len(forged)):
        forged[index]["prev_hash"] = forged[index - 1]["hash"]
        forged[index]["hash"] = event_hash(forged[index]["prev_hash"],
                                           document_core(forged[index]))
    return forged


def test_a_recorded_checkpoint_exposes_a_rewritten_chain(stack: Stack, tmp_path: Path) -> None:
    documents = export(stack, tmp_path / "chain.ndjson")
    checkpoint = f"3:{documents[2]['hash']}"
    honest = CliRunner().invoke(main, ["verify", "--checkpoint", checkpoint,
                                       str(tmp_path / "chain.ndjson")])
    assert honest.exit_code == 0 and "checkpoints matched: 3" in honest.output

    (tmp_path / "forged.ndjson").write_text(
        "".join(json.dumps(d) + "\n" for d in rewritten(documents)))
    alone = CliRunner().invoke(main, ["verify", str(tmp_path / "forged.ndjson")])
    assert alone.exit_code == 0  # nothing in the file itself can tell
    caught = CliRunner().invoke(main, ["verify", "--checkpoint", checkpoint,
                                       str(tmp_path / "forged.ndjson")])
    assert caught.exit_code == 1
    assert f"the event at sequence 3 has hash {rewritten(documents)[2]['hash']}, not the " \
           f"checkpoint's {documents[2]['hash']}: the chain up to it was rewritten" \
           in caught.output


def test_a_checkpoint_the_file_does_not_reach_is_invalid(stack: Stack, tmp_path: Path) -> None:
    documents = export(stack, tmp_path / "chain.ndjson")
    result = CliRunner().invoke(main, ["verify", "--checkpoint", f"9:{documents[0]['hash']}",
                                       str(tmp_path / "chain.ndjson")])
    assert result.exit_code == 1
    assert "the file holds no event at the checkpoint's sequence 9" in result.output
    (tmp_path / "empty.ndjson").write_text("\n")
    empty = CliRunner().invoke(main, ["verify", "--checkpoint", f"1:{documents[0]['hash']}",
                                      str(tmp_path / "empty.ndjson")])
    assert empty.exit_code == 1 and "no event at the checkpoint's sequence 1" in empty.output


@pytest.mark.parametrize("value", ["3", "0:" + "a" * 64, "3:" + "a" * 63, "x:" + "a" * 64,
                                   "3:" + "g" * 64])
def test_a_malformed_checkpoint_is_a_usage_error(tmp_path: Path, value: str) -> None:
    (tmp_path / "empty.ndjson").write_text("\n")
    result = CliRunner().invoke(main, ["verify", "--checkpoint", value,
                                       str(tmp_path / "empty.ndjson")])
    assert result.exit_code == 2 and "is not SEQUENCE:HASH" in result.output
