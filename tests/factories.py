"""factory-boy factories for the domain entities."""

from __future__ import annotations

from datetime import UTC, datetime

import factory

from domain.api_keys import ApiKey, hash_secret
from domain.events import Event
from domain.exports import Export
from domain.workspaces import Workspace

NOW = datetime(2026, 11, 26, 13, 0, tzinfo=UTC)


class WorkspaceFactory(factory.Factory):
    class Meta:
        model = Workspace

    id = factory.Sequence(lambda n: f"ws_{n:026d}")
    name = factory.Sequence(lambda n: f"Workspace {n}")
    plan = "free"
    created_at = NOW


class ApiKeyFactory(factory.Factory):
    class Meta:
        model = ApiKey

    class Params:
        secret = factory.Sequence(lambda n: f"ak_{n:040d}")

    id = factory.Sequence(lambda n: f"key_{n:026d}")
    workspace_id = factory.LazyFunction(lambda: WorkspaceFactory().id)
    name = "test key"
    prefix = factory.LazyAttribute(lambda key: key.secret[:8])
    secret_hash = factory.LazyAttribute(lambda key: hash_secret(key.secret))
    scopes = ("admin",)
    created_at = NOW


class EventFactory(factory.Factory):
    class Meta:
        model = Event

    id = factory.Sequence(lambda n: f"evt_{n:026d}")
    workspace_id = "ws_00000000000000000000000001"
    action = "user.login"
    occurred_at = NOW
    received_at = NOW
    actor = factory.LazyFunction(lambda: {"id": "usr_1", "type": "user"})
    targets = factory.LazyFunction(list)
    context = factory.LazyFunction(dict)
    metadata = factory.LazyFunction(dict)


class ExportFactory(factory.Factory):
    class Meta:
        model = Export

    id = factory.Sequence(lambda n: f"exp_{n:026d}")
    workspace_id = "ws_00000000000000000000000001"
    format = "ndjson"
    created_at = NOW
