"""Outgoing HTTP: log-stream deliveries (and alert notifications), guarded and signed."""
