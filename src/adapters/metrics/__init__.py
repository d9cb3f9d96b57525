"""Prometheus counters behind the application's ``Metrics`` port."""
