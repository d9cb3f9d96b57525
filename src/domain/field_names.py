"""Naming the field a caller most likely meant when they sent one the API does not know."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping

UNKNOWN_FIELD = "Unknown field."


def unknown_field(name: str, known: Iterable[str],
                  belongs: Mapping[str, str] | None = None) -> str:
    """The message for a body field ``name`` that is not one of ``known``."""
    meant = meant_field(name, known, belongs)
    return f"Unknown field; did you mean '{meant}'?" if meant else UNKNOWN_FIELD


def meant_field(name: str, known: Iterable[str],
                belongs: Mapping[str, str] | None = None) -> str | None:
    """The field probably meant by ``name``, which is not one of ``known``: where a field
    of that name belongs (``belongs``: an event's top-level ``ip_address`` is
    ``context.ip_address``), or a known one it is a slip of (``occured_at``,
    ``occurredAt``, ``Action``); None when nothing is close. Strict schemas refuse typos,
    and saying which name was meant spares the caller a second round trip."""
    return (belongs or {}).get(name) or _alike(name, known)


def _alike(name: str, known: Iterable[str]) -> str | None:
    by_form = {_form(candidate): candidate for candidate in known}
    form = _form(name)
    if form in by_form:  # another case or separator: occurredAt, Actor_ID
        return by_form[form]
    longer = [candidate for candidate_form, candidate in by_form.items()
              if len(form) >= 4 and candidate_form.startswith(form)]
    if len(longer) == 1:  # the start of one name: cooldown for cooldown_seconds
        return longer[0]
    close = difflib.get_close_matches(form, list(by_form), n=1, cutoff=0.75)
    if close:
        return by_form[close[0]]
    near = [candidate for candidate_form, candidate in by_form.items()
            if len(form) >= 3 and _one_edit(form, candidate_form)]
    return near[0] if len(near) == 1 else None  # short names: uri for url


def _one_edit(a: str, b: str) -> bool:
    """Whether one letter changed, added or dropped, or two neighbours swapped, turns ``a``
    into ``b`` (difflib's ratio is low for names of three or four letters)."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) != len(b):
        short, long = sorted((a, b), key=len)
        return any(long[:i] + long[i + 1:] == short for i in range(len(long)))
    differ = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
    return len(differ) == 1 or (len(differ) == 2 and differ[1] == differ[0] + 1
                                and a[differ[0]] == b[differ[1]] and a[differ[1]] == b[differ[0]])


def _form(name: str) -> str:
    return name.lower().replace("_", "").replace("-", "")
