"""The container of the commands that check what a log signed without being part of its
installation (``auditrail verify``, ``auditrail log monitor``): an auditor's machine has
no database or queue of the log's, only the files and answers it checks."""

from __future__ import annotations

from dependency_injector import containers, providers

from adapters.security.signing import Ed25519Verifier


class OfflineContainer(containers.DeclarativeContainer):
    signature_checker = providers.Singleton(Ed25519Verifier)
