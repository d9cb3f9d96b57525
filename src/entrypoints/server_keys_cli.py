"""``auditrail signing-key`` and ``auditrail secret-key``: the installation's own keys,
generated, shown and rotated."""

from __future__ import annotations

import sys
import time

import click

from application.errors import NotFound
from application.use_cases.countersign_log import Countersigned
from entrypoints.command_context import command_container, fail
from entrypoints.container.installation import build_container
from entrypoints.settings import Settings

PROGRESS_SECONDS = 5.0
"""How often a long command (``signing-key countersign``) says how far it got."""


@click.group("signing-key")
def signing_key() -> None:
    """The key that signs the transparency log's checkpoints."""


@signing_key.command("generate")
def generate_signing_key() -> None:
    """Print a new key for AUDITRAIL_SIGNING_KEY (base64 of a 32-byte Ed25519 seed).

    Keep it like a password: whoever holds it can sign checkpoints. Every server and
    worker of an installation uses the same one.
    """
    click.echo(build_container(Settings()).new_signing_key())


@signing_key.command("verifier-key")
@click.option("--workspace", "workspace_id", required=True, help="The workspace's id (ws_…).")
def show_verifier_key(workspace_id: str) -> None:
    """Print the verifier key auditors pin for a workspace's log, from the configured
    signing key rather than over the network: what you publish to them, e.g. after a
    rotation. Keys it replaced follow, one a line, marked "previous"."""
    container = command_container()
    try:
        container.get_workspace().execute(workspace_id)
    except NotFound as exc:
        raise fail(exc) from None
    key = container.transparency_log().key(workspace_id)
    click.echo(key.verifier_key)
    for previous in key.previous:
        click.echo(f"previous {previous.verifier_key}")


@signing_key.command("countersign")
def countersign_log() -> None:
    """Sign every stored checkpoint and retention anchor with AUDITRAIL_SIGNING_KEY.

    The last step of a rotation: run it once every process has the new key (with the old
    one in AUDITRAIL_PREVIOUS_SIGNING_KEYS); afterwards nothing stored needs the old key,
    and each workspace's rotation note is kept, for monitors that pinned the old key.

    After a key lost for good (AUDITRAIL_SIGNING_KEY_LOST=1), it also signs what that key
    signed, each checkpoint and anchor once the stored tree and chain give what it says:
    quiet workspaces' logs then verify under the new key at once.
    """
    last_said = time.monotonic()

    def progress(so_far: Countersigned, read: int) -> None:
        nonlocal last_said
        if time.monotonic() - last_said >= PROGRESS_SECONDS:
            last_said = time.monotonic()
            click.echo(f"… {read:,} note(s) read, {so_far.checkpoints:,} checkpoint(s) "
                       f"countersigned so far", err=True)

    container = command_container()
    lost = container.settings().signing_key_lost
    outcome = container.countersign_log().execute(progress, adopt=lost)
    click.echo(f"countersigned {outcome.checkpoints} checkpoint(s) and {outcome.anchors} "
               f"retention anchor(s) with the current signing key; kept "
               f"{outcome.rotations} rotation note(s)")
    if outcome.adopted:
        click.echo(f"of those, {outcome.adopted} were signed by a key lost for good "
                   f"(AUDITRAIL_SIGNING_KEY_LOST=1) and are now signed as the stored tree "
                   f"and chains give them")
    for unreadable in outcome.unreadable:
        why = ("does not say what the stored tree or chain gives" if lost else
               "is signed by no key in AUDITRAIL_SIGNING_KEY or "
               "AUDITRAIL_PREVIOUS_SIGNING_KEYS")
        click.echo(f"unreadable: {unreadable} {why}; left as it is", err=True)
    if outcome.unreadable:
        sys.exit(1)


@click.group("secret-key")
def secret_key() -> None:
    """The key that signs download links and seals stored credentials."""


@secret_key.command("reseal")
def reseal_credentials() -> None:
    """Seal every stored stream and alert-rule credential with AUDITRAIL_SECRET_KEY.

    The last step of a rotation: run it once every process has the new key (with the old
    one in AUDITRAIL_PREVIOUS_SECRET_KEYS); afterwards the old key can be dropped.
    """
    outcome = command_container().reseal_credentials().execute()
    click.echo(f"resealed {outcome.resealed} credential(s) with the current secret key")
    for credential in outcome.unreadable:
        click.echo(f"unreadable: {credential.kind} {credential.id} was sealed with a key that "
                   f"is neither AUDITRAIL_SECRET_KEY nor in AUDITRAIL_PREVIOUS_SECRET_KEYS; "
                   f"set its credential again with PATCH", err=True)
    if outcome.unreadable:
        sys.exit(1)
