"""Rotating AUDITRAIL_SECRET_KEY: the old key, listed in AUDITRAIL_PREVIOUS_SECRET_KEYS,
still opens download links and sealed credentials; ``auditrail secret-key reseal`` moves
every credential to the new key, after which the old one can go."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from click.testing import CliRunner
from sqlalchemy import text

from entrypoints.cli import main
from tests.integration.stacks import Stack, bearer, embedded_stack

OLD, NEW, STRANGER = "old-secret-key-0123456789", "new-secret-key-0123456789", "x" * 20


def sealed(stack: Stack) -> dict[str, bytes]:
    with stack.container.engine().connect() as connection:
        rows = connection.execute(text("SELECT id, credential FROM streams UNION ALL "
                                       "SELECT id, credential FROM alert_rules")).all()
    return {row.id: bytes(row.credential) for row in rows}


def test_a_secret_key_is_rotated_without_losing_a_link_or_a_credential(
        tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "var"
    before = embedded_stack(data, secret_key=OLD)
    _, admin = before.new_workspace()
    stream = before.client.post("/api/v1/streams", headers=bearer(admin), json={
        "name": "SIEM", "type": "splunk_hec", "config": {
            "url": "https://splunk.example.com/services/collector/event",
            "token": "token-0123456789abcdef"}})
    rule = before.client.post("/api/v1/alert-rules", headers=bearer(admin), json={
        "name": "r", "match": {"actions": ["user.login"]},
        "notify": {"webhook_url": "https://hooks.example.com/a"}})
    assert stream.status_code == rule.status_code == 201
    before.client.post("/api/v1/events", headers=bearer(admin), json={
        "action": "user.login", "actor": {"id": "u", "type": "user"}})
    before.drain()
    export = before.client.post("/api/v1/exports", headers=bearer(admin),
                                json={"format": "csv"}).json
    before.drain()
    link = urlsplit(before.client.get(f"/api/v1/exports/{export['id']}/download",
                                      headers=bearer(admin)).headers["Location"])
    old_seals = sealed(before)
    before.close()

    during = embedded_stack(data, secret_key=NEW, previous_secret_keys=(OLD,))
    assert during.client.get(f"{link.path}?{link.query}").status_code == 200
    vault = during.container.vault()
    assert vault.open(old_seals[stream.json["id"]]) == "token-0123456789abcdef"
    during.close()
    unrotated = embedded_stack(data, secret_key=NEW)
    assert unrotated.client.get(f"{link.path}?{link.query}").status_code == 403
    unrotated.close()

    monkeypatch.setenv("AUDITRAIL_DATA_DIR", str(data))
    monkeypatch.setenv("AUDITRAIL_SECRET_KEY", NEW)
    monkeypatch.setenv("AUDITRAIL_PREVIOUS_SECRET_KEYS", f"{STRANGER} {OLD}")
    result = CliRunner().invoke(main, ["secret-key", "reseal"])
    assert result.exit_code == 0, result.output
    assert "resealed 2 credential(s)" in result.output

    after = embedded_stack(data, secret_key=NEW)
    new_seals = sealed(after)
    assert set(new_seals) == set(old_seals) and all(
        new_seals[key] != old_seals[key] for key in old_seals)
    assert after.container.vault().open(new_seals[stream.json["id"]]) == "token-0123456789abcdef"
    after.close()

    monkeypatch.setenv("AUDITRAIL_SECRET_KEY", STRANGER)  # a key that opens none of them
    monkeypatch.delenv("AUDITRAIL_PREVIOUS_SECRET_KEYS")
    refused = CliRunner().invoke(main, ["secret-key", "reseal"])
    assert refused.exit_code == 1 and refused.output.count("unreadable: ") == 2
    assert embedded_stack(data, secret_key=NEW).container.vault().open(
        sealed(after)[stream.json["id"]]) == "token-0123456789abcdef"  # left as they were
