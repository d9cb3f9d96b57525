"""The fast canonical form must be byte-identical to the reference RFC 8785 implementation."""

from __future__ import annotations

import math

import rfc8785
from hypothesis import example, given, settings
from hypothesis import strategies as st

from domain.canonical_json import canonical_json

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
def test_matches_the_reference_implementation(document: object) -> None:
    assert canonical_json(document) == rfc8785.dumps(document)


def test_rfc_8785_number_examples() -> None:
    """Appendix B of RFC 8785: IEEE 754 values and their canonical text."""
    cases = [(0.0, "0"), (-0.0, "0"), (5e-324, "5e-324"),
             (1.7976931348623157e308, "1.7976931348623157e+308"),
             (9007199254740992.0, "9007199254740992"), (9007199254740994.0, "9007199254740994"),
             (295147905179352830000.0, "295147905179352830000"), (1e21, "1e+21"),
             (1e-7, "1e-7"), (0.000001, "0.000001"), (333333333.3333332, "333333333.3333332"),
             (1e23, "1e+23")]
    for number, text in cases:
        assert math.isfinite(number)
        assert canonical_json(number).decode() == text


def test_sorts_keys_by_utf16_code_units() -> None:
    assert canonical_json({"\ue000": 1, "\U0001f600": 2}) == \
        '{"\U0001f600":2,"\ue000":1}'.encode()
