"""Settings come from environment variables only (see the README's settings table)."""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

EMBEDDED = "embedded"
PRODUCTION = "production"


class SettingsError(ValueError):
    """A setting has a value that cannot work; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("./var")
    database_url: str | None = None
    redis_url: str | None = None
    geoip_db: str | None = None
    secret_key: str | None = None
    previous_secret_keys: tuple[str, ...] = ()
    """Keys being rotated out: still accepted for download links and sealed credentials."""
    export_ttl_seconds: int = 86_400
    download_link_ttl_seconds: int = 300
    trusted_proxies: int = 0
    public_url: str | None = None
    log_level: str = "INFO"
    requeue_after_seconds: int = 30
    queue_name: str = "auditrail"
    auth_cache_seconds: int = 10
    allow_private_destinations: bool = False
    delivery_timeout_seconds: int = 10
    delivery_log_days: int = 30
    stream_batch_seconds: float = 1.0
    signing_key: str | None = None
    previous_signing_keys: tuple[str, ...] = ()
    """Keys the signing key replaced: they co-sign, and hand their logs over to it."""
    signing_key_lost: bool = False
    """Start even though the log was signed by a key this installation does not have."""
    log_name: str | None = None
    checkpoint_seconds: int = 5
    chain_check_hours: int = 24
    """How often the workers verify each workspace's whole chain; 0: never."""
    chain_check_request_minutes: int = 5
    """How soon after its latest check a workspace may ask for another."""
    viewer_frame_ancestors: tuple[str, ...] = ()
    query_timeout_seconds: float = 20.0
    """How long a search or stats statement may run before it is stopped; 0: no limit."""
    verifications_at_once: int = 2
    """How many GET /events/verify a server process runs at once; 0: no bound."""

    @property
    def profile(self) -> str:
        """``embedded`` (in-process queue and limiter) unless a Redis URL is configured."""
        return PRODUCTION if self.redis_url else EMBEDDED

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'auditrail.db').resolve()}"

    @property
    def exports_dir(self) -> Path:
        return self.data_dir / "exports"

    @property
    def secret_key_file(self) -> Path:
        return self.data_dir / "secret_key"

    @property
    def signing_key_file(self) -> Path:
        return self.data_dir / "signing_key"

    @property
    def effective_log_name(self) -> str:
        """The first part of every checkpoint's origin: ``AUDITRAIL_LOG_NAME``, else the
        public URL's host, else ``auditrail.localhost``."""
        if self.log_name:
            return self.log_name
        if self.public_url:
            return urlsplit(self.public_url).hostname or "auditrail.localhost"
        return "auditrail.localhost"

    def check_production_secrets(self) -> None:
        """Production refuses to start without a configured secret: generated keys differ
        per machine, and links signed by one server would fail on the others."""
        if self.profile == PRODUCTION and not self.secret_key:
            raise SettingsError("AUDITRAIL_SECRET_KEY is required in production (with "
                                "AUDITRAIL_REDIS_URL); use e.g. 32+ random characters")
        if self.secret_key is not None and len(self.secret_key) < 16:
            raise SettingsError("AUDITRAIL_SECRET_KEY must be at least 16 characters")
        if any(len(key) < 16 for key in self.previous_secret_keys):
            raise SettingsError("each of AUDITRAIL_PREVIOUS_SECRET_KEYS must be at least 16 "
                                "characters")
        if self.profile == PRODUCTION and not self.signing_key:
            raise SettingsError("AUDITRAIL_SIGNING_KEY is required in production (with "
                                "AUDITRAIL_REDIS_URL): every server and worker must sign "
                                "with the same key; `auditrail signing-key generate` makes "
                                "one")
        if self.previous_signing_keys and not self.signing_key and \
                self.signing_key_file.exists() and \
                self.signing_key_file.read_text().strip() in self.previous_signing_keys:
            raise SettingsError("AUDITRAIL_PREVIOUS_SIGNING_KEYS holds the key in use "
                                f"({self.signing_key_file}); set the new one in "
                                "AUDITRAIL_SIGNING_KEY")

    @property
    def is_embedded_database(self) -> bool:
        return self.effective_database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env

        def text(name: str) -> str | None:
            value = env.get(f"AUDITRAIL_{name}", "").strip()
            return value or None

        def number(name: str, default: int, minimum: int = 0) -> int:
            raw = text(name)
            if raw is None:
                return default
            try:
                value = int(raw)
            except ValueError:
                raise SettingsError(f"AUDITRAIL_{name} must be a whole number, got {raw!r}") \
                    from None
            if value < minimum:
                raise SettingsError(f"AUDITRAIL_{name} must be at least {minimum}")
            return value

        def flag(name: str) -> bool:
            raw = text(name)
            if raw not in (None, "0", "1"):
                raise SettingsError(f"AUDITRAIL_{name} must be 0 or 1, got {raw!r}")
            return raw == "1"

        def seconds(name: str, default: float, maximum: float) -> float:
            raw = text(name)
            if raw is None:
                return default
            try:
                value = float(raw)
            except ValueError:
                raise SettingsError(f"AUDITRAIL_{name} must be a number of seconds, got "
                                    f"{raw!r}") from None
            if not 0 <= value <= maximum:
                raise SettingsError(f"AUDITRAIL_{name} must be between 0 and {maximum:g}")
            return value

        log_level = (text("LOG_LEVEL") or "INFO").upper()
        if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise SettingsError("AUDITRAIL_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR")
        return cls(
            data_dir=Path(text("DATA_DIR") or "./var"),
            database_url=_database_url(text("DATABASE_URL")),
            redis_url=_redis_url(text("REDIS_URL")),
            geoip_db=text("GEOIP_DB"),
            secret_key=text("SECRET_KEY"),
            previous_secret_keys=tuple((text("PREVIOUS_SECRET_KEYS") or "").split()),
            export_ttl_seconds=number("EXPORT_TTL_SECONDS", 86_400, minimum=1),
            download_link_ttl_seconds=number("DOWNLOAD_LINK_TTL_SECONDS", 300, minimum=1),
            trusted_proxies=number("TRUSTED_PROXIES", 0),
            public_url=_public_url(text("PUBLIC_URL")),
            log_level=log_level,
            requeue_after_seconds=number("REQUEUE_AFTER_SECONDS", 30, minimum=1),
            queue_name=text("QUEUE_NAME") or "auditrail",
            auth_cache_seconds=number("AUTH_CACHE_SECONDS", 10),
            allow_private_destinations=flag("ALLOW_PRIVATE_DESTINATIONS"),
            delivery_timeout_seconds=_at_most(
                number("DELIVERY_TIMEOUT_SECONDS", 10, minimum=1), 60,
                "AUDITRAIL_DELIVERY_TIMEOUT_SECONDS"),
            delivery_log_days=number("DELIVERY_LOG_DAYS", 30, minimum=1),
            stream_batch_seconds=seconds("STREAM_BATCH_SECONDS", 1.0, maximum=60.0),
            signing_key=_signing_key(text("SIGNING_KEY")),
            previous_signing_keys=_previous_signing_keys(text("PREVIOUS_SIGNING_KEYS"),
                                                         text("SIGNING_KEY")),
            signing_key_lost=flag("SIGNING_KEY_LOST"),
            log_name=_log_name(text("LOG_NAME")),
            viewer_frame_ancestors=_origins(text("VIEWER_FRAME_ANCESTORS")),
            checkpoint_seconds=_at_most(number("CHECKPOINT_SECONDS", 5, minimum=1), 3600,
                                        "AUDITRAIL_CHECKPOINT_SECONDS"),
            chain_check_hours=_at_most(number("CHAIN_CHECK_HOURS", 24), 8760,
                                       "AUDITRAIL_CHAIN_CHECK_HOURS"),
            chain_check_request_minutes=_at_most(
                number("CHAIN_CHECK_REQUEST_MINUTES", 5, minimum=1), 10080,
                "AUDITRAIL_CHAIN_CHECK_REQUEST_MINUTES"),
            query_timeout_seconds=seconds("QUERY_TIMEOUT_SECONDS", 20.0, maximum=3600.0),
            verifications_at_once=number("VERIFICATIONS_AT_ONCE", 2),
        )


def _at_most(value: int, maximum: int, name: str) -> int:
    if value > maximum:
        raise SettingsError(f"{name} must be at most {maximum}")
    return value


def _signing_key(raw: str | None, name: str = "AUDITRAIL_SIGNING_KEY") -> str | None:
    """Checked at start; never echoed (it is the log's private key)."""
    if raw is None:
        return None
    try:
        if len(base64.b64decode(raw.encode("ascii"), validate=True)) == 32:
            return raw
    except (binascii.Error, UnicodeError, ValueError):
        pass
    raise SettingsError(f"{name} must be base64 of a 32-byte Ed25519 seed; "
                        "`auditrail signing-key generate` prints one")


def _previous_signing_keys(raw: str | None, current: str | None) -> tuple[str, ...]:
    name = "AUDITRAIL_PREVIOUS_SIGNING_KEYS"
    keys = tuple((raw or "").split())
    for key in keys:
        _signing_key(key, name)
    if current is not None and current in keys:
        raise SettingsError(f"{name} holds AUDITRAIL_SIGNING_KEY itself; list only the "
                            f"keys it replaced")
    return keys


def _origins(raw: str | None) -> tuple[str, ...]:
    """Origins that may embed the viewer, e.g. ``https://app.example.com``: scheme, host
    and port only, as a Content-Security-Policy's frame-ancestors takes them."""
    origins = tuple((raw or "").split())
    for origin in origins:
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.hostname or \
                parts.path not in ("", "/") or parts.query or parts.fragment or \
                any(c in origin for c in ";,'\""):
            raise SettingsError(f"AUDITRAIL_VIEWER_FRAME_ANCESTORS: {origin!r} is not an "
                                f"origin such as https://app.example.com")
    return tuple(origin.rstrip("/") for origin in origins)


def _log_name(raw: str | None) -> str | None:
    if raw is not None and (any(c.isspace() for c in raw) or "+" in raw):
        raise SettingsError("AUDITRAIL_LOG_NAME must have no spaces and no '+' (it names "
                            "the signing key in every checkpoint)")
    return raw


def _database_url(raw: str | None) -> str | None:
    """Checked at start, so a typo is named instead of failing the first query. The value
    is never echoed: it may hold a password."""
    if raw is None:
        return None
    try:
        backend = make_url(raw).get_backend_name()
    except ArgumentError:
        raise SettingsError("AUDITRAIL_DATABASE_URL is not a database URL; expected e.g. "
                            "postgresql+psycopg://user@host:5432/auditrail") from None
    if backend not in ("postgresql", "sqlite"):
        raise SettingsError(f"AUDITRAIL_DATABASE_URL names {backend}; Auditrail runs on "
                            f"PostgreSQL (or SQLite, embedded)")
    return raw


def _redis_url(raw: str | None) -> str | None:
    if raw is not None and urlsplit(raw).scheme not in ("redis", "rediss", "unix"):
        raise SettingsError("AUDITRAIL_REDIS_URL must start with redis://, rediss:// or "
                            "unix://")
    return raw


def _public_url(raw: str | None) -> str | None:
    if raw is None:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query \
            or parts.fragment:
        raise SettingsError("AUDITRAIL_PUBLIC_URL must be an http(s) base URL such as "
                            "https://audit.example.com")
    return raw
