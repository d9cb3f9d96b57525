"""Table definitions (SQLAlchemy Core). The Alembic migrations are the schema's source of
truth; these mirror them for queries, and a test checks the two agree."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
    false,
    text,
)

from adapters.sql.types import JsonText, UtcDateTime

metadata = MetaData()

workspaces = Table(
    "workspaces", metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("plan", String(20), nullable=False),
    Column("rate_limit_per_minute", Integer),
    Column("ip_allowlist", JSON, nullable=False),
    Column("retention_days", Integer),
    Column("created_at", UtcDateTime, nullable=False),
    Column("record_activity", Boolean, nullable=False, server_default=false()),
    Column("legal_hold", Boolean, nullable=False, server_default=false()),
    Column("accepted_actions", JSON),
    Column("metadata_schemas", Text),
)

chain_heads = Table(
    "chain_heads", metadata,
    Column("workspace_id", String(40), ForeignKey("workspaces.id"), primary_key=True),
    Column("sequence", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("anchor_sequence", BigInteger, nullable=False, server_default="0"),
    Column("anchor_hash", String(64), nullable=False, server_default="0" * 64),
    Column("anchor_note", Text),
)

api_keys = Table(
    "api_keys", metadata,
    Column("id", String(40), primary_key=True),
    Column("workspace_id", String(40), ForeignKey("workspaces.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("prefix", String(8), nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("scopes", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime),
    Column("revoked_at", UtcDateTime),
    Column("last_used_at", UtcDateTime),
    Index("ix_api_keys_secret_hash", "secret_hash", unique=True),
    Index("ix_api_keys_workspace", "workspace_id", "created_at"),
)

events = Table(
    "events", metadata,
    Column("id", String(40), primary_key=True),
    Column("workspace_id", String(40), ForeignKey("workspaces.id"), nullable=False),
    Column("status", String(10), nullable=False),
    Column("sequence", BigInteger),
    Column("action", String(128), nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("actor_id", String(256), nullable=False),
    Column("actor_type", String(256), nullable=False),
    Column("ip_address", String(64)),
    Column("country_code", String(2)),
    Column("body", JsonText, nullable=False),
    Column("geo", JsonText),
    Column("prev_hash", String(64)),
    Column("hash", String(64)),
    Index("ix_events_chain", "workspace_id", "sequence", unique=True),
    Index("ix_events_occurred", "workspace_id", "occurred_at", "id"),
    Index("ix_events_pending", "workspace_id", "received_at", "id",
          postgresql_where=text("status = 'pending'"), sqlite_where=text("status = 'pending'")),
    # one (workspace, filter column, occurred_at, id) index per single-valued filter
    Index("ix_events_action", "workspace_id", "action", "occurred_at", "id"),
    Index("ix_events_actor_id", "workspace_id", "actor_id", "occurred_at", "id"),
    Index("ix_events_actor_type", "workspace_id", "actor_type", "occurred_at", "id"),
    Index("ix_events_ip_address", "workspace_id", "ip_address", "occurred_at", "id"),
    Index("ix_events_country_code", "workspace_id", "country_code", "occurred_at", "id"),
    Index("ix_events_pending_occurred", "workspace_id", "occurred_at", "id",
          postgresql_where=text("status = 'pending'"), sqlite_where=text("status = 'pending'")),
)

event_terms = Table(
    "event_terms", metadata,
    Column("workspace_id", String(40), nullable=False),
    Column("term", String(300), nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    # No foreign key: see migration 0006 (terms are written and deleted with their event).
    Column("event_id", String(40), nullable=False),
    PrimaryKeyConstraint("workspace_id", "term", "occurred_at", "event_id",
                         name="pk_event_terms"),
    Index("ix_event_terms_event", "event_id"),
)

idempotency_keys = Table(
    "idempotency_keys", metadata,
    Column("workspace_id", String(40), ForeignKey("workspaces.id"), nullable=False),
    Column("key", String(255), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("event_ids", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("workspace_id", "key", name="pk_idempotency_keys"),
    Index("ix_idempotency_keys_created", "created_at"),
)

exports = Table(
    "exports", metadata,
    Column("id", String(40), primary_key=True),
    Column("workspace_id", String(40), ForeignKey("workspaces.id"), nullable=False),
    Column("format", String(10), nullable=False),
    Column("gzip", Boolean, nullable=False),
    Column("filters", JSON, nullable=False),
    Column("status", String(10), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("started_at", UtcDateTime),
    Column("completed_at", UtcDateTime),
    Column("expires_at", UtcDateTime),
    Column("heartbeat_at", UtcDateTime),
    Column("row_count", BigInteger),
    Column("size_bytes", BigInteger),
    Column("sha256", String(64)),
    Column("error", String(500)),
    Column("attempts", Integer, nullable=False),
    Column("first_sequence", BigInteger),
    Column("last_sequence", BigInteger),
    # set when a viewer link's reader asked for it: that reader sees only these
    Column("viewer_link_id", String(40),
           ForeignKey("viewer_links.id", name="fk_exports_viewer_link")),
    Index("ix_exports_workspace", "workspace_id", "created_at", "id"),
    Index("ix_exports_status", "status", "created_at"),
    Index("ix_exports_viewer_link", "viewer_link_id", "created_at", "id"),
)

_PENDING = text("status = 'pending'")


def _sending_columns() -> list[Column]:
    """A destination's sending state (``domain.sending``): streams, alert rules, witnesses."""
    return [Column("failures", Integer, nullable=False),
            Column("next_attempt_at", UtcDateTime),
            Column("last_error", String(500)),
            Column("last_delivered_at", UtcDateTime),
            Column("failing_since", UtcDateTime),
            Column("leased_until", UtcDateTime)]


streams = Table(
    "streams", metadata,
    Column("id", String(40), primary_key=True),
    Column("workspace_id", String(40), ForeignKey("workspaces.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("type", String(20), nullable=False),
    Column("url", String(2048), nullable=False),
    Column("credential", LargeBinary, nullable=False),
    Column("credential_hint", String(8), nullable=False),
    Column("options", JSON),
    Column("batch_seconds", Integer),
    Column("actions", JSON),
    Column("status", String(10), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("position", BigInteger, nullable=False),
    Column("deliveries_made", BigInteger, nullable=False),
    *_sending_columns(),
    Index("ix_streams_workspace", "workspace_id", "created_at", "id"),
)

deliveries = Table(
    "deliveries", metadata,
    Column("id", String(40), primary_key=True),
    Column("stream_id", String(40), ForeignKey("streams.id"), nullable=False),
    Column("workspace_id", String(40), nullable=False),
    Column("kind", String(10), nullable=False),
    Column("sequence", BigInteger),
    Column("status", String(10), nullable=False),
    Column("event_count", Integer, nullable=False),
    Column("first_sequence", BigInteger),
    Column("last_sequence", BigInteger),
    Column("actions", JSON),
    Column("attempts", Integer, nullable=False),
    Column("http_status", Integer),
    Column("error", String(500)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_attempt_at", UtcDateTime),
    Column("delivered_at", UtcDateTime),
    Column("checkpoint", Text),
    Index("ix_deliveries_stream", "stream_id", "created_at", "id"),
    Index("ix_deliveries_created", "created_at"),
    Index("ix_deliveries_pending", "stream_id", postgresql_where=_PENDING,
          sqlite_where=_PENDING),
    Index("ix_deliveries_held", "workspace_id", "first_sequence", postgresql_where=_PENDING,
          sqlite_where=_PENDING),
)

alert_rules = Table(
    "alert_rules", metadata,
    Column("id", String(40), primary_key=True),
    Column("workspace_id", String(40), ForeignKey("workspaces.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("actions", JSON, nullable=False),
    Column("actor_ids", JSON),
    Column("countries", JSON),
    Column("countries_not_in", JSON),
    Column("actor_types", JSON),
    Column("target_ids", JSON),
    Column("target_types", JSON),
    Column("match_metadata", JSON),
    Column("threshold_count", Integer),
    Column("threshold_window_seconds", Integer),
    Column("threshold_group_by", String(20)),
    Column("cooldown_seconds", Integer, nullable=False),
    Column("webhook_url", String(2048), nullable=False),
    Column("credential", LargeBinary, nullable=False),
    Column("credential_hint", String(8), nullable=False),
    Column("notify_format", String(16), nullable=False, server_default="auditrail"),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    *_sending_columns(),
    Index("ix_alert_rules_workspace", "workspace_id", "created_at", "id"),
)

alerts = Table(
    "alerts", metadata,
    Column("id", String(40), primary_key=True),
    Column("workspace_id", String(40), nullable=False),
    Column("rule_id", String(40), nullable=False),
    Column("group_key", String(300), nullable=False),
    Column("event_ids", JSON, nullable=False),
    Column("first_sequence", BigInteger, nullable=False),
    Column("trigger_sequence", BigInteger, nullable=False),
    Column("rule", JSON, nullable=False),
    Column("triggered_at", UtcDateTime, nullable=False),
    Column("status", String(10), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", String(500)),
    Column("last_attempt_at", UtcDateTime),
    Column("delivered_at", UtcDateTime),
    Column("checkpoint", Text),
    Index("ix_alerts_workspace", "workspace_id", "triggered_at", "id"),
    Index("ix_alerts_rule", "workspace_id", "rule_id", "triggered_at", "id"),
    Index("ix_alerts_group", "workspace_id", "group_key", "triggered_at", "id"),
    Index("ix_alerts_trigger", "workspace_id", "trigger_sequence"),  # retention's
    Index("ix_alerts_pending", "rule_id", "trigger_sequence", postgresql_where=_PENDING,
          sqlite_where=_PENDING),
    Index("ix_alerts_held", "workspace_id", "first_sequence", postgresql_where=_PENDING,
          sqlite_where=_PENDING),
)

alert_windows = Table(
    "alert_windows", metadata,
    Column("rule_id", String(40), nullable=False),
    Column("group_key", String(300), nullable=False),
    Column("workspace_id", String(40), nullable=False),
    Column("state", JsonText, nullable=False),
    Column("horizon", UtcDateTime),
    Column("updated_at", UtcDateTime, nullable=False),
    # No index on horizon: every chunk rewrites the states it touches, and an unindexed
    # horizon lets PostgreSQL update them in place (HOT); upkeep's purge scans the table.
    # The room on each page that such updates need: revision 0014.
    PrimaryKeyConstraint("rule_id", "group_key", name="pk_alert_windows"),
    postgresql_with={"fillfactor": 70},
)

tree_tiles = Table(
    "tree_tiles", metadata,
    Column("workspace_id", String(40), nullable=False),
    Column("level", SmallInteger, nullable=False),
    Column("tile", BigInteger, nullable=False),
    Column("hashes", LargeBinary, nullable=False),
    PrimaryKeyConstraint("workspace_id", "level", "tile", name="pk_tree_tiles"),
)

checkpoints = Table(
    "checkpoints", metadata,
    Column("workspace_id", String(40), ForeignKey("workspaces.id"), nullable=False),
    Column("tree_size", BigInteger, nullable=False),
    Column("root_hash", String(44), nullable=False),
    Column("note", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("workspace_id", "tree_size", name="pk_checkpoints"),
)

latest_checkpoints = Table(
    # Each workspace's newest checkpoint, kept beside the others by the repository that
    # adds them: the sweep and the status compare it with every chain head, which is a
    # join of two small tables rather than two key walks a workspace.
    "latest_checkpoints", metadata,
    Column("workspace_id", String(40), ForeignKey("workspaces.id"), primary_key=True),
    Column("tree_size", BigInteger, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

key_rotations = Table(
    # Each retired signing key's rotation note, per workspace: kept once signed, so that
    # what pinned the retired key can follow the log after the key is gone.
    "key_rotations", metadata,
    Column("workspace_id", String(40), ForeignKey("workspaces.id"), nullable=False),
    Column("key_id", String(8), nullable=False),
    Column("verifier_key", Text, nullable=False),
    Column("note", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("workspace_id", "key_id", name="pk_key_rotations"),
)

log_witnesses = Table(
    # The witnesses a workspace's log submits its checkpoints to, and where each stands.
    "log_witnesses", metadata,
    Column("id", String(40), primary_key=True),
    Column("workspace_id", String(40), ForeignKey("workspaces.id"), nullable=False),
    Column("url", String(2048), nullable=False),
    Column("verifier_key", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("held_size", BigInteger),
    Column("cosigned_size", BigInteger),
    Column("cosigned_at", UtcDateTime),
    Column("refused", Boolean, nullable=False),
    *_sending_columns(),
    Index("ix_log_witnesses_workspace", "workspace_id", "created_at", "id"),
)

cosignatures = Table(
    # Each witness's cosignature line on each checkpoint it cosigned.
    "cosignatures", metadata,
    Column("workspace_id", String(40), ForeignKey("workspaces.id"), nullable=False),
    Column("witness_id", String(40), ForeignKey("log_witnesses.id"), nullable=False),
    Column("tree_size", BigInteger, nullable=False),
    Column("line", Text, nullable=False),
    PrimaryKeyConstraint("workspace_id", "witness_id", "tree_size", name="pk_cosignatures"),
    Index("ix_cosignatures_size", "workspace_id", "tree_size"),
)

viewer_links = Table(
    "viewer_links", metadata,
    # the link's credential is the API key of the same id (scope "viewer")
    Column("id", String(40), ForeignKey("api_keys.id"), primary_key=True),
    Column("workspace_id", String(40), ForeignKey("workspaces.id"), nullable=False),
    Column("filters", JSON, nullable=False),
    Column("allow_export", Boolean, nullable=False),
    Column("title", String(200)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime),
    Index("ix_viewer_links_workspace", "workspace_id", "created_at"),
)

chain_checks = Table(
    # The latest scheduled check of each workspace's chain, and the claim on the next one.
    "chain_checks", metadata,
    Column("workspace_id", String(40), ForeignKey("workspaces.id"), primary_key=True),
    Column("checked_at", UtcDateTime),
    Column("valid", Boolean),
    Column("checked", BigInteger, nullable=False),
    Column("reason", String(40)),
    Column("first_invalid_sequence", BigInteger),
    Column("event_id", String(40)),
    Column("detail", String(40)),
    Column("invalid_since", UtcDateTime),
    Column("claimed_until", UtcDateTime),
    Column("deleting", Boolean, nullable=False, server_default=false()),
    Index("ix_chain_checks_checked", "checked_at"),
)
