"""schemathesis against the live app: no 5xx, every response as documented, every error
in the one error shape. Bounded: a fixed seed and a fixed number of cases per operation."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

import pytest
import schemathesis
import schemathesis.checks as checks
from hypothesis import HealthCheck, settings

from entrypoints.http.app import WIRED_MODULES
from tests.integration.stacks import embedded_stack

CASES_PER_OPERATION = 100
"""Generating a case, not answering it, is most of its cost (some 15 ms): at 200 a case
this module took 2.4 minutes, a fifth of the suite; 100 halves that. The seed is fixed, so
every run tries the same cases."""

_data_dir = Path(tempfile.mkdtemp(prefix="auditrail-fuzz-"))
_stack = embedded_stack(_data_dir)
_workspace, _secret = _stack.new_workspace("fuzz")
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", _stack.app)


@atexit.register
def _close_stack() -> None:
    """At exit rather than in a module fixture: a run that collects this module but
    selects none of its tests (``-k``, ``--collect-only``) never runs the fixture's
    teardown, and left the data folder in /tmp."""
    _stack.close()
    shutil.rmtree(_data_dir, ignore_errors=True)


@pytest.fixture(scope="module", autouse=True)
def _wired_to_this_stack() -> None:
    """Views find their use cases through dependency-injector's wiring, which follows the
    container wired last: the stack built at import has been replaced by every stack the
    tests before these built since."""
    _stack.container.wire(modules=WIRED_MODULES)


@schema.parametrize()
@settings(max_examples=CASES_PER_OPERATION, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_document(case: schemathesis.Case) -> None:
    response = case.call(headers={"Authorization": f"Bearer {_secret}"})
    assert response.status_code < 500, response.text
    case.validate_response(response, checks=[
        checks.not_a_server_error, checks.status_code_conformance,
        checks.content_type_conformance, checks.response_schema_conformance,
        checks.response_headers_conformance])
    if response.status_code >= 400:
        error = response.json()["error"]
        assert set(error) <= {"code", "message", "details", "request_id"}
        assert error["code"] and error["message"] and error["request_id"]
