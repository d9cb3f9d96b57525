"""Exports over HTTP on both stacks, with a real worker: lifecycle, links, expiry."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner

from domain.export_rows import CSV_COLUMNS
from entrypoints.cli import main
from tests.fakes import FakeClock
from tests.integration.stacks import Stack, bearer

EVENT = {"action": "user.login", "actor": {"id": "usr_1", "type": "user"},
         "metadata": {"note": "=HYPERLINK(\"http://evil\")"}}


def seeded(stack: Stack, count: int = 12) -> str:
    _, secret = stack.new_workspace()
    bodies = [{**EVENT, "action": "user.login" if n % 3 else "admin.user.delete"}
              for n in range(count)]
    assert stack.client.post("/api/v1/events/batch", headers=bearer(secret),
                             json={"events": bodies}).status_code == 202
    stack.drain()
    return secret


def create(stack: Stack, secret: str, **body) -> dict:  # type: ignore[no-untyped-def]
    response = stack.client.post("/api/v1/exports", headers=bearer(secret), json=body)
    assert response.status_code == 202, response.json
    return response.json


def fetch(stack: Stack, secret: str, export_id: str) -> tuple[bytes, str]:
    redirect = stack.client.get(f"/api/v1/exports/{export_id}/download", headers=bearer(secret))
    assert redirect.status_code == 302, redirect.json
    location = redirect.headers["Location"]
    parts = urlsplit(location)
    response = stack.client.get(f"{parts.path}?{parts.query}")
    assert response.status_code == 200, response.json
    return response.data, location


def test_ndjson_lifecycle_and_offline_verification(stack: Stack, tmp_path: Path) -> None:
    secret = seeded(stack)
    export = create(stack, secret, format="ndjson")
    assert export["status"] == "queued" and export["row_count"] is None
    not_ready = stack.client.get(f"/api/v1/exports/{export['id']}/download",
                                 headers=bearer(secret))
    assert not_ready.status_code == 409 and not_ready.json["error"]["code"] == "export_not_ready"
    stack.drain()
    done = stack.client.get(f"/api/v1/exports/{export['id']}", headers=bearer(secret)).json
    assert done["status"] == "completed" and done["row_count"] == 12
    data, _ = fetch(stack, secret, export["id"])
    assert len(data) == done["size_bytes"] and hashlib.sha256(data).hexdigest() == done["sha256"]
    (tmp_path / "export.ndjson").write_bytes(data)
    result = CliRunner().invoke(main, ["verify", str(tmp_path / "export.ndjson")])
    assert result.exit_code == 0, result.output
    listed = stack.client.get("/api/v1/exports", headers=bearer(secret)).json
    assert listed["total_count"] == 1 and listed["data"][0]["id"] == export["id"]


def test_no_cache_keeps_an_export_or_its_link(stack: Stack) -> None:
    """The file is audit data and the redirect a bearer link: ``no-store`` for both, over
    the revalidating ``no-cache`` a file answer has by default."""
    secret = seeded(stack)
    export = create(stack, secret, format="csv")
    stack.drain()
    redirect = stack.client.get(f"/api/v1/exports/{export['id']}/download",
                                headers=bearer(secret))
    parts = urlsplit(redirect.headers["Location"])
    file = stack.client.get(f"{parts.path}?{parts.query}")
    for response in (redirect, file):
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_filtered_csv_gzip_export(stack: Stack, tmp_path: Path) -> None:
    secret = seeded(stack)
    export = create(stack, secret, format="csv", gzip=True, filters={"action": "user.*"})
    stack.drain()
    data, _ = fetch(stack, secret, export["id"])
    rows = list(csv.reader(io.StringIO(gzip.decompress(data).decode())))
    assert rows[0][:3] == ["id", "sequence", "occurred_at"] and len(rows) == 1 + 8
    note = rows[1][rows[0].index("metadata")]
    assert json.loads(note)["note"].startswith("=HYPERLINK")  # inside JSON: not a formula
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)


def test_an_export_matching_nothing_is_an_empty_file(stack: Stack) -> None:
    secret = seeded(stack, 3)
    export = create(stack, secret, format="csv", filters={"action": "billing.*"})
    stack.drain()
    done = stack.client.get(f"/api/v1/exports/{export['id']}", headers=bearer(secret)).json
    assert (done["status"], done["row_count"]) == ("completed", 0)
    data, _ = fetch(stack, secret, export["id"])
    assert list(csv.reader(io.StringIO(data.decode()))) == [list(CSV_COLUMNS)]
    evidence = stack.client.get(f"/api/v1/exports/{export['id']}/evidence",
                                headers=bearer(secret))
    assert evidence.status_code == 409 and "holds no event" in evidence.json["error"]["message"]


def test_gzip_ndjson_export_verifies_as_downloaded(stack: Stack, tmp_path: Path) -> None:
    """The auditor runs ``auditrail verify`` on the file as served; a download cut short is
    invalid, never "valid" for the events that made it."""
    secret = seeded(stack)
    export = create(stack, secret, format="ndjson", gzip=True)
    stack.drain()
    data, _ = fetch(stack, secret, export["id"])
    (tmp_path / "export.ndjson.gz").write_bytes(data)
    result = CliRunner().invoke(main, ["verify", str(tmp_path / "export.ndjson.gz")])
    assert result.exit_code == 0, result.output
    assert "valid (whole chain): 12 events" in result.output
    (tmp_path / "cut.ndjson.gz").write_bytes(data[: len(data) * 2 // 3])
    cut = CliRunner().invoke(main, ["verify", str(tmp_path / "cut.ndjson.gz")])
    assert cut.exit_code == 1 and "gzip data is cut short or corrupt" in cut.output
    piped = CliRunner().invoke(main, ["verify", "-"], input=gzip.decompress(data))
    assert piped.exit_code == 0 and "12 events" in piped.output, piped.output


def test_a_csv_export_given_to_verify_is_named(stack: Stack, tmp_path: Path) -> None:
    secret = seeded(stack)
    export = create(stack, secret, format="csv")
    stack.drain()
    data, _ = fetch(stack, secret, export["id"])
    (tmp_path / "export.csv").write_bytes(data)
    result = CliRunner().invoke(main, ["verify", str(tmp_path / "export.csv")])
    assert result.exit_code == 1
    assert "a CSV export cannot be verified, export NDJSON" in result.output


def test_filtered_ndjson_verifies_as_partial(stack: Stack, tmp_path: Path) -> None:
    secret = seeded(stack)
    export = create(stack, secret, format="ndjson", filters={"action": "admin.*"})
    stack.drain()
    data, _ = fetch(stack, secret, export["id"])
    (tmp_path / "partial.ndjson").write_bytes(data)
    whole = CliRunner().invoke(main, ["verify", str(tmp_path / "partial.ndjson")])
    assert whole.exit_code == 1 and "--partial" in whole.output
    partial = CliRunner().invoke(main, ["verify", "--partial",
                                        str(tmp_path / "partial.ndjson")])
    assert partial.exit_code == 0, partial.output
    assert "partial" in partial.output and "4 events" in partial.output


def test_status_filter_of_an_export(stack: Stack) -> None:
    """Files hold processed events only: "processed" is accepted, "pending" refused with the
    reason (it used to give an empty file)."""
    secret = seeded(stack, 3)
    export = create(stack, secret, format="ndjson", filters={"status": "processed"})
    stack.drain()
    done = stack.client.get(f"/api/v1/exports/{export['id']}", headers=bearer(secret)).json
    assert (done["status"], done["row_count"]) == ("completed", 3)
    refused = stack.client.post("/api/v1/exports", headers=bearer(secret),
                                json={"format": "csv", "filters": {"status": "pending"}})
    assert refused.json["error"]["details"] == [{
        "field": "filters.status",
        "message": "Exports hold processed events only: leave status out, or use "
                   "GET /events?status=pending for the events still pending."}]


def test_signature_tampering_and_missing_signature(stack: Stack) -> None:
    secret = seeded(stack, 3)
    export = create(stack, secret, format="ndjson")
    stack.drain()
    _, location = fetch(stack, secret, export["id"])
    parts = urlsplit(location)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    bad_links = [
        f"expires={int(query['expires']) + 60}&signature={query['signature']}",
        f"expires={query['expires']}&signature={'0' * 64}",
        f"expires={query['expires']}", "", "expires=abc&signature=x",
        # not ASCII (found by schemathesis: 500s from compare_digest and int)
        f"expires={query['expires']}&signature=%C3%A9", "expires=%C2%B2&signature=x",
    ]
    for bad in bad_links:
        response = stack.client.get(f"{parts.path}?{bad}")
        assert response.status_code == 403, bad
        assert response.json["error"]["code"] == "invalid_signature"
    other = create(stack, secret, format="csv")
    stack.drain()
    swapped = stack.client.get(f"/api/v1/exports/{other['id']}/file?{parts.query}")
    assert swapped.status_code == 403


def test_link_and_file_expiry_follow_the_injected_clock(stack: Stack) -> None:
    clock = FakeClock(datetime.now(UTC))
    with stack.container.clock.override(clock):
        secret = seeded(stack, 3)
        export = create(stack, secret, format="ndjson")
        stack.drain()
        _, location = fetch(stack, secret, export["id"])
        parts = urlsplit(location)
        clock.advance(seconds=301)
        expired_link = stack.client.get(f"{parts.path}?{parts.query}")
        assert expired_link.status_code == 410
        assert expired_link.json["error"]["code"] == "link_expired"
        clock.advance(days=1)
        gone = stack.client.get(f"/api/v1/exports/{export['id']}/download",
                                headers=bearer(secret))
        assert gone.status_code == 410 and gone.json["error"]["code"] == "export_expired"
        stack.container.export_upkeep().execute()
        assert stack.client.get(f"/api/v1/exports/{export['id']}", headers=bearer(secret)) \
            .json["status"] == "expired"
        assert not list(stack.settings.exports_dir.rglob(f"{export['id']}*"))


def test_failed_export_says_why_and_leaves_no_file(stack: Stack,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    secret = seeded(stack, 3)
    from application.use_cases import run_export

    def disk_full(self, data):  # type: ignore[no-untyped-def]
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(run_export._MeasuredSink, "write", disk_full)
    export = create(stack, secret, format="ndjson")
    stack.drain()
    failed = stack.client.get(f"/api/v1/exports/{export['id']}", headers=bearer(secret)).json
    assert failed["status"] == "failed" and "No space left on device" in failed["error"]
    response = stack.client.get(f"/api/v1/exports/{export['id']}/download",
                                headers=bearer(secret))
    assert response.status_code == 409 and response.json["error"]["code"] == "export_failed"
    assert [p for p in stack.settings.exports_dir.rglob("*") if p.is_file()] == []


def test_a_file_gone_from_the_blob_store_is_404_and_logged(
        stack: Stack, caplog: pytest.LogCaptureFixture) -> None:
    secret = seeded(stack, 2)
    export = create(stack, secret, format="ndjson")
    stack.drain()
    for path in stack.settings.exports_dir.rglob(f"{export['id']}*"):
        path.unlink()  # an operator's clean-up, or a lost volume
    link = urlsplit(stack.client.get(f"/api/v1/exports/{export['id']}/download",
                                     headers=bearer(secret)).headers["Location"])
    response = stack.client.get(f"{link.path}?{link.query}")
    assert (response.status_code, response.json["error"]["code"]) == (404, "not_found")
    warnings = [r for r in caplog.records if r.getMessage().startswith("export file missing")]
    assert [r.export_id for r in warnings] == [export["id"]]  # type: ignore[attr-defined]


def test_other_workspaces_exports_are_not_found(stack: Stack) -> None:
    secret_a = seeded(stack, 2)
    _, secret_b = stack.new_workspace("B")
    export = create(stack, secret_a, format="ndjson")
    for path in ("", "/download"):
        response = stack.client.get(f"/api/v1/exports/{export['id']}{path}",
                                    headers=bearer(secret_b))
        assert response.status_code == 404
    assert stack.client.get("/api/v1/exports", headers=bearer(secret_b)).json["data"] == []


@pytest.mark.parametrize(("body", "field"), [
    ({"format": "xml"}, "format"), ({}, "format"),
    ({"format": "csv", "filters": {"colour": "red"}}, "filters.colour"),
    ({"format": "csv", "filters": {"since": "yesterday"}}, "filters.since"),
    ({"format": "csv", "filters": {"since": "2026-11-02T00:00:00Z",
                                  "until": "2026-11-01T00:00:00Z"}},
     "filters.until"),  # an empty file would read as "nothing happened then"
    ({"format": "csv", "gzip": "yes please"}, "gzip"), ({"format": "csv", "gzip": "yes"}, "gzip"),
    ({"format": "csv", "gzip": "false"}, "gzip"), ({"format": "csv", "gzip": 1}, "gzip"),
    ({"format": "ndjson", "filters": {"status": "pending"}}, "filters.status"),
    ({"format": "csv", "filters": {"target_id": "doc\u0000"}}, "filters.target_id"),
])
def test_create_export_validation(stack: Stack, body: dict, field: str) -> None:
    _, secret = stack.new_workspace()
    response = stack.client.post("/api/v1/exports", headers=bearer(secret), json=body)
    assert response.status_code == 422
    assert field in [d["field"] for d in response.json["error"]["details"]]


def test_public_url_setting_shapes_the_location(stack_factory) -> None:  # type: ignore[no-untyped-def]
    stack = stack_factory("embedded", public_url="https://audit.example.com/")
    secret = seeded(stack, 1)
    export = create(stack, secret, format="ndjson")
    stack.drain()
    redirect = stack.client.get(f"/api/v1/exports/{export['id']}/download",
                                headers=bearer(secret))
    assert redirect.headers["Location"].startswith(
        f"https://audit.example.com/api/v1/exports/{export['id']}/file?expires=")


def test_embedded_secret_key_is_generated_once_with_0600(stack_factory) -> None:  # type: ignore[no-untyped-def]
    stack = stack_factory("embedded")
    first = stack.container.secret_key()
    path = stack.settings.secret_key_file
    assert path.stat().st_mode & 0o777 == 0o600
    from adapters.security.secret_key import load_or_create_secret
    assert load_or_create_secret(path) == first and len(first) >= 32


def test_production_refuses_to_sign_without_a_secret(postgres_url: str, redis_url: str) -> None:
    from entrypoints.settings import Settings, SettingsError
    with pytest.raises(SettingsError, match="AUDITRAIL_SECRET_KEY"):
        Settings(database_url=postgres_url, redis_url=redis_url).check_production_secrets()


def test_at_most_five_exports_in_flight_per_workspace(stack: Stack) -> None:
    """One tenant must not keep every worker busy with its exports."""
    _, secret = stack.new_workspace()
    for _ in range(5):
        create(stack, secret, format="csv")  # no worker runs yet: they stay queued
    refused = stack.client.post("/api/v1/exports", headers=bearer(secret),
                                json={"format": "csv"})
    assert refused.status_code == 409 and refused.json["error"]["code"] == "conflict"
    assert "already queued or running" in refused.json["error"]["message"]
    listed = stack.client.get("/api/v1/exports", headers=bearer(secret)).json["data"]
    assert len(listed) == 5
    _, other = stack.new_workspace("B")
    create(stack, other, format="ndjson")  # another workspace has its own allowance
    stack.drain()
    create(stack, secret, format="csv")  # finished exports leave room
