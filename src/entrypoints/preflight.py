"""``auditrail check``: what ``serve`` and ``worker`` need, checked without starting them.

A start refused for a missing migration, a key that did not sign the log or a geo database
that cannot be read is learnt only once the old processes are stopped. Run beforehand, with
the new release and settings on the same machine, this names every such problem at once,
each with its fix, and changes nothing: an embedded database is not migrated, no job is
queued, nothing is written.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from application.ports.geo import GeoDatabaseUnusable
from entrypoints.container.installation import Container, build_container
from entrypoints.settings import EMBEDDED, Settings


@dataclass(frozen=True)
class Finding:
    part: str
    ok: bool
    said: str
    warn: bool = False
    """Works, but not as it should in production: said, without failing the check."""

    @property
    def label(self) -> str:
        return "FAIL" if not self.ok else "WARN" if self.warn else "ok"


def findings(container: Container) -> Iterator[Finding]:
    """Each part a process depends on, in the order a start checks them; a part that
    depends on one that failed (the signing key on the database) is not asked."""
    settings = container.settings()
    new_file = _new_embedded_database(settings)
    if new_file:
        database, current = Finding("database", True, f"none yet: `auditrail serve` "
                                                      f"creates {new_file}"), False
    else:
        database, current = _database(container)
    yield database
    if settings.profile != EMBEDDED:
        yield _queue(container)
    if current:
        yield _signing_key(container)
    elif database.ok:  # embedded, to be created or migrated: the log is read after that
        yield Finding("signing key", True, "checked by `auditrail serve` once the database "
                                           "is up to date")
    yield _geo(container)
    yield _exports_folder(settings.exports_dir)


def migrations_text(revisions: list[str]) -> str:
    return f"{len(revisions)} migration(s) ({revisions[0]}-{revisions[-1]})"


def schema_problem(missing: list[str]) -> str:
    return (f"the database lacks {migrations_text(missing)} this release needs: run "
            f"`auditrail db upgrade` first")


def stranger_problem(container: Container, workspace_id: str) -> str:
    name = container.settings().effective_log_name
    return (f"the log's latest checkpoint (of {workspace_id}) was signed by a key this "
            f"installation does not have under the log name {name}: AUDITRAIL_SIGNING_KEY "
            f"is not the key that signed it (or AUDITRAIL_LOG_NAME, or the host of "
            f"AUDITRAIL_PUBLIC_URL, changed). Set the key that signed it; to rotate, list it "
            f"in AUDITRAIL_PREVIOUS_SIGNING_KEYS; if it is lost, set "
            f"AUDITRAIL_SIGNING_KEY_LOST=1 to sign on with this one (every pinned verifier "
            f"key must then be replaced)")


def _database(container: Container) -> tuple[Finding, bool]:
    """The finding, and whether the schema is this release's (the log can be read)."""
    try:
        missing = container.missing_migrations()
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        return Finding("database", False, f"could not be used: {reason}"), False
    if not missing:
        return Finding("database", True, "reachable, every migration applied"), True
    if container.settings().is_embedded_database:
        return Finding("database", True, f"{len(missing)} migration(s) to apply, which "
                                         f"`auditrail serve` does as it starts"), False
    return Finding("database", False, schema_problem(missing)), False


def _queue(container: Container) -> Finding:
    where = _redis_address(container.settings().redis_url or "")
    queue = container.job_queue()
    if not queue.ping():
        return Finding("queue", False, f"Redis unreachable at {where} (AUDITRAIL_REDIS_URL); "
                                       f"requests would go unprocessed until it is back")
    policy = queue.eviction()
    if policy is not None:
        return Finding("queue", True, f"Redis reachable at {where}, but its "
                                      f"{eviction_problem(policy)}", warn=True)
    return Finding("queue", True, f"Redis reachable at {where}")


def eviction_problem(policy: str) -> str:
    """Why a Redis that evicts is worth a warning and not a failure: the database holds
    all the work, so a dropped job delays it and loses nothing."""
    return (f"maxmemory-policy is {policy}: once full, it drops queued jobs without a "
            f"word, and their processing, deliveries and exports wait until upkeep (every "
            f"15 s) finds and queues them again; nothing is lost. Set maxmemory-policy "
            f"noeviction: a full Redis then refuses new jobs, and the processes say so")


def _new_embedded_database(settings: Settings) -> str | None:
    """The SQLite file `serve` would create, when there is none: connecting would create
    it here instead."""
    if not settings.is_embedded_database:
        return None
    path = make_url(settings.effective_database_url).database
    return path if path and not Path(path).exists() else None


def _signing_key(container: Container) -> Finding:
    settings = container.settings()
    if not settings.signing_key and not settings.signing_key_file.exists():
        return _key_file_missing(container, settings)
    try:
        stranger = container.transparency_log().stranger()
    except DBAPIError:
        return Finding("signing key", False, "not checked: the database could not be read")
    if stranger is None:
        return Finding("signing key", True, f"the log's latest checkpoint, if any, is "
                                            f"signed by it or a key it replaced (log name "
                                            f"{settings.effective_log_name})")
    if settings.signing_key_lost:
        return Finding("signing key", True, f"AUDITRAIL_SIGNING_KEY_LOST=1: signs on after "
                                            f"another key (the latest of {stranger}); "
                                            f"auditors must pin the new verifier key, and "
                                            f"`auditrail signing-key countersign` signs "
                                            f"what the lost key signed")
    return Finding("signing key", False, stranger_problem(container, stranger))


def _key_file_missing(container: Container, settings: Settings) -> Finding:
    """Embedded, with no key generated yet: fine for a log never signed; for one that was,
    the key that signed it is gone, and `serve` would refuse to start. Asked with a key
    that signed nothing, so that none is generated here."""
    unsigned = build_container(replace(settings, signing_key=container.new_signing_key()))
    try:
        signed = unsigned.transparency_log().stranger()
    finally:
        unsigned.engine().dispose()
    if signed is None:
        return Finding("signing key", True, f"none yet: `auditrail serve` generates "
                                            f"{settings.signing_key_file}")
    return Finding("signing key", False, f"{settings.signing_key_file} is missing, but the "
                                         f"log was signed (the latest checkpoint of "
                                         f"{signed}): restore the key from the backup taken "
                                         f"with the database")


def _geo(container: Container) -> Finding:
    path = container.geoip_path()
    try:
        container.geo()
    except GeoDatabaseUnusable as exc:
        return Finding("geo database", False, f"{exc} (AUDITRAIL_GEOIP_DB)")
    if not path:
        return Finding("geo database", True, "none: events are stored with \"geo\": null")
    return Finding("geo database", True, f"{path} readable")


def _exports_folder(folder: Path) -> Finding:
    """Tried, not inferred from permission bits (which say yes to root everywhere): a
    folder made and removed at once in the nearest part of the path that exists."""
    existing = next(parent for parent in (folder, *folder.parents) if parent.exists())
    try:
        with tempfile.TemporaryDirectory(dir=existing, prefix=".auditrail-check-"):
            pass
    except OSError as exc:
        return Finding("exports folder", False, f"{folder} cannot be written under "
                                                f"{existing} ({exc.strerror or exc}; "
                                                f"AUDITRAIL_DATA_DIR): exports would fail")
    return Finding("exports folder", True, f"{folder} writable")


def _redis_address(url: str) -> str:
    """Where, without the password a Redis URL may carry."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return parts.path
    return f"{parts.hostname}:{parts.port or 6379}{parts.path or '/0'}"

