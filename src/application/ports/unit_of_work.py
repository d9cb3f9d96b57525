"""The unit of work: one transaction and the repositories that share it."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Protocol

from application.ports.repositories.alerts import (
    AlertRepository,
    AlertRuleRepository,
    AlertWindowRepository,
)
from application.ports.repositories.chains import ChainCheckRepository, ChainHeadRepository
from application.ports.repositories.events import EventRepository, IdempotencyRepository
from application.ports.repositories.exports import ExportRepository
from application.ports.repositories.streams import DeliveryRepository, StreamRepository
from application.ports.repositories.transparency import (
    CheckpointRepository,
    LogWitnessRepository,
    TreeRepository,
)
from application.ports.repositories.viewer_links import ViewerLinkRepository
from application.ports.repositories.workspaces import (
    ApiKeyRepository,
    SealedCredentialRepository,
    WorkspaceRepository,
)


class UnitOfWork(Protocol):
    workspaces: WorkspaceRepository
    api_keys: ApiKeyRepository
    events: EventRepository
    chains: ChainHeadRepository
    chain_checks: ChainCheckRepository
    idempotency: IdempotencyRepository
    exports: ExportRepository
    streams: StreamRepository
    deliveries: DeliveryRepository
    alert_rules: AlertRuleRepository
    alerts: AlertRepository
    alert_windows: AlertWindowRepository
    tree: TreeRepository
    checkpoints: CheckpointRepository
    log_witnesses: LogWitnessRepository
    viewer_links: ViewerLinkRepository
    sealed_credentials: SealedCredentialRepository

    def __enter__(self) -> UnitOfWork: ...

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        """Roll back whatever was not committed."""
        ...

    def commit(self) -> None: ...


UnitOfWorkFactory = Callable[..., UnitOfWork]
"""Makes a fresh unit of work. ``read_only=True`` lets a store skip its write lock and its
transaction round trips; ``snapshot=True`` asks for one consistent view across many reads;
``single_write=True`` promises exactly one repository write, which every repository makes
atomic on its own, so a store may skip the transaction round trips for it too.
``time_limit=seconds`` stops the unit's statements once together they run longer, raising
``QueryTimedOut``: for reads whose cost an API caller's filters decide, so that one broad
question cannot hold a database connection and a request thread for minutes."""
