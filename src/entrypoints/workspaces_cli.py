"""``auditrail workspaces`` and ``auditrail keys``: tenants and their API keys, changed
by the operator outside the API and recorded as such."""

from __future__ import annotations

import json
import shlex
import sys
from datetime import UTC, datetime
from typing import Any

import click

from application.errors import Conflict, NotFound, UnderLegalHold
from application.use_cases.delete_workspace import WorkspaceContents
from domain.api_keys import MAX_ROLL_GRACE_SECONDS, ApiKey
from domain.errors import ValidationFailed
from domain.scopes import ALL_SCOPES
from domain.timestamps import InvalidTimestamp, format_timestamp, parse_timestamp
from domain.workspaces import PLANS
from entrypoints.command_context import command_container, fail, operator


@click.group()
def workspaces() -> None:
    """Create, change and list workspaces."""


@workspaces.command("create")
@click.option("--name", required=True)
@click.option("--plan", type=click.Choice(PLANS), default="free", show_default=True)
@click.option("--rate-limit", type=click.IntRange(min=1), default=None,
              help="Requests per minute (enterprise plan only).")
@click.option("--json", "as_json", is_flag=True, help='Print {"workspace_id", "api_key"}.')
@click.option("--env", "as_env", is_flag=True,
              help='Print WORKSPACE=… and KEY=… for eval "$(auditrail workspaces create '
                   '… --env)".')
@click.option("--record-activity", is_flag=True,
              help="Record every change to the workspace as an auditrail.* event in its log, "
                   "from its creation and first key on (docs/activity.md).")
def create_workspace(name: str, plan: str, rate_limit: int | None, as_json: bool,
                     as_env: bool, record_activity: bool) -> None:
    """Create a workspace and print its first admin API key."""
    try:
        workspace, issued = command_container().create_workspace().execute(
            name, plan, rate_limit, record_activity, operator())
    except ValidationFailed as exc:
        raise fail(exc) from None
    if as_json:
        click.echo(json.dumps({"workspace_id": workspace.id, "api_key": issued.secret}))
    elif as_env:
        click.echo(f"WORKSPACE={shlex.quote(workspace.id)}\nKEY={shlex.quote(issued.secret)}")
    else:
        click.echo(f"workspace: {workspace.id}\napi key:   {issued.secret}  (admin; shown once)")


@workspaces.command("update")
@click.argument("workspace_id")
@click.option("--plan", type=click.Choice(PLANS), default=None)
@click.option("--rate-limit", type=click.IntRange(min=1), default=None,
              help="Requests per minute (enterprise plan only).")
@click.option("--record-activity/--no-record-activity", default=None,
              help="Record changes to the workspace as auditrail.* events in its log, or "
                   "stop (docs/activity.md).")
@click.option("--legal-hold/--no-legal-hold", default=None,
              help="Keep every event whatever the retention, and refuse deletion; or "
                   "release the hold.")
def update_workspace(workspace_id: str, plan: str | None, rate_limit: int | None,
                     record_activity: bool | None, legal_hold: bool | None) -> None:
    """Change a workspace's plan, enterprise rate limit, activity recording or legal hold
    (effective at once)."""
    if plan is None and rate_limit is None and record_activity is None and legal_hold is None:
        raise click.UsageError("give --plan, --rate-limit, --[no-]record-activity and/or "
                               "--[no-]legal-hold")
    try:
        workspace = command_container().update_workspace_plan().execute(
            workspace_id, plan, rate_limit, operator(), record_activity, legal_hold)
    except (ValidationFailed, NotFound) as exc:
        raise fail(exc) from None
    recording = "records changes" if workspace.record_activity else "records no changes"
    held = ", under a legal hold" if workspace.legal_hold else ""
    click.echo(f"{workspace.id}: plan {workspace.plan}, "
               f"{workspace.rate_limit_per_minute} requests/min, {recording}{held}")


@workspaces.command("delete")
@click.argument("workspace_id")
@click.option("--yes", is_flag=True, help="Do not ask for the workspace's name (scripts).")
def delete_workspace(workspace_id: str, yes: bool) -> None:
    """Delete a workspace and everything it holds, for good: events, signed log, keys,
    viewer links, log streams, alert rules and alerts, exports and their files."""
    deletion = command_container().delete_workspace()
    try:
        contents = deletion.contents(workspace_id)
    except (NotFound, UnderLegalHold) as exc:
        raise fail(exc) from None
    name = contents.workspace.name
    click.echo(f"{workspace_id} ({name}) holds {_contents(contents)}.\n"
               "Deleting it removes them for good, with its signed log: its keys stop "
               "working at once,\nand whoever monitors its log will find it gone.")
    if not yes and click.prompt("Type the workspace's name to delete it", default="",
                                show_default=False) != name:
        raise click.ClickException("that is not its name: nothing was deleted")
    rows = deletion.execute(workspace_id)
    click.echo(f"deleted {workspace_id} ({name}): {rows:,} rows")


def _contents(contents: WorkspaceContents) -> str:
    counts = [(contents.events, "event"), (contents.api_keys, "API key"),
              (contents.viewer_links, "viewer link"), (contents.streams, "log stream"),
              (contents.alert_rules, "alert rule"), (contents.exports, "export")]
    listed = [f"{count:,} {noun}{'' if count == 1 else 's'}" for count, noun in counts]
    return ", ".join(listed[:-1]) + " and " + listed[-1]


@workspaces.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def list_workspaces(as_json: bool) -> None:
    """List all workspaces."""
    for listed in command_container().list_workspaces().execute():
        workspace = listed.workspace
        row = {"id": workspace.id, "name": workspace.name, "plan": workspace.plan,
               "rate_limit_per_minute": workspace.rate_limit_per_minute,
               "created_at": format_timestamp(workspace.created_at),
               "linked_events": listed.linked_events,
               "record_activity": workspace.record_activity,
               "legal_hold": workspace.legal_hold}
        if as_json:
            click.echo(json.dumps(row))
        else:
            held = "  (legal hold)" if workspace.legal_hold else ""
            click.echo("{id}  {plan:<10} {rate_limit_per_minute:>6}/min  "
                       "{linked_events:>11,} events  {created_at}  {name}".format(**row)
                       + held)


@click.group()
def keys() -> None:
    """API keys."""


@keys.command("create")
@click.option("--workspace", "workspace_id", required=True)
@click.option("--scopes", required=True, help=f"Comma-separated: {', '.join(ALL_SCOPES)}.")
@click.option("--name", default="cli", show_default=True)
@click.option("--expires-at", default=None, help="ISO 8601 expiry (default: never).")
@click.option("--json", "as_json", is_flag=True, help='Print {"workspace_id", "api_key"}.')
def create_key(workspace_id: str, scopes: str, name: str, expires_at: str | None,
               as_json: bool) -> None:
    """Create an API key; the secret is printed once."""
    try:
        expiry = parse_timestamp(expires_at) if expires_at else None
        issued = command_container().create_api_key().execute(workspace_id, name, scopes.split(","),
                                                       expiry, operator())
    except InvalidTimestamp as exc:
        raise click.BadParameter(str(exc), param_hint="--expires-at") from None
    except (ValidationFailed, NotFound) as exc:
        raise fail(exc) from None
    if as_json:
        click.echo(json.dumps({"workspace_id": workspace_id, "api_key": issued.secret}))
    else:
        click.echo(f"key:     {issued.key.id}\napi key: {issued.secret}  (shown once)")


@keys.command("list")
@click.option("--workspace", "workspace_id", required=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def list_keys(workspace_id: str, as_json: bool) -> None:
    """List a workspace's API keys, newest first (never their secrets)."""
    container = command_container()
    try:
        container.get_workspace().execute(workspace_id)
    except NotFound as exc:
        raise fail(exc) from None
    listing, cursor = container.list_api_keys(), None
    while True:
        page = listing.execute(workspace_id, limit=100, cursor=cursor)
        for key in page.items:
            row = _key_row(key)
            state = _key_state(key)
            expiry = f"  expires {row['expires_at']}" if state == "active" and \
                row["expires_at"] else ""  # a rolled key's grace, or an expiry set
            click.echo(json.dumps(row) if as_json else
                       f"{key.id}  {key.prefix}…  {state:<7}  "
                       f"{','.join(key.scopes):<28}  last used {row['last_used_at'] or 'never'}"
                       f"{expiry}  {key.name}")
        if not page.has_more:
            return
        cursor = page.next_cursor


def _key_row(key: ApiKey) -> dict[str, Any]:
    def stamp(moment: datetime | None) -> str | None:
        return format_timestamp(moment) if moment else None
    return {"id": key.id, "name": key.name, "prefix": key.prefix, "scopes": list(key.scopes),
            "created_at": stamp(key.created_at), "expires_at": stamp(key.expires_at),
            "revoked_at": stamp(key.revoked_at), "last_used_at": stamp(key.last_used_at)}


def _key_state(key: ApiKey) -> str:
    if key.revoked_at is not None:
        return "revoked"
    return "active" if key.is_active(datetime.now(UTC)) else "expired"


@keys.command("revoke")
@click.argument("key_id", required=False)
@click.option("--workspace", "workspace_id", help="The workspace of KEY_ID.")
@click.option("--stdin", "from_stdin", is_flag=True,
              help="Read the key itself from standard input (a leaked key: its workspace is "
                   "found from it; never give a secret as an argument, shells keep those).")
def revoke_key(key_id: str | None, workspace_id: str | None, from_stdin: bool) -> None:
    """Revoke an API key by its id, or, given the key itself on standard input, that key
    or viewer link token wherever it belongs; effective on the next request."""
    if from_stdin == bool(key_id or workspace_id) or (key_id is None) != (workspace_id is None):
        raise click.UsageError("give KEY_ID with --workspace, or --stdin")
    container = command_container()
    if from_stdin:
        found = container.revoke_key_by_secret().execute(sys.stdin.readline().strip(),
                                                         operator())
        if found is None:
            raise click.ClickException("no key has that secret (mistyped, or deleted with "
                                       "its workspace)")
        key, already = found
    else:
        assert key_id is not None and workspace_id is not None  # the usage check above
        try:
            already = container.get_api_key().execute(workspace_id, key_id).revoked_at \
                is not None
            key = container.revoke_api_key().execute(workspace_id, key_id, operator())
        except NotFound as exc:
            raise fail(exc) from None
    when = format_timestamp(key.revoked_at)  # type: ignore[arg-type]
    click.echo(f"{key.id} ({key.name}, {key.prefix}…) of {key.workspace_id}: "
               f"{'already revoked at' if already else 'revoked at'} {when}")


@keys.command("roll")
@click.argument("key_id")
@click.option("--workspace", "workspace_id", required=True, help="The workspace of KEY_ID.")
@click.option("--grace", type=click.IntRange(0, MAX_ROLL_GRACE_SECONDS), default=0,
              help="Seconds the old key keeps working while whatever holds it is "
                   f"redeployed (0, the default: it stops at once; at most "
                   f"{MAX_ROLL_GRACE_SECONDS}).")
@click.option("--expires-at", default=None, help="ISO 8601 expiry of the new key "
                                                 "(default: never).")
@click.option("--json", "as_json", is_flag=True,
              help='Print {"workspace_id", "api_key", "key_id", "replaces", '
                   '"replaced_expires_at"}.')
def roll_key(key_id: str, workspace_id: str, grace: int, expires_at: str | None,
             as_json: bool) -> None:
    """Replace an API key by a new one with its name and scopes; the new secret is printed
    once. The old key stops at once, or after --grace seconds."""
    try:
        expiry = parse_timestamp(expires_at) if expires_at else None
        rolled = command_container().roll_api_key().execute(workspace_id, key_id, grace, expiry,
                                                     operator())
    except InvalidTimestamp as exc:
        raise click.BadParameter(str(exc), param_hint="--expires-at") from None
    except (ValidationFailed, NotFound, Conflict) as exc:
        raise fail(exc) from None
    old, new = rolled.replaced, rolled.issued
    stops = format_timestamp(old.expires_at)  # type: ignore[arg-type]  # set by the roll
    if as_json:
        click.echo(json.dumps({"workspace_id": workspace_id, "api_key": new.secret,
                               "key_id": new.key.id, "replaces": old.id,
                               "replaced_expires_at": stops}))
        return
    click.echo(f"key:     {new.key.id}\napi key: {new.secret}  (shown once)\n"
               f"replaces {old.id} ({old.name}, {old.prefix}…): "
               f"{'works until' if grace else 'stopped at'} {stops}")
