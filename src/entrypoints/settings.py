"""Settings come from environment variables only (docs/reference.md lists them), read
and checked by a marshmallow schema as the API's input is."""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, validates_schema
from marshmallow.validate import OneOf, Range
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

EMBEDDED = "embedded"
PRODUCTION = "production"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
PREFIX = "AUDITRAIL_"
PLACEHOLDER = "change-me"
"""What the documentation's example secrets hold: never part of a running service's secret."""


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
        if any(PLACEHOLDER in key.lower()
               for key in (self.secret_key or "", *self.previous_secret_keys)):
            # The documentation's example, left in an environment file: public, so anyone
            # who read it could sign export links and open sealed stream credentials.
            raise SettingsError("AUDITRAIL_SECRET_KEY (or a previous one) is the "
                                "documentation's placeholder: set 32+ random characters, "
                                "from e.g. python3 -c 'import secrets; "
                                "print(secrets.token_urlsafe(32))'")
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
        """Every ``AUDITRAIL_`` variable that is set and not blank; a variable left out
        keeps its default. Every invalid one is named at once, and no secret's value is
        echoed (keys, the database URL's password)."""
        env = os.environ if env is None else env
        given = {name: value.strip() for name, value in env.items()
                 if name.startswith(PREFIX) and value.strip()}
        try:
            return cls(**_VARIABLES.load(given))
        except ValidationError as error:
            raise SettingsError(_described(error.normalized_messages())) from None


def _described(messages: dict[str, Any]) -> str:
    """``AUDITRAIL_A must be …; AUDITRAIL_B must be …`` (no message holds a semicolon), in
    the variables' order."""
    said = []
    for name, problems in sorted(messages.items()):
        for problem in problems if isinstance(problems, list) else [problems]:
            said.append(problem if name == "_schema" else f"{name} {problem}")
    return "; ".join(said)


def _text(name: str, check: Callable[[str], None] | None = None) -> fields.String:
    return fields.String(data_key=PREFIX + name, validate=check)


def _whole(name: str, minimum: int = 0, maximum: int | None = None) -> fields.Integer:
    return fields.Integer(data_key=PREFIX + name, validate=_within(minimum, maximum),
                          error_messages={"invalid": "must be a whole number"})


def _seconds(name: str, maximum: float) -> fields.Float:
    return fields.Float(data_key=PREFIX + name, validate=_within(0, maximum),
                        error_messages={"invalid": "must be a number of seconds",
                                        "special": "must be a number of seconds"})


def _within(minimum: float, maximum: float | None) -> Range:
    if maximum is None:
        return Range(min=minimum, error="must be at least {min}")
    return Range(min=minimum, max=maximum, error="must be between {min} and {max}")


def _flag(name: str) -> fields.Boolean:
    return fields.Boolean(data_key=PREFIX + name, truthy={"1"}, falsy={"0"},
                          error_messages={"invalid": "must be 0 or 1"})


class _Words(fields.Field):
    """A space-separated list, each word checked by ``each``."""

    def __init__(self, name: str, each: Callable[[str], None] | None = None) -> None:
        super().__init__(data_key=PREFIX + name)
        self._each = each

    def _deserialize(self, value: Any, attr: str | None, data: Any,
                     **kwargs: Any) -> tuple[str, ...]:
        words = tuple(str(value).split())
        if self._each is not None:
            for word in words:
                self._each(word)
        return words


def _signing_key(raw: str) -> None:
    """Never echoed: it is the log's private key."""
    try:
        if len(base64.b64decode(raw.encode("ascii"), validate=True)) == 32:
            return
    except (binascii.Error, UnicodeError, ValueError):
        pass
    raise ValidationError("must be base64 of a 32-byte Ed25519 seed (`auditrail "
                          "signing-key generate` prints one)")


def _origin(origin: str) -> None:
    """Origins that may embed the viewer, e.g. ``https://app.example.com``: scheme, host
    and port only, as a Content-Security-Policy's frame-ancestors takes them."""
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.hostname or \
            parts.path not in ("", "/") or parts.query or parts.fragment or \
            any(c in origin for c in ";,'\""):
        raise ValidationError(f"holds {origin!r}, not an origin such as "
                              f"https://app.example.com")


def _log_name(raw: str) -> None:
    if any(c.isspace() for c in raw) or "+" in raw:
        raise ValidationError("must have no spaces and no '+' (it names the signing key "
                              "in every checkpoint)")


def _database_url(raw: str) -> None:
    """Checked at start, so a typo is named instead of failing the first query. The value
    is never echoed: it may hold a password."""
    try:
        backend = make_url(raw).get_backend_name()
    except ArgumentError:
        raise ValidationError("is not a database URL such as "
                              "postgresql+psycopg://user@host:5432/auditrail") from None
    if backend not in ("postgresql", "sqlite"):
        raise ValidationError(f"names {backend}: Auditrail runs on PostgreSQL (or SQLite, "
                              f"embedded)")


def _redis_url(raw: str) -> None:
    if urlsplit(raw).scheme not in ("redis", "rediss", "unix"):
        raise ValidationError("must start with redis://, rediss:// or unix://")


def _public_url(raw: str) -> None:
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query \
            or parts.fragment:
        raise ValidationError("must be an http(s) base URL such as "
                              "https://audit.example.com")


class _Variables(Schema):
    """The variables, each named by its ``data_key``; one left out takes its default from
    ``Settings``, which holds each default once."""

    class Meta:
        unknown = EXCLUDE  # the environment holds much else (other AUDITRAIL_ tools' too)

    data_dir = fields.Function(deserialize=Path, data_key=PREFIX + "DATA_DIR")
    database_url = _text("DATABASE_URL", _database_url)
    redis_url = _text("REDIS_URL", _redis_url)
    geoip_db = _text("GEOIP_DB")
    secret_key = _text("SECRET_KEY")
    previous_secret_keys = _Words("PREVIOUS_SECRET_KEYS")
    export_ttl_seconds = _whole("EXPORT_TTL_SECONDS", minimum=1)
    download_link_ttl_seconds = _whole("DOWNLOAD_LINK_TTL_SECONDS", minimum=1)
    trusted_proxies = _whole("TRUSTED_PROXIES")
    public_url = _text("PUBLIC_URL", _public_url)
    log_level = fields.Function(
        deserialize=str.upper, data_key=PREFIX + "LOG_LEVEL",
        validate=OneOf(LOG_LEVELS, error="must be DEBUG, INFO, WARNING or ERROR"))
    requeue_after_seconds = _whole("REQUEUE_AFTER_SECONDS", minimum=1)
    queue_name = _text("QUEUE_NAME")
    auth_cache_seconds = _whole("AUTH_CACHE_SECONDS")
    allow_private_destinations = _flag("ALLOW_PRIVATE_DESTINATIONS")
    delivery_timeout_seconds = _whole("DELIVERY_TIMEOUT_SECONDS", minimum=1, maximum=60)
    delivery_log_days = _whole("DELIVERY_LOG_DAYS", minimum=1)
    stream_batch_seconds = _seconds("STREAM_BATCH_SECONDS", maximum=60)
    signing_key = _text("SIGNING_KEY", _signing_key)
    previous_signing_keys = _Words("PREVIOUS_SIGNING_KEYS", each=_signing_key)
    signing_key_lost = _flag("SIGNING_KEY_LOST")
    log_name = _text("LOG_NAME", _log_name)
    viewer_frame_ancestors = _Words("VIEWER_FRAME_ANCESTORS", each=_origin)
    checkpoint_seconds = _whole("CHECKPOINT_SECONDS", minimum=1, maximum=3600)
    chain_check_hours = _whole("CHAIN_CHECK_HOURS", maximum=8760)
    chain_check_request_minutes = _whole("CHAIN_CHECK_REQUEST_MINUTES", minimum=1,
                                         maximum=10080)
    query_timeout_seconds = _seconds("QUERY_TIMEOUT_SECONDS", maximum=3600)
    verifications_at_once = _whole("VERIFICATIONS_AT_ONCE")

    @validates_schema(skip_on_field_errors=True)
    def _signing_keys_apart(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("signing_key") in data.get("previous_signing_keys", ()):
            raise ValidationError(f"{PREFIX}PREVIOUS_SIGNING_KEYS holds "
                                  f"{PREFIX}SIGNING_KEY itself: list only the keys it "
                                  f"replaced")

    @post_load
    def _origins_bare(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """``https://app.example.com/`` as ``https://app.example.com``, as CSP wants."""
        if "viewer_frame_ancestors" in data:
            data["viewer_frame_ancestors"] = tuple(
                origin.rstrip("/") for origin in data["viewer_frame_ancestors"])
        return data


_VARIABLES = _Variables()
