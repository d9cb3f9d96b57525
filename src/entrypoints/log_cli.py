"""``auditrail log``: an auditor's watch over a workspace's transparency log, from
outside the service (see log_monitor for what a run checks)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import click

from domain.cosignatures import parse_cosigner_key
from domain.signed_notes import InvalidNote
from entrypoints.container.offline import OfflineContainer


@click.group("log")
def log_group() -> None:
    """Watch a workspace's transparency log."""


def _seen_notes(names: tuple[str, ...]) -> list[str]:
    """The distinct signed notes in the files named, or in every file under the folders
    named, all read before the log is asked (one received after it answered could be
    newer than the checkpoint it served: a false alarm). A name under which there is no
    note is a mistake to name, not a check that passed."""
    from entrypoints.seen_checkpoints import checkpoint_notes
    return _notes_in(names, checkpoint_notes, "--seen", "signed note")


def _receipt_notes(names: tuple[str, ...]) -> list[str]:
    """The distinct receipts in the files named, or under the folders named."""
    from entrypoints.seen_checkpoints import receipt_notes
    return _notes_in(names, receipt_notes, "--receipts", "receipt")


def _notes_in(names: tuple[str, ...], read: Callable[[IO[str]], Iterator[str]], option: str,
              what: str) -> list[str]:
    from entrypoints.seen_checkpoints import UnreadableFile, files_under
    notes: dict[str, None] = {}
    for name in names:
        found = 0
        for file in [name] if name == "-" else files_under(Path(name)):
            with click.open_file(str(file), encoding="utf-8-sig", errors="replace") as handle:
                try:
                    for note in read(handle):
                        notes[note] = None
                        found += 1
                except UnreadableFile as exc:
                    raise click.BadParameter(f"{file}: {exc}", param_hint=option) from None
        if not found:
            raise click.BadParameter(f"{name} holds no {what}", param_hint=option)
    return list(notes)


@log_group.command("monitor")
@click.option("--url", required=True, help="Auditrail's base URL, e.g. https://audit.example.com")
@click.option("--key", "api_key", required=True, envvar="AUDITRAIL_API_KEY",
              help="An API key with events:read (or the AUDITRAIL_API_KEY variable).")
@click.option("--state", "state_file", required=True, type=click.Path(path_type=Path),
              help="Where the last checkpoint checked is kept between runs.")
@click.option("--verifier-key", "verifier_key",
              help="The log's verifier key, pinned on the first run (and checked on later "
                   "ones); get it once from GET /log/key over a channel you trust.")
@click.option("--key-lost", "key_lost", is_flag=True,
              help="The log's operator lost its signing key for good: pin --verifier-key "
                   "(the new key, from the operator) in place of the key pinned, keeping "
                   "the checkpoint kept last time - the new key's log must still extend "
                   "what the lost one signed. The lost key is trusted no more.")
@click.option("--seen", "seen_files", multiple=True,
              type=click.Path(exists=True, allow_dash=True),
              help="A file of checkpoints kept elsewhere, or a folder of such files, each "
                   "checkpoint of which must be in the log's history: signed notes, or "
                   "JSON (documents one a line, run together or over lines) holding them "
                   "as 'checkpoint' or 'note', such as saved webhook bodies, an export's "
                   "evidence or another monitor's state file. Repeatable; - reads stdin.")
@click.option("--witness", "witnesses", multiple=True, nargs=2, metavar="KEY URL",
              help="A C2SP tlog-witness to submit the checked checkpoint to, by its "
                   "verifier key and URL (e.g. one run with `auditrail witness serve`): it "
                   "cosigns only checkpoints that extend the last one it cosigned for "
                   "anyone. Repeatable.")
@click.option("--receipts", "receipt_files", multiple=True,
              type=click.Path(exists=True, allow_dash=True),
              help="A file of ingest receipts the log signed (Prefer: receipt): receipts "
                   "one after another, or JSON holding them as 'receipt' (saved ingest "
                   "answers), or a folder of such files: every event each names must be "
                   "in the checked tree as it was accepted. Repeatable; - reads stdin.")
@click.option("--entries", "read_entries", type=click.Choice(["new", "all"]),
              is_flag=False, flag_value="new", default=None,
              help="Read the events the log added since the last run (--entries), or all "
                   "it holds (--entries all), as entry bundles (C2SP tlog-tiles), each "
                   "held to the checked tree by one proof: an event whose stored form was "
                   "changed after it was linked is caught here, whoever runs the server's "
                   "own checks.")
@click.option("--retention-days", "retention_days", type=click.IntRange(1, 36500),
              help="With --entries: the days the log is to keep events (what you agreed "
                   "with its operator). Its signed retention anchor must not lie past an "
                   "event read, on this run or an earlier one, that occurred since: the "
                   "operator signs that anchor, and could otherwise erase recent events "
                   "as if retention had.")
@click.option("--cosigned-by", "cosigned_by", multiple=True, metavar="WKEY",
              help="The cosigner key of a witness the log submits to itself, which you "
                   "trust: the checkpoint the log's witnesses cosigned must carry its "
                   "valid cosignature and be in the history this monitor is served. "
                   "Repeatable.")
def monitor(url: str, api_key: str, state_file: Path, verifier_key: str | None,
            key_lost: bool, seen_files: tuple[str, ...], witnesses: tuple[tuple[str, str], ...],
            receipt_files: tuple[str, ...], read_entries: str | None,
            retention_days: int | None, cosigned_by: tuple[str, ...]) -> None:
    """Fetch the latest checkpoint, check its signature with the pinned key, demand a
    consistency proof from the checkpoint kept last time (and from each one --seen), and
    keep the new one. Exit 0 when the log only grew; exit 1, loudly, on any inconsistency
    (a rewritten log, or one showing readers different histories, or a witness refusing
    it as another history, or an event a receipt names missing or changed, or an entry
    not as the signed tree holds it, or events removed before --retention-days); exit 2
    when the log could not be asked (nothing checked, the state kept) or a witness could
    not be (the log checked, its state kept)."""
    from entrypoints.log_monitor import (
        LogUnreachable,
        MonitorFailed,
        WitnessesUnavailable,
        run_monitor,
        witness_target,
    )
    if key_lost and not verifier_key:
        raise click.BadParameter("needs --verifier-key: the new key, which the log's "
                                 "operator publishes", param_hint="--key-lost")
    if retention_days is not None and read_entries is None:
        raise click.BadParameter("needs --entries: the monitor learns when events occurred "
                                 "by reading them", param_hint="--retention-days")
    seen = _seen_notes(seen_files)
    receipts = _receipt_notes(receipt_files)
    try:
        targets = [witness_target(key, witness_url) for key, witness_url in witnesses]
    except MonitorFailed as exc:
        raise click.BadParameter(str(exc), param_hint="--witness") from None
    try:
        cosigners = [parse_cosigner_key(key) for key in cosigned_by]
    except InvalidNote as exc:
        raise click.BadParameter(str(exc), param_hint="--cosigned-by") from None
    try:
        click.echo(run_monitor(url, api_key, state_file, verifier_key,
                               OfflineContainer().signature_checker().verify,
                               seen, targets, cosigners, receipts, read_entries,
                               retention_days, key_lost))
    except WitnessesUnavailable as exc:
        click.echo(exc.checked)
        for problem in exc.problems:
            click.echo(f"could not get a cosignature: {problem}", err=True)
        sys.exit(2)
    except LogUnreachable as exc:
        click.echo(f"could not check: {exc}", err=True)
        sys.exit(2)
    except MonitorFailed as exc:
        click.echo(f"ALERT: {exc}", err=True)
        sys.exit(1)
