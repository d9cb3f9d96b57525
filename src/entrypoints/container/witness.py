"""The witness's container (``auditrail witness serve``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from dependency_injector import containers, providers

from adapters.security.signing import Ed25519Signer, Ed25519Verifier, load_or_create_seed, seed_from
from adapters.sql.engine import build_engine
from adapters.sql.witness_ledger import SqlWitnessLedger
from adapters.system import SystemClock
from application.witness import Witness


def _witness_signer(key: str, key_file: str) -> Ed25519Signer:
    """``AUDITRAIL_WITNESS_KEY``, else a key generated once into ``key_file`` (0600)."""
    if key:
        return Ed25519Signer(seed_from(key))
    return Ed25519Signer(load_or_create_seed(Path(key_file)))


class WitnessContainer(containers.DeclarativeContainer):
    """``auditrail witness serve``: nothing of a log's installation, only the witness's own
    key and memory."""

    name = providers.Dependency(instance_of=str)
    key = providers.Dependency(instance_of=str)
    key_file = providers.Dependency(instance_of=str)
    database_url = providers.Dependency(instance_of=str)
    logs = providers.Dependency(instance_of=Mapping)  # type: ignore[type-abstract]
    """Each origin's trusted keys (``entrypoints.witness_logs.WitnessLogs``)."""

    signer = providers.Singleton(_witness_signer, key, key_file)
    ledger = providers.Singleton(SqlWitnessLedger,
                                 engine=providers.Singleton(build_engine, database_url))
    witness = providers.Singleton(
        Witness, name=name, signer=signer, checker=providers.Singleton(Ed25519Verifier),
        ledger=ledger, clock=providers.Singleton(SystemClock), logs=logs)
