"""``auditrail secret-key reseal``: the last step of rotating the secret key."""

from __future__ import annotations

from dataclasses import dataclass, replace

from application.ports.delivery import CredentialUnreadable, CredentialVault
from application.ports.repositories.workspaces import SealedCredential
from application.ports.unit_of_work import UnitOfWorkFactory

BATCH = 500


@dataclass(frozen=True)
class Resealed:
    resealed: int
    unreadable: list[SealedCredential]
    """Sealed with a key that is neither the current one nor a listed previous one: left
    as they are, and named, since their streams and rules cannot deliver until their
    credential is set again."""


class ResealCredentials:
    """Seal every stored credential with the current secret key, so that the previous keys
    can be dropped from the settings without losing a stream's or a rule's credential.
    Batches of ``BATCH``, each its own transaction: a rerun after an interruption finds the
    ones already done and reseals them again, harmlessly."""

    def __init__(self, uow_factory: UnitOfWorkFactory, vault: CredentialVault) -> None:
        self._uow_factory = uow_factory
        self._vault = vault

    def execute(self) -> Resealed:
        resealed, unreadable = 0, []
        after: SealedCredential | None = None
        while True:
            with self._uow_factory() as uow:
                batch = uow.sealed_credentials.page(after, BATCH)
                for credential in batch:
                    try:
                        sealed = self._vault.reseal(credential.sealed)
                    except CredentialUnreadable:
                        unreadable.append(credential)
                        continue
                    uow.sealed_credentials.replace(replace(credential, sealed=sealed))
                    resealed += 1
                uow.commit()
            if len(batch) < BATCH:
                return Resealed(resealed, unreadable)
            after = batch[-1]
