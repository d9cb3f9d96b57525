"""Authentication (Bearer API key, then IP allowlist) and per-view scope checks."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import g, request

from application.errors import Unauthenticated
from application.principal import Principal
from application.use_cases.authenticate import Authenticate

View = TypeVar("View", bound=Callable[..., Any])


def bearer_secret() -> str:
    """The key from ``Authorization: Bearer …``; any other scheme is unauthenticated."""
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise Unauthenticated()
    return secret.strip()


def authenticate_request(authenticate: Authenticate) -> Principal:
    principal = authenticate.execute(bearer_secret(), request.remote_addr or "")
    g.principal = principal
    g.workspace_id = principal.workspace_id
    return principal


def requires(scope: str) -> Callable[[View], View]:
    """Refuse the view with 403 ``insufficient_scope`` unless the key holds ``scope``."""
    def decorate(view: View) -> View:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            principal().require(scope)
            return view(*args, **kwargs)
        guarded.required_scope = scope  # type: ignore[attr-defined]
        return guarded  # type: ignore[return-value]
    return decorate


def principal() -> Principal:
    return g.principal
