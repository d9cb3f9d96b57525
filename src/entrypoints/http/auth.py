"""Authentication (Bearer API key, then IP allowlist) and per-view scope checks."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import g, request

from application.principal import Principal
from application.use_cases.admit_request import AdmitRequest
from domain.activity import Actor
from domain.rate_limit import Decision

View = TypeVar("View", bound=Callable[..., Any])


def bearer_secret() -> str:
    """The key from ``Authorization: Bearer …``; empty (so: unauthenticated) otherwise."""
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    return secret.strip() if scheme.lower() == "bearer" else ""


def admit_request(admit: AdmitRequest) -> Principal:
    """Authenticate and rate-limit; the decision is kept for the response headers."""
    admission = admit.execute(bearer_secret(), request.remote_addr or "")
    state = g._get_current_object()  # one context lookup
    state.principal = admission.principal
    state.workspace_id = admission.principal.workspace_id
    state.rate_limit = admission.rate_limit
    return admission.principal


def rate_limit_headers(decision: Decision) -> dict[str, str]:
    return {"X-RateLimit-Limit": str(decision.limit),
            "X-RateLimit-Remaining": str(decision.remaining),
            "X-RateLimit-Reset": str(decision.reset_header)}


def requires(scope: str, viewer: bool = False) -> Callable[[View], View]:
    """Refuse the view with 403 ``insufficient_scope`` unless the key holds ``scope``, or,
    with ``viewer``, is a viewer link's (which then reads only within its filters)."""
    def decorate(view: View) -> View:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            principal().require(scope, viewer)
            return view(*args, **kwargs)
        return guarded  # type: ignore[return-value]
    return decorate


def principal() -> Principal:
    return g.principal


def actor() -> Actor:
    """The caller, as the workspace's record of a change it makes names it (domain.activity):
    its key or viewer link, its address (after trusted proxies) and its user agent."""
    return principal().actor(request.remote_addr, request.user_agent.string)
