"""Blueprints, one module per endpoint group."""
