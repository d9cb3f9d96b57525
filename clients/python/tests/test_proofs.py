"""The client's own proof code, without a server: RFC 8785 numbers, RFC 9162 proofs built
here from the definitions, and signed notes made with a key of the test's."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import example, given, settings
from hypothesis import strategies as st

from auditrail_client import Monitor, MonitorAlarm
from auditrail_client.models import LogKey
from auditrail_client.proofs import (
    ProofInvalid,
    canonical_json,
    check_checkpoint,
    jcs,
    leaf_hash,
    node_hash,
    parse_verifier_key,
    successor_of,
    successors,
    verify_consistency,
    verify_inclusion,
)


@pytest.mark.parametrize(("number", "text"), [
    (0.0, "0"), (-0.0, "0"), (5.0, "5"), (0.1, "0.1"), (-0.5, "-0.5"), (1e21, "1e+21"),
    (1e20, "100000000000000000000"), (1e-7, "1e-7"), (1e-6, "0.000001"),
    (123456789012345680000.0, "123456789012345680000"), (5e-324, "5e-324"),
    (1.7976931348623157e308, "1.7976931348623157e+308"), (4.5, "4.5"),
    (0.000001234, "0.000001234"), (1.5e-7, "1.5e-7"), (2.5e25, "2.5e+25"),
])
def test_numbers_print_as_ecmascript_prints_them(number: float, text: str) -> None:
    assert canonical_json(number) == text


def test_keys_sort_by_utf16_code_units_and_strings_escape_as_jcs() -> None:
    # U+FB33 sorts after U+1F600, whose UTF-16 form starts with 0xD83D (RFC 8785 §3.2.3)
    assert canonical_json({"b": 1, "a": [True, None], "\ufb33": 1, "\U0001f600": 2}) == \
        '{"a":[true,null],"b":1,"\U0001f600":2,"\ufb33":1}'
    assert canonical_json("\u2028\x01\"\\é") == '"\u2028\\u0001\\"\\\\é"'


MAX_SAFE = 2**53 - 1
texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
scalars = (st.none() | st.booleans() | st.integers(-MAX_SAFE, MAX_SAFE)
           | st.floats(allow_nan=False, allow_infinity=False) | texts)
documents = st.recursive(scalars, lambda inner: st.lists(inner, max_size=5)
                         | st.dictionaries(texts, inner, max_size=5), max_leaves=30)


@settings(max_examples=1500, deadline=None)
@given(documents)
@example({"\U0001f600": 1, "\ue000": 2, "a": [1.0, -0.0, 1e21, 1e-7, 0.1, 5e-324]})
@example({"ctl": "\x00\x1f\x7f\u2028\"\\", "n": [1e16, 9007199254740993.0, 123.456]})
def test_the_fast_path_writes_what_the_rules_written_out_write(document: object) -> None:
    assert canonical_json(document) == jcs(document)


def root(leaves: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1, straight from the definition."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return node_hash(root(leaves[:k]), root(leaves[k:]))


def path(index: int, leaves: list[bytes]) -> list[bytes]:
    if len(leaves) <= 1:
        return []
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    if index < k:
        return [*path(index, leaves[:k]), root(leaves[k:])]
    return [*path(index - k, leaves[k:]), root(leaves[:k])]


def subproof(m: int, leaves: list[bytes], complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [root(leaves)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return [*subproof(m, leaves[:k], complete), root(leaves[k:])]
    return [*subproof(m - k, leaves[k:], False), root(leaves[:k])]


LEAVES = [leaf_hash(bytes([i])) for i in range(23)]


def test_every_inclusion_proof_verifies_and_a_wrong_one_does_not() -> None:
    for size in range(1, 24):
        tree = LEAVES[:size]
        for index in range(size):
            proof = path(index, tree)
            assert verify_inclusion(index, size, tree[index], proof, root(tree))
            assert not verify_inclusion(index, size, leaf_hash(b"x"), proof, root(tree))
            if size > 1:
                assert not verify_inclusion((index + 1) % size, size, tree[index], proof,
                                            root(tree))


def test_every_consistency_proof_verifies_and_a_wrong_one_does_not() -> None:
    for new in range(1, 24):
        for old in range(1, new + 1):
            proof = subproof(old, LEAVES[:new], True)
            old_root, new_root = root(LEAVES[:old]), root(LEAVES[:new])
            assert verify_consistency(old, new, old_root, new_root, proof)
            if old < new:
                assert not verify_consistency(old, new, root(LEAVES[1:old + 1]), new_root,
                                              proof)


def signed_note(text: str, name: str, key: Ed25519PrivateKey) -> tuple[str, str]:
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    key_id = hashlib.sha256(name.encode() + b"\n\x01" + public).digest()[:4]
    signature = base64.b64encode(key_id + key.sign(text.encode())).decode()
    material = base64.b64encode(b"\x01" + public).decode()
    verifier = f"{name}+{key_id.hex()}+{material}"
    return f"{text}\n\u2014 {name} {signature}\n", verifier


def test_a_checkpoint_is_accepted_only_with_the_pinned_keys_signature() -> None:
    key, name = Ed25519PrivateKey.generate(), "log.example/ws_1"
    text = f"{name}\n7\n{base64.b64encode(bytes(32)).decode()}\n"
    note, verifier = signed_note(text, name, key)
    checkpoint = check_checkpoint(note, verifier)
    assert (checkpoint.origin, checkpoint.tree_size) == (name, 7)
    with pytest.raises(ProofInvalid, match="does not verify"):
        check_checkpoint(note.replace("\n7\n", "\n8\n"), verifier)
    _, stranger = signed_note(text, name, Ed25519PrivateKey.generate())
    with pytest.raises(ProofInvalid):
        check_checkpoint(note, stranger)
    with pytest.raises(ProofInvalid, match="id does not match"):
        parse_verifier_key(verifier.replace(verifier.split("+")[1], "00000000"))


def test_a_key_pinned_before_a_rotation_checks_by_its_rotation_notes() -> None:
    name = "log.example/ws_1"
    old, new = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    text = f"{name}\n7\n{base64.b64encode(bytes(32)).decode()}\n"
    _, old_vkey = signed_note(text, name, old)
    note, new_vkey = signed_note(text, name, new)  # the old key is gone: the new one alone
    hand_over = f"{name}\nkey rotation\n{new_vkey}\n"
    with pytest.raises(ProofInvalid, match="no signature by"):
        check_checkpoint(note, old_vkey)
    assert check_checkpoint(note, old_vkey, [signed_note(hand_over, name, old)[0]]
                            ).tree_size == 7
    with pytest.raises(ProofInvalid, match="no signature by"):  # a note the old key did not sign
        check_checkpoint(note, old_vkey, [signed_note(hand_over, name, new)[0]])


class _Log:
    """What ``Monitor`` asks of ``client.log``: a log of fixed size whose key rotates."""

    def __init__(self) -> None:
        self.note, self.previous_keys = "", []

    def checkpoint(self) -> str:
        return self.note

    def key(self) -> LogKey:
        return LogKey.from_json({"previous_keys": self.previous_keys})


def cosigned(text: str, name: str, *keys: Ed25519PrivateKey) -> str:
    notes = [signed_note(text, name, key)[0] for key in keys]
    return notes[0] + "".join(note.rpartition("\n\n")[2] for note in notes[1:])


def test_the_monitor_follows_the_pinned_keys_own_rotation_note(tmp_path) -> None:
    name, old, new = "log.example/ws_1", Ed25519PrivateKey.generate(), \
        Ed25519PrivateKey.generate()
    text = f"{name}\n7\n{base64.b64encode(bytes(32)).decode()}\n"
    old_vkey, new_vkey = signed_note(text, name, old)[1], signed_note(text, name, new)[1]
    log, state = _Log(), tmp_path / "state.json"
    client = type("Client", (), {"log": log})()
    log.note = cosigned(text, name, old)
    assert Monitor(client, old_vkey, state).check().rotated_to is None

    forged, _ = signed_note(f"{name}\nkey rotation\n{new_vkey}\n", name,
                            Ed25519PrivateKey.generate())  # not the pinned key's
    log.note, log.previous_keys = cosigned(text, name, new), [{"rotation": forged}]
    with pytest.raises(MonitorAlarm, match="no signature by"):
        Monitor(client, old_vkey, state).check()

    rotation, _ = signed_note(f"{name}\nkey rotation\n{new_vkey}\n", name, old)
    log.note, log.previous_keys = cosigned(text, name, new, old), [{"rotation": rotation}]
    assert successor_of(old_vkey, [rotation]) == parse_verifier_key(new_vkey)
    assert Monitor(client, old_vkey, state).check().rotated_to == new_vkey
    kept = json.loads(state.read_text())
    assert (kept["verifier_key"], kept["rotated_from"]) == (new_vkey, [old_vkey])
    log.note, log.previous_keys = cosigned(text, name, new), []  # the old key retired
    assert Monitor(client, old_vkey, state).check().rotated_to is None  # pinned: new
    with pytest.raises(MonitorAlarm, match="differs"):
        Monitor(client, signed_note(text, name, Ed25519PrivateKey.generate())[1],
                state).check()


def test_a_monitor_asleep_over_two_rotations_follows_both_notes(tmp_path) -> None:
    name = "log.example/ws_1"
    first, second, third = (Ed25519PrivateKey.generate() for _ in range(3))
    text = f"{name}\n9\n{base64.b64encode(bytes(32)).decode()}\n"
    first_vkey, second_vkey, third_vkey = (signed_note(text, name, key)[1]
                                           for key in (first, second, third))
    log, state = _Log(), tmp_path / "state.json"
    client = type("Client", (), {"log": log})()
    log.note = cosigned(text, name, first)
    Monitor(client, first_vkey, state).check()
    # Both rotations happened while it slept; neither earlier key signs any more.
    hand_overs = [signed_note(f"{name}\nkey rotation\n{second_vkey}\n", name, first)[0],
                  signed_note(f"{name}\nkey rotation\n{third_vkey}\n", name, second)[0]]
    log.note, log.previous_keys = cosigned(text, name, third), [
        {"rotation": note} for note in reversed(hand_overs)]
    assert successors(first_vkey, hand_overs) == [parse_verifier_key(second_vkey),
                                                  parse_verifier_key(third_vkey)]
    assert Monitor(client, first_vkey, state).check().rotated_to == third_vkey
    kept = json.loads(state.read_text())
    assert (kept["verifier_key"], kept["rotated_from"]) == (third_vkey, [first_vkey])
    log.previous_keys = [{"rotation": hand_overs[0]}]  # the second hand-over missing
    with pytest.raises(MonitorAlarm, match="no signature by"):
        Monitor(client, first_vkey, tmp_path / "other.json").check()


def test_a_retention_anchor_is_read_only_with_the_logs_signature() -> None:
    from auditrail_client.proofs import check_anchor

    key, name = Ed25519PrivateKey.generate(), "log.example/ws_1"
    root_hash = base64.b64encode(bytes(range(32))).decode()
    text = f"{name}\nretention anchor\n300\n{'a' * 64}\n{root_hash}\n"
    note, verifier = signed_note(text, name, key)
    anchor = check_anchor(note, verifier)
    assert (anchor.origin, anchor.sequence, anchor.root_hash) == (name, 300, bytes(range(32)))
    _, other = signed_note(text, name, Ed25519PrivateKey.generate())
    with pytest.raises(ProofInvalid):
        check_anchor(note, other)
    checkpoint, _ = signed_note(f"{name}\n7\n{root_hash}\n", name, key)
    with pytest.raises(ProofInvalid, match="not a retention anchor"):
        check_anchor(checkpoint, verifier)


@pytest.mark.parametrize(("level", "index", "width", "path"), [
    (0, 1234067, None, "0/x001/x234/067"), (0, 5, 12, "0/005.p/12"), (2, 1000, 256,
                                                                     "2/x001/000")])
def test_tile_paths_are_spelled_as_tlog_tiles_spells_them(level: int, index: int,
                                                         width: int | None,
                                                         path: str) -> None:
    from auditrail_client.proofs import tile_path
    assert tile_path(level, index, width) == path


def test_one_proof_holds_a_whole_bundle_to_the_root() -> None:
    from auditrail_client.proofs import bundle_in_tree, split_bundle, tree_hash

    entries = [f"event {n}".encode() for n in range(600)]
    leaves = [leaf_hash(entry) for entry in entries]
    assert tree_hash(leaves) == root(leaves)
    for index, width in ((0, 256), (1, 256), (2, 88)):
        bundle = entries[index * 256:index * 256 + width]
        proof = path(index * 256, leaves)
        assert bundle_in_tree(index, 600, bundle, proof, root(leaves))
        assert not bundle_in_tree(index, 600, [*bundle[1:], bundle[0]], proof, root(leaves))
    packed = b"".join(len(e).to_bytes(2, "big") + e for e in entries[:3])
    assert split_bundle(packed) == entries[:3]
    with pytest.raises(ProofInvalid):
        split_bundle(packed[:-1])
