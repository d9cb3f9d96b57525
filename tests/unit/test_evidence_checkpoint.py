"""A file holding the chain from sequence 1 (an S3 stream's archive) proved against a
checkpoint the log signed, without evidence: the rows the checkpoint covers must rebuild
its root; those after it are left to the hash chain."""

from __future__ import annotations

import pytest

from domain.evidence import EvidenceCheck, EvidenceFailed
from domain.signed_notes import VerifierKey, key_id
from tests.unit.test_evidence_cosigned import CHECK, LOG, ORIGIN, OTHER, note
from tests.unit.test_witness import LEAVES

LOG_KEY = VerifierKey(ORIGIN, key_id(ORIGIN, LOG.public_key()), LOG.public_key())
OTHER_LOG_KEY = VerifierKey(ORIGIN, key_id(ORIGIN, OTHER.public_key()), OTHER.public_key())


def fed(leaves: list[bytes], signed: str) -> EvidenceCheck:
    """A file of ``leaves`` from sequence 1, checked against the checkpoint ``signed``."""
    check = EvidenceCheck.of_checkpoint(signed, LOG_KEY, CHECK.verify)
    for sequence, leaf in enumerate(leaves, 1):
        check.feed({"sequence": sequence}, leaf)
    check.finish()
    return check


def test_a_signed_checkpoint_proves_the_rows_it_covers_and_leaves_the_rest_to_the_chain(
        ) -> None:
    check = fed(LEAVES[:8], note(5))  # an archive the stream went on writing
    assert (check.rows, check.checkpoint.tree_size, check.prefix) == (5, 5, True)


def test_a_row_changed_under_the_checkpoint_or_a_file_that_stops_short_is_refused() -> None:
    altered = [*LEAVES[:8]]
    altered[2] = bytes(32)
    with pytest.raises(EvidenceFailed, match="do not rebuild the signed root"):
        fed(altered, note(5))
    assert fed(altered[:2] + LEAVES[2:8], note(5)).rows == 5  # the same rows, unchanged
    with pytest.raises(EvidenceFailed, match="ends at row 3, before the checkpoint's tree "
                                             "of size 5"):
        fed(LEAVES[:3], note(5))
    with pytest.raises(EvidenceFailed, match="no signature by"):
        EvidenceCheck.of_checkpoint(note(5), OTHER_LOG_KEY, CHECK.verify)
