"""Recompute a workspace's chain from storage, streaming, and report the first broken link."""

from __future__ import annotations

from dataclasses import replace
from itertools import islice

from application.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory
from domain.event_search import search_entries
from domain.verification import ChainVerifier, VerificationReport, with_stray_terms

CHUNK_SIZE = 1_000


class VerifyChain:
    def __init__(self, uow_factory: UnitOfWorkFactory, chunk_size: int = CHUNK_SIZE) -> None:
        self._uow_factory = uow_factory
        self._chunk_size = chunk_size

    def execute(self, workspace_id: str, from_sequence: int | None = None,
                to_sequence: int | None = None) -> VerificationReport:
        """Verify ``[from_sequence, to_sequence]`` (default: the whole retained chain).

        A slice starting after the first event trusts that event's stated ``prev_hash``, but
        not its sequence: the slice must hold every sequence from ``from_sequence`` to
        ``to_sequence`` (or the stored chain head). A check reaching the head compares with
        it, so a deleted or rewritten last event is caught, and so is an event past it. A
        reversed range is the caller's to refuse (the API answers it 400).

        Each event's search entries are held against it as well, a chunk at a time: an
        entry changed to hide an event from a search breaks no hash, yet is tampering.
        """
        with self._uow_factory(snapshot=True) as uow:
            chain = uow.chains.retained(workspace_id)
            retained, head = chain.anchor, chain.head
            # Events up to the retention anchor are gone; the chain starts after it.
            start = max(from_sequence or 1, retained.sequence + 1)
            anchor = retained if start == retained.sequence + 1 else None
            verifier = ChainVerifier(anchor, start=start, stop=to_sequence, head=head)
            events = uow.events.iter_chain(workspace_id, start, to_sequence, self._chunk_size)
            chain_terms = 0
            while chunk := list(islice(events, self._chunk_size)):
                stored = uow.events.search_entries(workspace_id, [e.id for e in chunk])
                chain_terms += sum(len(entries.terms) for entries in stored.values())
                if not all(verifier.feed(event.document(),
                                         findable=stored.get(event.id) == search_entries(event))
                           for event in chunk):
                    break
            report = replace(verifier.finish(), anchor=retained if retained.sequence else None)
            whole = from_sequence is None and to_sequence is None
            if whole and report.valid and self._strays(uow, workspace_id, chain_terms):
                return with_stray_terms(report)
            return report

    @staticmethod
    def _strays(uow: UnitOfWork, workspace_id: str, chain_terms: int) -> bool:
        """Whether terms are filed under the workspace beyond those of its chain, whose
        every term verification just found in place, and of its pending events."""
        filed, pending = uow.events.filed_terms(workspace_id)
        return filed != chain_terms + pending
