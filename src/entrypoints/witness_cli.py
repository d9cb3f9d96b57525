"""``auditrail witness``: run a C2SP tlog-witness for logs you do not operate."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import click

from application.ports.witness_ledger import WitnessLedger
from domain.signed_notes import (
    InvalidNote,
    VerifierKey,
    b64,
    checked_key_name,
    parse_verifier_key,
)
from domain.timestamps import format_timestamp
from entrypoints.container.witness import WitnessContainer
from entrypoints.logs import configure_logging
from entrypoints.witness_logs import UnreadableLogsFile, WitnessLogs

log = logging.getLogger("auditrail.witness")


def _name(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    try:
        return checked_key_name(value)
    except InvalidNote as exc:
        raise click.BadParameter(str(exc)) from None


def _logs(_ctx: click.Context, _param: click.Parameter,
          values: tuple[str, ...]) -> list[VerifierKey]:
    keys = []
    for value in values:
        try:
            keys.append(parse_verifier_key(value))
        except InvalidNote as exc:
            raise click.BadParameter(f"{value[:80]}: {exc}") from None
    return keys


_NAME = click.option(
    "--name", required=True, envvar="AUDITRAIL_WITNESS_NAME", callback=_name,
    help="The witness's name in its cosignatures, e.g. witness.example.com/w1 (or the "
         "AUDITRAIL_WITNESS_NAME variable).")
_STATE = click.option(
    "--state", "state_file", required=True, envvar="AUDITRAIL_WITNESS_STATE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The witness's SQLite file: the latest checkpoint cosigned of each log. Its key "
         "is generated beside it (witness.key) unless AUDITRAIL_WITNESS_KEY is set.")


def _settings(name: str, state_file: Path,
              logs: Mapping[str, Sequence[VerifierKey]]) -> dict[str, Any]:
    state_file = state_file.resolve()
    return {"name": name, "key": os.environ.get("AUDITRAIL_WITNESS_KEY", ""),
            "key_file": str(state_file.with_name("witness.key")),
            "database_url": f"sqlite:///{state_file}", "logs": logs}


def _container(settings: dict[str, Any]) -> WitnessContainer:
    container = WitnessContainer(**settings)
    try:
        container.signer()
    except ValueError as exc:
        raise click.ClickException(f"AUDITRAIL_WITNESS_KEY is unusable ({exc}): it is "
                                   f"base64 of a 32-byte Ed25519 seed") from None
    return container


def _existing_ledger(state_file: Path) -> WitnessLedger:
    """The ledger of a witness that has run: a command that reads or edits it does not
    create one where a mistyped path points."""
    if not state_file.exists():
        raise click.BadParameter(f"{state_file} does not exist", param_hint="--state")
    return WitnessContainer(database_url=f"sqlite:///{state_file.resolve()}").ledger()


@click.group("witness")
def witness() -> None:
    """Cosign logs' checkpoints, each only if it extends the last one cosigned."""


@witness.command("serve")
@_NAME
@_STATE
@click.option("--log", "logs", multiple=True, callback=_logs,
              envvar="AUDITRAIL_WITNESS_LOGS",
              help="The verifier key of a log to witness (GET /log/key's verifier_key); "
                   "repeatable, or AUDITRAIL_WITNESS_LOGS with keys apart by spaces.")
@click.option("--logs-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              envvar="AUDITRAIL_WITNESS_LOGS_FILE",
              help="A file of logs' verifier keys, one a line ('#' starts a comment), read "
                   "again whenever it changes: following one more log is a line added.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=7380, show_default=True, type=click.IntRange(1, 65535))
def serve(name: str, state_file: Path, logs: list[VerifierKey], logs_file: Path | None,
          host: str, port: int) -> None:
    """Serve POST /add-checkpoint and GET /<origin hash>/checkpoint (C2SP tlog-witness)."""
    from entrypoints.gunicorn_app import PortTaken
    from entrypoints.witness_server import serve_witness
    configure_logging("INFO")
    if not logs and logs_file is None:
        raise click.UsageError("Name the logs to witness: --log VKEY (repeatable) or "
                               "--logs-file FILE.")
    try:
        followed = WitnessLogs(logs, logs_file.resolve() if logs_file else None)
    except UnreadableLogsFile as exc:
        raise click.BadParameter(str(exc), param_hint="--logs-file") from None
    settings = _settings(name, state_file, followed)
    state_file.parent.mkdir(parents=True, exist_ok=True)
    container = _container(settings)
    container.ledger()  # the table, before the worker opens it
    log.info("witness %s cosigns for %s", container.witness().verifier_key,
             ", ".join(sorted(followed)) or "no log yet")
    try:
        serve_witness(settings, host, port, "info")
    except PortTaken as exc:
        raise click.ClickException(str(exc)) from None


@witness.command("verifier-key")
@_NAME
@_STATE
def verifier_key(name: str, state_file: Path) -> None:
    """Print the witness's verifier key (type 0x04), for monitors and readers to trust."""
    state_file.parent.mkdir(parents=True, exist_ok=True)
    settings = _settings(name, state_file, {})
    click.echo(_container(settings).witness().verifier_key)


@witness.command("list")
@_STATE
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def list_logs(state_file: Path, as_json: bool) -> None:
    """Print each log the witness holds a checkpoint of: its origin, the size cosigned
    last, and when."""
    logs = _existing_ledger(state_file).held()
    if not logs and not as_json:
        click.echo("the witness holds no checkpoint yet", err=True)
    for held in logs:
        when = format_timestamp(held.cosigned_at)
        if as_json:
            click.echo(json.dumps({"origin": held.origin,
                                   "tree_size": held.witnessed.tree_size,
                                   "root_hash": b64(held.witnessed.root_hash),
                                   "cosigned_at": when}))
        else:
            click.echo(f"{held.origin}  size {held.witnessed.tree_size}  cosigned {when}")


@witness.command("forget")
@click.argument("origin")
@_STATE
def forget(origin: str, state_file: Path) -> None:
    """Drop what the witness holds of the log ORIGIN (its next checkpoint is cosigned
    afresh) and print it, to keep: for a log whose operator went back to a backup."""
    held = _existing_ledger(state_file).forget(origin)
    if held is None:
        raise click.ClickException(f"the witness holds nothing of {origin}")
    click.echo(held, nl=False)
