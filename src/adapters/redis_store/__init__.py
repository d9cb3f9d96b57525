"""Redis-backed shared state: the rate limiter of the production profile."""
