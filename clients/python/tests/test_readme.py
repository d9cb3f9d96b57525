"""The README's Python examples against the client they describe: they are fragments (a key
to fill in, a ``history`` of your own), so they are not run, but each must be Python, and
every name it imports, every method it calls on the client or on what it imports, and
every keyword it passes them must exist. A method or keyword renamed in the client, and
not in the README, fails here rather than in an integrator's first hour."""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import auditrail_client
from auditrail_client import Auditrail
from auditrail_client.emitter import Emitter

README = Path(__file__).resolve().parents[1] / "README.md"


def examples() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", README.read_text(), re.S | re.M)


def chain(node: ast.expr) -> list[str] | None:
    """``client.events.list`` as ``["client", "events", "list"]``; None for anything else."""
    names: list[str] = []
    while isinstance(node, ast.Attribute):
        names.insert(0, node.attr)
        node = node.value
    return [node.id, *names] if isinstance(node, ast.Name) else None


def calls(tree: ast.AST) -> Iterator[tuple[list[str], ast.Call]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and (names := chain(node.func)):
            yield names, node


def signature_of(target: Callable[..., Any], names: list[str]) -> inspect.Signature:
    if names[-1] == "emitter":  # its options go on to the Emitter
        return inspect.signature(Emitter).replace(parameters=[
            p for p in inspect.signature(Emitter).parameters.values()
            if p.name != "transport"])
    return inspect.signature(target)


def test_every_example_is_python_naming_what_the_client_has() -> None:
    client = Auditrail("http://127.0.0.1:1", api_key="ak_readme")  # nothing is sent
    roots: dict[str, Any] = {"client": client}
    checked = 0
    for example in examples():
        tree = ast.parse(example)  # a syntax error fails here
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "auditrail_client":
                for alias in node.names:
                    assert hasattr(auditrail_client, alias.name), alias.name
                    roots[alias.asname or alias.name] = getattr(auditrail_client, alias.name)
        for names, call in calls(tree):
            if names[0] not in roots:
                continue  # an object the example made (an emitter, a report, a Flask app)
            target: Any = roots[names[0]]
            for position, name in enumerate(names[1:], 1):
                assert hasattr(target, name), ".".join(names[:position + 1])
                target = getattr(target, name)
            if any(isinstance(arg, ast.Starred) for arg in call.args) or any(
                    kw.arg is None for kw in call.keywords):
                continue  # *args or **options: what they hold is not written out
            arguments = [None] * len(call.args)
            keywords = {kw.arg: None for kw in call.keywords}
            try:
                signature_of(target, names).bind(*arguments, **keywords)
            except TypeError as exc:
                pytest.fail(f"{'.'.join(names)}({', '.join(keywords)}): {exc}")
            checked += 1
    client.close()
    assert checked >= 40  # most of what the README shows is a call on the client


def test_a_renamed_method_or_keyword_is_caught() -> None:
    client = Auditrail("http://127.0.0.1:1", api_key="ak_readme")
    [(names, call)] = list(calls(ast.parse("client.events.list(actions='user.*')")))
    target = client.events.list
    with pytest.raises(TypeError, match="actions"):
        signature_of(target, names).bind(**{kw.arg: None for kw in call.keywords})
    [(names, call)] = list(calls(ast.parse("client.emitter(max_batches=10)")))
    with pytest.raises(TypeError, match="max_batches"):
        signature_of(client.emitter, names).bind(max_batches=None)
    client.close()
